"""W3C Data Integrity proofs over JSON-LD credentials: `eddsa-rdfc-2022` (Ed25519) and `ecdsa-rdfc-2019`
(P-256) to create and verify, `Ed25519Signature2020` to verify only; proof sets and `previousProof` chains.

The pipeline (vc-di-eddsa / vc-di-ecdsa, "Create Proof"): canonicalize the proof configuration and the
document with RDFC-1.0 (`ec_issuer.jsonld`, in safe mode), hash each with SHA-256, sign
`hash(proof configuration) || hash(document)` through the `KeyCustody` port, and encode the signature as
multibase base58btc. Not yet wired into issuing or the HTTP API.
"""

"""OpenID for Verifiable Credential Issuance 1.0: offers, the pre-authorized code flow and the credential endpoint."""

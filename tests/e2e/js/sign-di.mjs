// Test helper: signs credentials with a fresh key and a Data Integrity proof (DataIntegrityProof,
// ecdsa-rdfc-2019 with P-256 or eddsa-rdfc-2022 with Ed25519), using the Digital Bazaar stack offline, so the
// tests of verify-di.mjs have credentials of their own to verify and tamper with.
//
// Input on stdin: {"cryptosuite": "ecdsa-rdfc-2019" | "eddsa-rdfc-2022", "credentials": [unsigned, ...],
//                  "controller": optional did:web DID, "methodType": "Multikey" (default) | "JsonWebKey2020"}
// The issuer of every credential is set to the controller: a did:key (zDn… for P-256, z6Mk… for Ed25519)
// when no controller is given, else the given DID, whose DID document is then part of the output.
// Output on stdout: {"credentials": [signed, ...], "verificationMethod": id, "documents": {DID: document}}.
import * as vc from "@digitalbazaar/vc";
import { DataIntegrityProof } from "@digitalbazaar/data-integrity";
import { cryptosuite as ecdsaRdfc2019 } from "@digitalbazaar/ecdsa-rdfc-2019-cryptosuite";
import { cryptosuite as eddsaRdfc2022 } from "@digitalbazaar/eddsa-rdfc-2022-cryptosuite";
import * as EcdsaMultikey from "@digitalbazaar/ecdsa-multikey";
import * as Ed25519Multikey from "@digitalbazaar/ed25519-multikey";

import { makeDocumentLoader } from "./di-document-loader.mjs";

const SUITES = {
  "ecdsa-rdfc-2019": {
    cryptosuite: ecdsaRdfc2019,
    keys: EcdsaMultikey,
    generate: () => EcdsaMultikey.generate({ curve: "P-256" }),
  },
  "eddsa-rdfc-2022": {
    cryptosuite: eddsaRdfc2022,
    keys: Ed25519Multikey,
    generate: () => Ed25519Multikey.generate(),
  },
};

/** The public JWK as a DID document publishes it: no WebCrypto extras (`ext`, `key_ops`). */
function publicJwk({ kty, crv, x, y }) {
  return y === undefined ? { kty, crv, x } : { kty, crv, x, y };
}

const chunks = [];
for await (const chunk of process.stdin) chunks.push(chunk);
const request = JSON.parse(Buffer.concat(chunks).toString("utf8"));
const suite = SUITES[request.cryptosuite];
if (!suite) throw new Error(`unknown cryptosuite ${request.cryptosuite}`);

const key = await suite.generate();
const { publicKeyMultibase } = await key.export({ publicKey: true });
const documents = {};
if (request.controller) {
  key.controller = request.controller;
  key.id = `${request.controller}#key-1`;
  const method =
    request.methodType === "JsonWebKey2020"
      ? {
          id: key.id,
          type: "JsonWebKey2020",
          controller: key.controller,
          publicKeyJwk: publicJwk(await suite.keys.toJwk({ keyPair: key })),
        }
      : { ...(await key.export({ publicKey: true, includeContext: false })), id: key.id, controller: key.controller };
  documents[request.controller] = {
    "@context": [
      "https://www.w3.org/ns/did/v1",
      request.methodType === "JsonWebKey2020"
        ? "https://w3id.org/security/suites/jws-2020/v1"
        : "https://w3id.org/security/multikey/v1",
    ],
    id: request.controller,
    verificationMethod: [method],
    assertionMethod: [key.id],
  };
} else {
  key.controller = `did:key:${publicKeyMultibase}`;
  key.id = `${key.controller}#${publicKeyMultibase}`;
}

const documentLoader = makeDocumentLoader(documents);
const credentials = [];
for (const unsigned of request.credentials) {
  const credential = { ...unsigned, issuer: key.controller };
  const proof = new DataIntegrityProof({ signer: key.signer(), cryptosuite: suite.cryptosuite });
  credentials.push(await vc.issue({ credential, suite: proof, documentLoader }));
}
console.log(JSON.stringify({ credentials, verificationMethod: key.id, documents }));

// Independent check of Data Integrity proofs (DataIntegrityProof with eddsa-rdfc-2022 or ecdsa-rdfc-2019)
// with the Digital Bazaar stack, fully offline (see di-document-loader.mjs for what is served).
//
// Usage: node verify-di.mjs [--documents FILE] [--proof-only] [--now ISO-DATETIME] < input.json
//        node verify-di.mjs --list-contexts
// Input on stdin: a JSON array of credentials, or {"credentials": [...], "documents": {URL: document},
// "proofOnly": bool, "now": "..."}. `documents` are served to the verifier as given (for a did:web issuer:
// {"did:web:...": its DID document}); --documents FILE adds (and overrides with) a map read from a file.
// Output: one JSON line per credential, in order: {"ok": true, "errors": []} or {"ok": false, "errors": [...]}.
//
// By default a credential is checked as a Verifiable Credential (@digitalbazaar/vc verifyCredential: the
// proof, the issuer being the verification method's controller, the validity period). --proof-only checks
// only the proof, for the assertionMethod purpose (jsonld-signatures verify), e.g. for the W3C test vectors
// whose issuer is not the key's controller. A credentialStatus (BitstringStatusListEntry) is checked with
// @digitalbazaar/vc-bitstring-status-list: its list credential must be among `documents` (keyed by its URL),
// is verified like any credential, and a set bit makes the answer {"ok": false, "errors": ["status: …"]}.
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";

import { DataIntegrityProof } from "@digitalbazaar/data-integrity";
import { cryptosuite as ecdsaRdfc2019 } from "@digitalbazaar/ecdsa-rdfc-2019-cryptosuite";
import { cryptosuite as eddsaRdfc2022 } from "@digitalbazaar/eddsa-rdfc-2022-cryptosuite";
import * as vc from "@digitalbazaar/vc";
import { checkStatus } from "@digitalbazaar/vc-bitstring-status-list";
import jsigs from "jsonld-signatures";

import { CONTEXTS, makeDocumentLoader } from "./di-document-loader.mjs";

const { AssertionProofPurpose } = jsigs.purposes;

function suites() {
  return [
    new DataIntegrityProof({ cryptosuite: eddsaRdfc2022 }),
    new DataIntegrityProof({ cryptosuite: ecdsaRdfc2019 }),
  ];
}

/** Every distinct message in a (possibly nested) verification error or result. */
function messagesOf(result) {
  const messages = [];
  const seen = new Set();
  const visit = (error) => {
    if (!error || seen.has(error)) return;
    seen.add(error);
    const nested = Array.isArray(error.errors) ? error.errors : [];
    // a VerificationError only wraps its `errors`; report the wrapped ones
    if (!(error.name === "VerificationError" && nested.length > 0)) {
      const message = error.message ?? String(error);
      if (!messages.includes(message)) messages.push(message);
    }
    nested.forEach(visit);
    if (error.cause) visit(error.cause);
    if (error.details?.cause) visit(error.details.cause); // jsonld wraps the document loader's error
  };
  visit(result.error);
  for (const item of result.results ?? []) visit(item.error);
  for (const item of result.results ?? []) visit(item.purposeResult?.error);
  return messages;
}

async function verifyOne(credential, { documentLoader, proofOnly, now }) {
  if (typeof credential !== "object" || credential === null || Array.isArray(credential)) {
    return { ok: false, errors: ["a credential must be a JSON object"] };
  }
  try {
    const statuses = [];
    const recordingCheckStatus = async (options) => {
      const answer = await checkStatus(options);
      statuses.push(...(answer.results ?? []));
      return answer;
    };
    const result = proofOnly
      ? await jsigs.verify(credential, { suite: suites(), purpose: new AssertionProofPurpose(), documentLoader })
      : await vc.verifyCredential({ credential, suite: suites(), documentLoader, now, checkStatus: recordingCheckStatus });
    const set = statuses.filter((item) => item.status === true);
    if (result.verified === true && set.length > 0) {
      return { ok: false, errors: set.map((item) => `status: the ${item.credentialStatus.statusPurpose} bit is set`) };
    }
    if (result.verified === true) return { ok: true, errors: [] };
    const errors = messagesOf(result);
    return { ok: false, errors: errors.length > 0 ? errors : ["not verified (no reason given)"] };
  } catch (error) {
    return { ok: false, errors: messagesOf({ error }) };
  }
}

async function readStdin() {
  const chunks = [];
  for await (const chunk of process.stdin) chunks.push(chunk);
  return Buffer.concat(chunks).toString("utf8");
}

const { values: options } = parseArgs({
  options: {
    documents: { type: "string" },
    "proof-only": { type: "boolean", default: false },
    now: { type: "string" },
    "list-contexts": { type: "boolean", default: false },
  },
});

if (options["list-contexts"]) {
  const listing = Object.fromEntries([...CONTEXTS].map(([url, { source }]) => [url, source]));
  console.log(JSON.stringify(listing));
} else {
  const input = JSON.parse(await readStdin());
  const envelope = Array.isArray(input) ? { credentials: input } : input;
  if (!Array.isArray(envelope.credentials)) throw new Error("stdin: expected an array of credentials");
  const documents = {
    ...(envelope.documents ?? {}),
    ...(options.documents ? JSON.parse(readFileSync(options.documents, "utf8")) : {}),
  };
  const settings = {
    documentLoader: makeDocumentLoader(documents),
    proofOnly: options["proof-only"] || envelope.proofOnly === true,
    now: options.now ?? envelope.now,
  };
  for (const credential of envelope.credentials) {
    console.log(JSON.stringify(await verifyOne(credential, settings)));
  }
}

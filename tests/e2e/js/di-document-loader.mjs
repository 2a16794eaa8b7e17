// An offline JSON-LD document loader for the Data Integrity verifier (verify-di.mjs) and its test signer
// (sign-di.mjs). It serves, in this order:
//   1. JSON-LD contexts vendored by the project: src/ec_issuer/resources/contexts/, through its index.json
//      (context URL -> file name), read at start-up;
//   2. contexts bundled by the npm packages, taken from their own exported context maps
//      (@digitalbazaar/data-integrity-context, @digitalbazaar/multikey-context, and the security v1/v2
//      contexts of jsonld-signatures) for URLs the project does not vendor;
//   3. documents handed in by the caller (URL -> document; e.g. a did:web DID document keyed by its DID),
//      and verification methods found inside them (DID URL with a fragment);
//   4. did:key documents and verification methods, resolved locally, for did:key:z6Mk... (Ed25519) and
//      did:key:zDn... (P-256) only.
// Anything else is refused with an error that names the URL. Importing this module also disables network
// access for the whole process: nothing here may fetch a URL.
import { readFileSync } from "node:fs";
import net from "node:net";
import path from "node:path";
import { fileURLToPath } from "node:url";

import dataIntegrityContext from "@digitalbazaar/data-integrity-context";
import { driver as didKeyDriver } from "@digitalbazaar/did-method-key";
import * as EcdsaMultikey from "@digitalbazaar/ecdsa-multikey";
import * as Ed25519Multikey from "@digitalbazaar/ed25519-multikey";
import multikeyContext from "@digitalbazaar/multikey-context";
import jsigs from "jsonld-signatures";

// ------------------------------------------------------------------------------------------ no network

function networkRefused() {
  throw new Error("network access is disabled in the Data Integrity verifier");
}
net.Socket.prototype.connect = networkRefused; // every TCP/TLS client (http, https, undici) goes through here
globalThis.fetch = async () => networkRefused();

// ------------------------------------------------------------------------------------------ contexts

const HERE = path.dirname(fileURLToPath(import.meta.url));
export const PROJECT_CONTEXTS_DIR = path.resolve(HERE, "../../../src/ec_issuer/resources/contexts");

function projectContexts() {
  const index = JSON.parse(readFileSync(path.join(PROJECT_CONTEXTS_DIR, "index.json"), "utf8"));
  const contexts = new Map();
  for (const [url, file] of Object.entries(index)) {
    contexts.set(url, JSON.parse(readFileSync(path.join(PROJECT_CONTEXTS_DIR, file), "utf8")));
  }
  return contexts;
}

function jsonldSignaturesContexts() {
  // jsonld-signatures exports its bundled security contexts only through `extendContextLoader`.
  const contexts = new Map();
  const loader = jsigs.extendContextLoader(async () => undefined);
  return Promise.all(
    [jsigs.SECURITY_CONTEXT_V1_URL, jsigs.SECURITY_CONTEXT_V2_URL].map(async (url) => {
      const result = await loader(url);
      if (result?.document) contexts.set(url, result.document);
    }),
  ).then(() => contexts);
}

/** Every context served, URL -> {source, document}; the project's copy wins over a package's. */
export const CONTEXTS = new Map();
const sources = [
  ["project:src/ec_issuer/resources/contexts", projectContexts()],
  ["npm:@digitalbazaar/data-integrity-context", dataIntegrityContext.contexts],
  ["npm:@digitalbazaar/multikey-context", multikeyContext.contexts],
  ["npm:jsonld-signatures", await jsonldSignaturesContexts()],
];
for (const [source, contexts] of sources) {
  for (const [url, document] of contexts) {
    if (!CONTEXTS.has(url)) CONTEXTS.set(url, { source, document });
  }
}

// ------------------------------------------------------------------------------------------ did:key

const didKey = didKeyDriver();
didKey.use({ multibaseMultikeyHeader: "z6Mk", fromMultibase: Ed25519Multikey.from });

async function resolveDidKey(url) {
  const [did, fragment] = url.split("#");
  const key = did.slice("did:key:".length);
  if (key.startsWith("zDn")) {
    // the P-256 (0x1200) multikey header; register the exact 4-character prefix did-method-key looks up
    didKey.use({ multibaseMultikeyHeader: key.slice(0, 4), fromMultibase: EcdsaMultikey.from });
  } else if (!key.startsWith("z6Mk")) {
    throw new Error(`unsupported did:key (only z6Mk… Ed25519 and zDn… P-256 are resolved): ${url}`);
  }
  if (fragment !== undefined && fragment !== key) {
    throw new Error(`no such verification method in the did:key document: ${url}`);
  }
  return didKey.get({ url });
}

// ------------------------------------------------------------------------------------------ caller's documents

const RELATIONSHIPS = [
  "verificationMethod",
  "assertionMethod",
  "authentication",
  "capabilityInvocation",
  "capabilityDelegation",
  "keyAgreement",
];

function methodInDocument(document, url) {
  const [base, fragment] = url.split("#");
  for (const relationship of RELATIONSHIPS) {
    for (const method of [document[relationship] ?? []].flat()) {
      if (typeof method !== "object" || method === null) continue;
      const id = typeof method.id === "string" && method.id.startsWith("#") ? base + method.id : method.id;
      if (id === url || (fragment !== undefined && method.id === `#${fragment}`)) {
        return { "@context": document["@context"], ...method, id, controller: method.controller ?? document.id };
      }
    }
  }
  return undefined;
}

// ------------------------------------------------------------------------------------------ the loader

/**
 * @param {Record<string, object>} [documents] - caller-supplied documents, URL -> JSON document
 * @returns {(url: string) => Promise<{contextUrl: null, documentUrl: string, document: object}>}
 */
export function makeDocumentLoader(documents = {}) {
  const given = new Map(Object.entries(documents));
  return async function documentLoader(url) {
    const answer = (document) => ({ contextUrl: null, documentUrl: url, document: structuredClone(document) });
    if (typeof url !== "string") throw new Error(`refusing to load a non-string URL: ${JSON.stringify(url)}`);
    if (CONTEXTS.has(url)) return answer(CONTEXTS.get(url).document);
    if (given.has(url)) return answer(given.get(url));
    const base = url.split("#")[0];
    if (url.includes("#") && given.has(base)) {
      const method = methodInDocument(given.get(base), url);
      if (method) return answer(method);
      throw new Error(`no verification method ${url} in the document given for ${base}`);
    }
    if (url.startsWith("did:key:")) return answer(await resolveDidKey(url));
    throw new Error(
      `refusing to load ${url}: not a vendored or bundled context, not a did:key, ` +
        "and not among the documents given to the verifier (no network access)",
    );
  };
}

// A wallet for the tests: OpenID for Verifiable Credential Issuance 1.0, pre-authorized code flow, driven by the
// wallet library @openid4vc/openid4vci (the one inside Credo and the Paradym wallet), with fresh holder keys from
// jose. Reads ONE JSON request on stdin, prints ONE JSON answer on stdout. On failure it prints
// {"error": "<message>", "details": {...}} on stdout instead and exits with status 1. Nothing else goes to stdout
// (console output is sent to stderr).
//
// Request:
//   {"offer": "openid-credential-offer://?credential_offer_uri=…" | "openid-credential-offer://?credential_offer=…",
//    "txCode": "<tx_code>"?,                       sent with the token request when given
//    "binding": "jwk" | "did:jwk" | "did:key",     how each proof names its key (default "did:jwk")
//    "alg": "ES256" | "EdDSA",                     default "ES256"
//    "batch": <n>?,                                proofs (one fresh key each) in the one credential request (1)
//    "configurationId": "<id>"?,                   default: the offer's first credential_configuration_ids entry
//    "notify": "credential_accepted" | "credential_failure" | "credential_deleted"?,
//    "requestTwice": true?,                        a second credential request, same access token, fresh nonce
//    "authorizationCode": {"clientId", "redirectUri"}?, the authorization code flow (PAR + PKCE) instead of
//                                                   the pre-authorized code; answer.authorization tells how
//    "release": {"url", "authorization"}?}          for a deferred credential (202 + transaction_id): ask the
//                                                   deferred endpoint once, POST to url (the operator's release,
//                                                   with that Authorization header), then ask again
//
// Answer:
//   {"credentialIssuer", "configurationId", "format", "metadataVersion" ("V1", "Draft15", ...),
//    "display": <the configuration's credential_metadata.display as the library read it, or null>,
//    "credentialOffer": <the resolved offer object>,
//    "credentials": [<credential>, ...]  (strings for jwt_vc_json, objects for ldp_vc, as the issuer sent them),
//    "notificationId": <string|null>, "notificationSent": <bool>,
//    "holders": [{"did", "didUrl", "jwk"}, ...]  one per key, in the order of the proofs; for the "jwk"
//        binding "did" is the did:jwk of the sent JWK (members sorted: crv, kty, x[, y]), "didUrl" is null,
//    "accessToken", "tokenResponse", "nonce", "proofJwts": [...],
//    "secondCredentials": [...] | null, "secondError": {...} | null  (only with requestTwice; a rejected second
//        request is reported here, not as a failure of the whole run),
//    "http": [{"method", "url", "status"}, ...]  every HTTP exchange, in order}

import { createHash, randomBytes } from "node:crypto";

import { HashAlgorithm, clientAuthenticationAnonymous } from "@openid4vc/oauth2";
import { Openid4vciClient, setGlobalConfig } from "@openid4vc/openid4vci";
import { CompactSign, exportJWK, generateKeyPair } from "jose";

// Whatever a library might log must not corrupt the one JSON answer.
for (const level of ["log", "info", "debug", "warn"]) {
  console[level] = (...args) => console.error(...args);
}

// The issuer under test listens on http://127.0.0.1:<port>.
setGlobalConfig({ allowInsecureUrls: true });

const BINDINGS = ["jwk", "did:jwk", "did:key"];
const ALGORITHMS = ["ES256", "EdDSA"];
const NOTIFICATION_EVENTS = ["credential_accepted", "credential_failure", "credential_deleted"];
const NODE_HASHES = {
  [HashAlgorithm.Sha256]: "sha256",
  [HashAlgorithm.Sha384]: "sha384",
  [HashAlgorithm.Sha512]: "sha512",
};

class WalletError extends Error {
  constructor(message, details) {
    super(message);
    this.details = details;
  }
}

async function readStdin() {
  const chunks = [];
  for await (const chunk of process.stdin) {
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString("utf8");
}

// --- request ------------------------------------------------------------------------------------------------

function parseRequest(text) {
  let request;
  try {
    request = JSON.parse(text);
  } catch (error) {
    throw new WalletError(`the request is not JSON: ${error.message}`);
  }
  if (request === null || typeof request !== "object" || Array.isArray(request)) {
    throw new WalletError("the request must be a JSON object");
  }
  const { offer, txCode, configurationId, notify } = request;
  const binding = request.binding ?? "did:jwk";
  const alg = request.alg ?? "ES256";
  const batch = request.batch ?? 1;
  if (typeof offer !== "string" || offer.length === 0) {
    throw new WalletError(`"offer" must be a non-empty string`);
  }
  if (txCode !== undefined && typeof txCode !== "string") {
    throw new WalletError(`"txCode" must be a string`);
  }
  if (!BINDINGS.includes(binding)) {
    throw new WalletError(`"binding" must be one of ${BINDINGS.join(", ")}`);
  }
  if (!ALGORITHMS.includes(alg)) {
    throw new WalletError(`"alg" must be one of ${ALGORITHMS.join(", ")}`);
  }
  if (!Number.isInteger(batch) || batch < 1) {
    throw new WalletError(`"batch" must be a positive integer`);
  }
  if (configurationId !== undefined && (typeof configurationId !== "string" || configurationId.length === 0)) {
    throw new WalletError(`"configurationId" must be a non-empty string`);
  }
  if (notify !== undefined && !NOTIFICATION_EVENTS.includes(notify)) {
    throw new WalletError(`"notify" must be one of ${NOTIFICATION_EVENTS.join(", ")}`);
  }
  const authorizationCode = request.authorizationCode;
  if (
    authorizationCode !== undefined &&
    (typeof authorizationCode?.clientId !== "string" || typeof authorizationCode?.redirectUri !== "string")
  ) {
    throw new WalletError(`"authorizationCode" must be {"clientId", "redirectUri"}`);
  }
  const release = request.release;
  if (release !== undefined && (typeof release?.url !== "string" || typeof release?.authorization !== "string")) {
    throw new WalletError(`"release" must be {"url", "authorization"}`);
  }
  return {
    offer,
    txCode,
    binding,
    alg,
    batch,
    configurationId,
    notify,
    release,
    authorizationCode,
    requestTwice: request.requestTwice === true,
  };
}

// --- holder keys ----------------------------------------------------------------------------------------------

function base64url(bytes) {
  return Buffer.from(bytes).toString("base64url");
}

const BASE58_ALPHABET = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";

function base58btc(bytes) {
  let value = 0n;
  for (const byte of bytes) {
    value = value * 256n + BigInt(byte);
  }
  let encoded = "";
  while (value > 0n) {
    encoded = BASE58_ALPHABET[Number(value % 58n)] + encoded;
    value /= 58n;
  }
  for (const byte of bytes) {
    if (byte !== 0) break;
    encoded = "1" + encoded;
  }
  return encoded;
}

// The multibase (base58btc, "z") multicodec key of a did:key: P-256 as a compressed point after the varint of
// 0x1200 (0x80 0x24) -> "zDn...", Ed25519 after the varint of 0xed (0xed 0x01) -> "z6Mk...".
function didKeyMultibase(publicJwk) {
  const x = Buffer.from(publicJwk.x, "base64url");
  if (publicJwk.kty === "EC" && publicJwk.crv === "P-256") {
    const y = Buffer.from(publicJwk.y, "base64url");
    const compressed = Buffer.concat([Buffer.from([y[y.length - 1] & 1 ? 0x03 : 0x02]), x]);
    return "z" + base58btc(Buffer.concat([Buffer.from([0x80, 0x24]), compressed]));
  }
  if (publicJwk.kty === "OKP" && publicJwk.crv === "Ed25519") {
    return "z" + base58btc(Buffer.concat([Buffer.from([0xed, 0x01]), x]));
  }
  throw new WalletError(`no did:key encoding for a ${publicJwk.kty}/${publicJwk.crv} key`);
}

// The public members only, in sorted order (crv, kty, x[, y]): the JSON an issuer canonicalising with sorted keys
// derives the did:jwk of a bare `jwk` from, so `did:jwk:` + base64url(JSON.stringify(jwk)) is the same string.
function publicMembers(jwk) {
  const members = jwk.kty === "EC" ? ["crv", "kty", "x", "y"] : ["crv", "kty", "x"];
  return Object.fromEntries(members.map((name) => [name, jwk[name]]));
}

async function newHolder(binding, alg) {
  const { privateKey, publicKey } =
    alg === "EdDSA" ? await generateKeyPair("EdDSA", { crv: "Ed25519" }) : await generateKeyPair("ES256");
  const publicJwk = publicMembers(await exportJWK(publicKey));
  const didJwk = `did:jwk:${base64url(JSON.stringify(publicJwk))}`;
  if (binding === "jwk") {
    return { privateKey, publicJwk, did: didJwk, didUrl: null, signer: { method: "jwk", alg, publicJwk } };
  }
  if (binding === "did:jwk") {
    const didUrl = `${didJwk}#0`;
    return { privateKey, publicJwk, did: didJwk, didUrl, signer: { method: "did", alg, didUrl } };
  }
  const multibase = didKeyMultibase(publicJwk);
  const did = `did:key:${multibase}`;
  const didUrl = `${did}#${multibase}`;
  return { privateKey, publicJwk, did, didUrl, signer: { method: "did", alg, didUrl } };
}

// The library's signJwt callback gets the signer it was given and the header/payload it built; find the holder
// whose key that signer names and sign with it.
function signerKey(signer) {
  if (signer.method === "did") return `did ${signer.didUrl}`;
  if (signer.method === "jwk") return `jwk ${JSON.stringify(signer.publicJwk)}`;
  throw new WalletError(`the wallet cannot sign for a '${signer.method}' signer`);
}

// --- library callbacks ----------------------------------------------------------------------------------------

function makeCallbacks(holdersBySigner, http) {
  return {
    fetch: async (input, init) => {
      const method = init?.method ?? "GET";
      const url = String(input);
      try {
        const response = await fetch(input, init);
        http.push({ method, url, status: response.status });
        return response;
      } catch (error) {
        http.push({ method, url, status: null, error: String(error?.cause ?? error) });
        throw error;
      }
    },
    generateRandom: (byteLength) => new Uint8Array(randomBytes(byteLength)),
    hash: (data, alg) => {
      const name = NODE_HASHES[alg];
      if (name === undefined) throw new WalletError(`unsupported hash algorithm ${alg}`);
      return new Uint8Array(createHash(name).update(data).digest());
    },
    signJwt: async (signer, { header, payload }) => {
      const holder = holdersBySigner.get(signerKey(signer));
      if (holder === undefined) throw new WalletError(`no holder key for signer ${signerKey(signer)}`);
      const jwt = await new CompactSign(new TextEncoder().encode(JSON.stringify(payload)))
        .setProtectedHeader(header)
        .sign(holder.privateKey);
      return { jwt, signerJwk: holder.publicJwk };
    },
    clientAuthentication: clientAuthenticationAnonymous(),
  };
}

// --- flow -----------------------------------------------------------------------------------------------------

function credentialValues(credentialResponse) {
  if (Array.isArray(credentialResponse.credentials)) {
    // OID4VCI 1.0: [{"credential": ...}, ...]; earlier drafts: [<credential>, ...]
    return credentialResponse.credentials.map((entry) =>
      entry !== null && typeof entry === "object" && "credential" in entry ? entry.credential : entry,
    );
  }
  return credentialResponse.credential === undefined ? [] : [credentialResponse.credential];
}

async function proofsFor(client, issuerMetadata, configurationId, holders, nonce) {
  const jwts = [];
  for (const holder of holders) {
    const { jwt } = await client.createCredentialRequestJwtProof({
      issuerMetadata,
      credentialConfigurationId: configurationId,
      signer: holder.signer,
      nonce,
    });
    jwts.push(jwt);
  }
  return jwts;
}

async function step(name, action) {
  try {
    return await action();
  } catch (error) {
    if (error instanceof WalletError) throw error;
    throw new WalletError(`${name}: ${error?.message ?? error}`, await describeError(name, error));
  }
}

async function responseBody(response) {
  if (!response) return null;
  const text = await response
    .clone()
    .text()
    .catch(() => null);
  if (text === null) return null;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

async function describeError(stepName, error) {
  const details = { step: stepName, name: error?.constructor?.name ?? typeof error };
  // The library's errors carry the HTTP response (or a wrapper holding it) and a parsed error body.
  const response = error?.response?.response ?? error?.response;
  if (response && typeof response.status === "number") {
    details.status = response.status;
    details.contentType = response.headers.get("Content-Type");
    details.wwwAuthenticate = response.headers.get("WWW-Authenticate");
    details.body = await responseBody(response);
  }
  if (error?.errorResponse) details.errorResponse = error.errorResponse;
  // What the library's zod schemas rejected: a ValidationError (metadata, offer, token or nonce response), or a
  // 2xx credential response that did not parse as one.
  const zodError = error?.zodError ?? error?.response?.credentialResponseResult?.error;
  if (zodError?.issues) details.issues = zodError.issues;
  if (error?.textResponse !== undefined && details.body === undefined) details.body = error.textResponse;
  // A failed fetch: FetchError -> TypeError("fetch failed") -> the system error (ECONNREFUSED, ...).
  const causes = [];
  for (let cause = error?.cause; cause && causes.length < 4; cause = cause.cause) {
    causes.push(String(cause.code ?? "") + (cause.code ? ": " : "") + String(cause.message ?? cause));
  }
  if (causes.length > 0) details.cause = causes.join(" <- ");
  return details;
}

async function run(request) {
  const http = [];
  const holders = [];
  for (let index = 0; index < request.batch; index++) {
    holders.push(await newHolder(request.binding, request.alg));
  }
  const holdersBySigner = new Map(holders.map((holder) => [signerKey(holder.signer), holder]));
  const client = new Openid4vciClient({ callbacks: makeCallbacks(holdersBySigner, http) });

  try {
    return await flow(client, request, holders, http);
  } catch (error) {
    if (error instanceof WalletError) {
      error.details = { ...(error.details ?? {}), http };
    }
    throw error;
  }
}

async function flow(client, request, holders, http) {
  const credentialOffer = await step("offer", () => client.resolveCredentialOffer(request.offer));
  const issuerMetadata = await step("metadata", () => client.resolveIssuerMetadata(credentialOffer.credential_issuer));
  const configurationId = request.configurationId ?? credentialOffer.credential_configuration_ids[0];
  if (configurationId === undefined) {
    throw new WalletError("the offer has no credential_configuration_ids", { step: "offer", credentialOffer });
  }
  const configuration = issuerMetadata.credentialIssuer.credential_configurations_supported[configurationId];

  let authorization = null;
  let accessTokenResponse;
  if (request.authorizationCode !== undefined) {
    // Authorization code flow: PAR + PKCE through the library, then the browser's part (following the
    // authorization URL to the redirect) done by hand, then the code for a token.
    const { clientId, redirectUri } = request.authorizationCode;
    const started = await step("authorization", () =>
      client.initiateAuthorization({
        credentialOffer,
        issuerMetadata,
        clientId,
        redirectUri,
        // No `state`: Openid4vciClient 0.4.6 does not forward one (PKCE protects the code instead).
        scope: configuration?.scope,
      }),
    );
    if (started.authorizationFlow !== "Oauth2Redirect") {
      throw new WalletError("expected the OAuth 2.0 redirect flow", { step: "authorization", started });
    }
    const redirected = await fetch(started.authorizationRequestUrl, { redirect: "manual" });
    http.push({ method: "GET", url: started.authorizationRequestUrl, status: redirected.status });
    const location = redirected.headers.get("location");
    if (redirected.status !== 302 || location === null) {
      throw new WalletError("the authorization endpoint did not redirect", {
        step: "authorization",
        status: redirected.status,
        body: await redirected.text(),
      });
    }
    const answer = new URL(location);
    authorization = {
      authorizationRequestUrl: started.authorizationRequestUrl,
      redirect: location,
      state: answer.searchParams.get("state"),
      iss: answer.searchParams.get("iss"),
      pkce: started.pkce?.codeChallengeMethod ?? null,
    };
    const code = answer.searchParams.get("code");
    if (code === null) {
      throw new WalletError("the redirect carries no code", { step: "authorization", location });
    }
    ({ accessTokenResponse } = await step("token", () =>
      client.retrieveAuthorizationCodeAccessTokenFromOffer({
        credentialOffer,
        issuerMetadata,
        authorizationCode: code,
        pkceCodeVerifier: started.pkce?.codeVerifier,
        redirectUri,
      }),
    ));
  } else {
    ({ accessTokenResponse } = await step("token", () =>
      client.retrievePreAuthorizedCodeAccessTokenFromOffer({
        credentialOffer,
        issuerMetadata,
        txCode: request.txCode,
      }),
    ));
  }
  const accessToken = accessTokenResponse.access_token;

  const { c_nonce: nonce } = await step("nonce", () => client.requestNonce({ issuerMetadata }));
  const proofJwts = await step("proof", () => proofsFor(client, issuerMetadata, configurationId, holders, nonce));
  const { credentialResponse } = await step("credential", () =>
    client.retrieveCredentials({
      issuerMetadata,
      accessToken,
      credentialConfigurationId: configurationId,
      proofs: { jwt: proofJwts },
    }),
  );
  let notificationId = credentialResponse.notification_id ?? null;
  let delivered = credentialResponse;
  let deferral = null;
  if (credentialResponse.transaction_id !== undefined) {
    // Deferred (OID4VCI 1.0 §9): ask once while the award waits, let the operator release it (the test's
    // stand-in for a person approving), then ask again with the same access token and transaction_id.
    const transactionId = credentialResponse.transaction_id;
    const pending = await step("deferred", () =>
      client.retrieveDeferredCredentials({ issuerMetadata, accessToken, transactionId }),
    );
    deferral = { transactionId, interval: credentialResponse.interval ?? null, pending: pending.deferredCredentialResponse };
    if (request.release !== undefined) {
      const released = await fetch(request.release.url, {
        method: "POST",
        headers: { Authorization: request.release.authorization },
      });
      deferral.releaseStatus = released.status;
      const ready = await step("deferred", () =>
        client.retrieveDeferredCredentials({ issuerMetadata, accessToken, transactionId }),
      );
      delivered = ready.deferredCredentialResponse;
      notificationId = delivered.notification_id ?? null;
    }
  }

  const answer = {
    credentialIssuer: issuerMetadata.credentialIssuer.credential_issuer,
    configurationId,
    format: configuration?.format ?? null,
    display: configuration?.credential_metadata?.display ?? null,
    metadataVersion: issuerMetadata.originalDraftVersion ?? null,
    credentialOffer,
    credentials: credentialValues(delivered),
    deferral,
    authorization,
    notificationId,
    notificationSent: false,
    holders: holders.map(({ did, didUrl, publicJwk }) => ({ did, didUrl, jwk: publicJwk })),
    accessToken,
    tokenResponse: accessTokenResponse,
    nonce,
    proofJwts,
  };

  if (request.requestTwice) {
    answer.secondCredentials = null;
    answer.secondError = null;
    try {
      const { c_nonce: secondNonce } = await step("second nonce", () => client.requestNonce({ issuerMetadata }));
      const secondProofs = await step("second proof", () =>
        proofsFor(client, issuerMetadata, configurationId, holders, secondNonce),
      );
      const second = await step("second credential", () =>
        client.retrieveCredentials({
          issuerMetadata,
          accessToken,
          credentialConfigurationId: configurationId,
          proofs: { jwt: secondProofs },
        }),
      );
      answer.secondCredentials = credentialValues(second.credentialResponse);
      answer.secondNotificationId = second.credentialResponse.notification_id ?? null;
    } catch (error) {
      if (!(error instanceof WalletError)) throw error;
      answer.secondError = { error: error.message, details: error.details ?? null };
    }
  }

  if (request.notify !== undefined && notificationId !== null) {
    await step("notification", () =>
      client.sendNotification({
        issuerMetadata,
        accessToken,
        notification: { notificationId, event: request.notify },
      }),
    );
    answer.notificationSent = true;
  }

  answer.http = http;
  return answer;
}

async function main() {
  let answer;
  try {
    answer = await run(parseRequest(await readStdin()));
  } catch (error) {
    const known = error instanceof WalletError;
    if (!known) process.stderr.write(`oid4vci-wallet: ${error?.stack ?? error}\n`);
    const details = known ? (error.details ?? null) : { step: "wallet", stack: String(error?.stack ?? error) };
    process.stdout.write(JSON.stringify({ error: String(error?.message ?? error), details }) + "\n");
    process.exitCode = 1;
    return;
  }
  process.stdout.write(JSON.stringify(answer) + "\n");
}

await main();

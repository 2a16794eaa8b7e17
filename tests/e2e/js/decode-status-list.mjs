// Independent status list decoders for the tests, offline: reads one JSON request on stdin, prints one JSON
// answer on stdout; any failure goes to stderr with a non-zero exit status.
//
//   {"kind": "bitstring", "encodedList": "u…", "indices": [..]}
//     W3C Bitstring Status List v1.0, decoded by @digitalbazaar/vc-bitstring-status-list (decodeList) ->
//     {"length": <entries>, "bits": {"<index>": true|false}, "setCount": <set bits in the whole list>}
//
//   {"kind": "token", "lst": "<base64url>", "bits": 1|2|4|8, "indices": [..]}
//     IETF Token Status List, decoded by @sd-jwt/jwt-status-list (StatusList.decompressStatusList) ->
//     {"length": <entries>, "bitsPerStatus": <bits>, "values": {"<index>": <int>}, "nonZeroCount": <n>}
//
//   {"kind": "token-jwt", "jwt": "<compact JWS>", "indices": [..]}
//     A Status List Token, read by @sd-jwt/jwt-status-list (getListFromStatusListJWT; the signature is NOT
//     checked) -> the "token" answer plus "claims": {"sub", "iat", "ttl"} and "header": {"alg", "typ"}.

import { decodeList } from "@digitalbazaar/vc-bitstring-status-list";
import { StatusList, getListFromStatusListJWT } from "@sd-jwt/jwt-status-list";

async function readStdin() {
  const chunks = [];
  for await (const chunk of process.stdin) {
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString("utf8");
}

function checkIndices(indices) {
  if (!Array.isArray(indices) || !indices.every((index) => Number.isInteger(index) && index >= 0)) {
    throw new Error(`"indices" must be an array of non-negative integers`);
  }
  return indices;
}

function requireString(request, name) {
  const value = request[name];
  if (typeof value !== "string" || value.length === 0) {
    throw new Error(`"${name}" must be a non-empty string`);
  }
  return value;
}

async function decodeBitstring(request) {
  const encodedList = requireString(request, "encodedList");
  const indices = checkIndices(request.indices ?? []);
  const list = await decodeList({ encodedList });
  const bits = {};
  for (const index of indices) {
    if (index >= list.length) {
      throw new Error(`index ${index} is outside the list of ${list.length} entries`);
    }
    bits[String(index)] = list.getStatus(index);
  }
  let setCount = 0;
  for (let index = 0; index < list.length; index++) {
    if (list.getStatus(index)) {
      setCount++;
    }
  }
  return { length: list.length, bits, setCount };
}

function describeTokenList(list, indices) {
  const entries = list.statusList.length;
  const values = {};
  for (const index of indices) {
    if (index >= entries) {
      throw new Error(`index ${index} is outside the list of ${entries} entries`);
    }
    values[String(index)] = list.getStatus(index);
  }
  let nonZeroCount = 0;
  for (let index = 0; index < entries; index++) {
    const value = list.getStatus(index);
    if (!Number.isInteger(value)) {
      throw new Error(`the decoder gave a non-integer value at index ${index}: ${value}`);
    }
    if (value !== 0) {
      nonZeroCount++;
    }
  }
  return { length: entries, bitsPerStatus: list.getBitsPerStatus(), values, nonZeroCount };
}

function decodeToken(request) {
  const lst = requireString(request, "lst");
  const bits = request.bits;
  if (![1, 2, 4, 8].includes(bits)) {
    throw new Error(`"bits" must be 1, 2, 4 or 8`);
  }
  const indices = checkIndices(request.indices ?? []);
  return describeTokenList(StatusList.decompressStatusList(lst, bits), indices);
}

function jsonSegment(jwt, position, name) {
  const segment = jwt.split(".")[position];
  if (segment === undefined || !/^[A-Za-z0-9_-]+$/.test(segment)) {
    throw new Error(`the JWT ${name} is not base64url`);
  }
  const value = JSON.parse(Buffer.from(segment, "base64url").toString("utf8"));
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw new Error(`the JWT ${name} is not a JSON object`);
  }
  return value;
}

function decodeTokenJwt(request) {
  const jwt = requireString(request, "jwt");
  if (jwt.split(".").length !== 3) {
    throw new Error(`"jwt" must be a compact JWS (three dot-separated parts)`);
  }
  const indices = checkIndices(request.indices ?? []);
  const answer = describeTokenList(getListFromStatusListJWT(jwt), indices);
  // The package reads only status_list; the other claims are read here, the same way (no signature check).
  const header = jsonSegment(jwt, 0, "header");
  const payload = jsonSegment(jwt, 1, "payload");
  answer.claims = { sub: payload.sub ?? null, iat: payload.iat ?? null, ttl: payload.ttl ?? null };
  answer.header = { alg: header.alg ?? null, typ: header.typ ?? null };
  return answer;
}

const DECODERS = { bitstring: decodeBitstring, token: decodeToken, "token-jwt": decodeTokenJwt };

async function main() {
  const request = JSON.parse(await readStdin());
  if (request === null || typeof request !== "object" || Array.isArray(request)) {
    throw new Error("the request must be a JSON object");
  }
  const decoder = DECODERS[request.kind];
  if (decoder === undefined) {
    throw new Error(`unknown "kind" ${JSON.stringify(request.kind)}; expected one of ${Object.keys(DECODERS)}`);
  }
  process.stdout.write(JSON.stringify(await decoder(request)) + "\n");
}

main().catch((error) => {
  process.stderr.write(`decode-status-list: ${error?.stack ?? error}\n`);
  process.exit(1);
});

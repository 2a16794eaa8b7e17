// Independent check of a vc+jwt: reads one compact JWS per line on stdin, fetches the JWKS from the URL
// given as the first argument, and prints one JSON line per token: {ok, alg, kid, id} or {ok: false, error}.
import { createRemoteJWKSet, compactVerify } from "jose";
import { createInterface } from "node:readline";

const jwks = createRemoteJWKSet(new URL(process.argv[2]));
const lines = createInterface({ input: process.stdin });
for await (const line of lines) {
  const token = line.trim();
  if (!token) continue;
  try {
    const { payload, protectedHeader } = await compactVerify(token, jwks, { algorithms: ["ES256", "EdDSA"] });
    const credential = JSON.parse(new TextDecoder().decode(payload));
    if (protectedHeader.typ !== "vc+jwt") throw new Error(`typ is ${protectedHeader.typ}`);
    console.log(JSON.stringify({ ok: true, alg: protectedHeader.alg, kid: protectedHeader.kid, id: credential.id }));
  } catch (error) {
    console.log(JSON.stringify({ ok: false, error: String(error) }));
  }
}

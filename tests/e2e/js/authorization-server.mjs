// A real OAuth 2.0 authorization server for the tests: panva's oidc-provider, the certified OpenID Provider
// library for Node.js. It stands in for the external authorization server a deployment may name
// (OID4VCI_AUTHORIZATION_SERVER): the credential issuer under test checks its RFC 9068 JWT access tokens
// against its JWKS and introspects (RFC 7662) its opaque ones.
//
// Tokens are minted with the client_credentials grant, the simplest way to get one without a browser. The
// request's `issuer_state` parameter is copied into the token (extraTokenClaims), as the deployment's server
// copies it from the wallet's authorization request. With `resource` (RFC 8707) the token's audience is that
// resource; clients `rs256`, `es256` and `eddsa` get JWT access tokens signed with that algorithm, client
// `opaque` gets an opaque token (introspectable, with the same audience); without `resource` every client
// gets an opaque token without an audience. Client `issuer` is the credential issuer's own, for introspection.
//
// Three servers run, all with the same clients:
// - `main`: the authorization server the credential issuer is configured with;
// - `impostor`: claims main's issuer identifier but signs with keys of its own;
// - `mirror`: signs with main's keys but has another issuer identifier.
//
// Started by tests/e2e/authorization_server.py; prints one JSON line with the URLs, then serves until killed.

import http from 'node:http';

import { exportJWK, generateKeyPair } from 'jose';
import Provider from 'oidc-provider';

const SECRET = process.env.AS_CLIENT_SECRET ?? 'a-client-secret-of-the-tests-0123456789abcdef';
const SIGNING = { rs256: 'RS256', es256: 'ES256', eddsa: 'EdDSA' };

async function keySet(prefix) {
  const keys = [];
  for (const [alg, options] of [['RS256', { modulusLength: 2048 }], ['ES256', {}], ['EdDSA', { crv: 'Ed25519' }]]) {
    const { privateKey } = await generateKeyPair(alg, { ...options, extractable: true });
    keys.push({ ...(await exportJWK(privateKey)), kid: `${prefix}-${alg}`, alg, use: 'sig' });
  }
  return { keys };
}

function configuration(jwks) {
  return {
    jwks,
    clients: [...Object.keys(SIGNING), 'opaque', 'issuer'].map((clientId) => ({
      client_id: clientId,
      client_secret: SECRET,
      grant_types: ['client_credentials'],
      response_types: [],
      redirect_uris: [],
      token_endpoint_auth_method: 'client_secret_basic',
    })),
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      introspection: { enabled: true },
      resourceIndicators: {
        enabled: true,
        getResourceServerInfo: async (_ctx, resource, client) => ({
          scope: '',
          audience: resource,
          accessTokenTTL: 300,
          accessTokenFormat: client.clientId in SIGNING ? 'jwt' : 'opaque',
          jwt: { sign: { alg: SIGNING[client.clientId] ?? 'RS256' } },
        }),
      },
    },
    enabledJWA: { idTokenSigningAlgValues: ['RS256', 'ES256', 'EdDSA'] },
    extraTokenClaims: async (ctx) => {
      const issuerState = ctx.oidc.body?.issuer_state;
      return typeof issuerState === 'string' ? { issuer_state: issuerState } : undefined;
    },
  };
}

async function serve(issuerFor, jwks) {
  const server = http.createServer();
  await new Promise((resolve) => { server.listen(0, '127.0.0.1', resolve); });
  const base = `http://127.0.0.1:${server.address().port}`;
  const provider = new Provider(issuerFor(base), configuration(jwks));
  provider.proxy = false;
  server.on('request', provider.callback());
  return { base, issuer: provider.issuer };
}

const mainKeys = await keySet('main');
const main = await serve((base) => base, mainKeys);
const impostor = await serve(() => main.issuer, await keySet('impostor'));
const mirror = await serve((base) => `${base}/another-issuer`, mainKeys);

process.stdout.write(`${JSON.stringify({
  issuer: main.issuer,
  jwksUri: `${main.base}/jwks`,
  introspectionEndpoint: `${main.base}/token/introspection`,
  tokenEndpoints: {
    main: `${main.base}/token`,
    impostor: `${impostor.base}/token`,
    mirror: `${mirror.base}/token`,
  },
  mirrorIssuer: mirror.issuer,
  clientSecret: SECRET,
})}\n`);

// A real OpenID provider (the `oidc-provider` npm package) upstream of the
// OIDC connector, for tests/oidc_interop.rs.
//
// Usage: SSO_TEST_NODE_MODULES=<node_modules holding oidc-provider>
//        node oidc_op.mjs '<json>' where the JSON holds
//   clients:  [{ client_id, client_secret, redirect_uri, id_token_alg }]
//   accounts: { "<account id>": { "<claim>": <value>, ... } }
//   scopes:   { "<scope>": ["<claim>", ...] }
// The provider listens on 127.0.0.1 on a port chosen by the system, with
// issuer http://127.0.0.1:<port> (oidc-provider accepts http issuers), and
// prints one JSON line {"issuer": ...} on stdout once it serves requests.
// It exits when its standard input is closed (the test process is gone).
//
// Its development interactions (login form accepting any password, consent
// form) stand in for the provider's login pages. Signing keys (RSA 2048 and
// EC P-256) are generated at start-up; each client chooses its ID token
// algorithm. PKCE is required for every client, and every authorization
// response carries the `iss` parameter (RFC 9207), which oidc-provider 9
// always sends and advertises.

import { createServer } from 'node:http';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const packageDir = join(process.env.SSO_TEST_NODE_MODULES ?? join(import.meta.dirname, 'node_modules'), 'oidc-provider');
const { main } = JSON.parse(readFileSync(join(packageDir, 'package.json'), 'utf8'));
const { default: Provider } = await import(pathToFileURL(join(packageDir, main)).href);

const setup = JSON.parse(process.argv[2] ?? '{}');

function signingKey(type, options, kid) {
  const { privateKey } = generateKeyPairSync(type, options);
  return { ...privateKey.export({ format: 'jwk' }), kid, use: 'sig' };
}

const jwks = {
  keys: [
    signingKey('rsa', { modulusLength: 2048 }, 'interop-rsa'),
    signingKey('ec', { namedCurve: 'P-256' }, 'interop-ec'),
  ],
};

const clients = setup.clients.map((client) => ({
  client_id: client.client_id,
  client_secret: client.client_secret,
  redirect_uris: [client.redirect_uri],
  response_types: ['code'],
  grant_types: ['authorization_code'],
  token_endpoint_auth_method: 'client_secret_basic',
  id_token_signed_response_alg: client.id_token_alg,
}));

async function findAccount(_ctx, id) {
  const claims = setup.accounts[id];
  if (!claims) {
    return undefined;
  }
  return {
    accountId: id,
    async claims() {
      return { ...claims, sub: id };
    },
  };
}

const server = createServer();

server.listen(0, '127.0.0.1', () => {
  const { port } = server.address();
  const issuer = `http://127.0.0.1:${port}`;
  const provider = new Provider(issuer, {
    clients,
    jwks,
    findAccount,
    claims: setup.scopes,
    scopes: ['openid', ...Object.keys(setup.scopes).filter((scope) => scope !== 'openid')],
    cookies: { keys: [randomBytes(32).toString('base64url')] },
    pkce: { required: () => true },
    features: {
      devInteractions: { enabled: true },
      userinfo: { enabled: true },
    },
  });
  provider.on('server_error', (_ctx, err) => {
    process.stderr.write(`oidc-provider server_error: ${err.stack}\n`);
  });
  server.on('request', provider.callback());
  process.stdout.write(`${JSON.stringify({ issuer })}\n`);
});

process.stdin.resume();
process.stdin.on('end', () => {
  server.close();
  process.exit(0);
});

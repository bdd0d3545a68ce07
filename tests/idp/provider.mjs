// A real OpenID Provider for the tests: panva's certified `oidc-provider` (npm, installed by
// scripts/test.sh into tests/tools/node_modules), with its own signing keys, clients and users.
//
// Configuration: one JSON argument
//   { "clients": [{ "client_id", "client_secret", "redirect_uris": [...] }],
//     "users": { "<sub>": { "email", "email_verified", "groups": [...] } },
//     "idTokenTtl": seconds (optional) }
// It listens on 127.0.0.1 on a free port and prints one line `READY <issuer>` when ready.
// The login is oidc-provider's development interaction (a form: any user id of `users`, any
// password), then its consent page.
import { pathToFileURL } from 'node:url';
import path from 'node:path';
import fs from 'node:fs';
import http from 'node:http';
import crypto from 'node:crypto';

async function importOidcProvider() {
  const dirs = (process.env.NODE_PATH || '').split(path.delimiter).filter(Boolean);
  dirs.push(path.join(path.dirname(new URL(import.meta.url).pathname), '..', 'tools', 'node_modules'));
  for (const dir of dirs) {
    const entry = path.join(dir, 'oidc-provider', 'lib', 'index.js');
    if (fs.existsSync(entry)) return (await import(pathToFileURL(entry).href)).default;
  }
  throw new Error('oidc-provider is not installed (bash scripts/test.sh --setup-only)');
}

const Provider = await importOidcProvider();
const config = JSON.parse(process.argv[2] || '{}');
const users = config.users || {};

// Its own signing key, made at start.
const signingKey = {
  ...crypto.generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'jwk' }),
  kid: `k-${crypto.randomUUID()}`,
  use: 'sig',
  alg: 'RS256',
};

const server = http.createServer();
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
const issuer = `http://127.0.0.1:${server.address().port}`;

const provider = new Provider(issuer, {
  jwks: { keys: [signingKey] },
  clients: (config.clients || []).map((c) => ({
    token_endpoint_auth_method: 'client_secret_basic',
    grant_types: ['authorization_code'],
    response_types: ['code'],
    ...c,
  })),
  pkce: { required: () => true },
  scopes: ['openid', 'email', 'profile', 'groups'],
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified'],
    profile: ['name'],
    groups: ['groups'],
  },
  conformIdTokenClaims: false,
  ttl: { IdToken: config.idTokenTtl || 3600 },
  cookies: { keys: ['test-cookie-key'] },
  features: { devInteractions: { enabled: true } },
  async findAccount(ctx, sub) {
    const user = users[sub];
    if (!user) return undefined;
    return {
      accountId: sub,
      async claims() {
        return { sub, name: user.name || sub, ...user };
      },
    };
  },
});
provider.proxy = false;
server.on('request', provider.callback());
console.log(`READY ${issuer}`);

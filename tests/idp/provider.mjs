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
//
// Test controls: `POST /__test/control` with a JSON body changes how it behaves from then on:
//   { "tamper": { "<claim>": value | null, ... } }  ID tokens from /token get these claims
//        (null removes one) and are signed again with the current key;
//   { "signWith": "unpublished" }  ID tokens are signed with a key /jwks does not list;
//   { "rotate": true }  a new signing key replaces the old one (in /jwks and for new tokens);
//   { "slowMs": n }  every answer is delayed by n ms;
//   {}  back to normal (the rotated key stays).
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

const newKey = () => ({
  ...crypto.generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'jwk' }),
  kid: `k-${crypto.randomUUID()}`,
  use: 'sig',
  alg: 'RS256',
});
const publicOf = (jwk) => ({ kty: jwk.kty, n: jwk.n, e: jwk.e, kid: jwk.kid, use: 'sig', alg: 'RS256' });
const b64 = (v) => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString('base64url');
function sign(payload, jwk) {
  const head = b64({ alg: 'RS256', typ: 'JWT', kid: jwk.kid });
  const body = b64(payload);
  const key = crypto.createPrivateKey({ key: jwk, format: 'jwk' });
  const sig = crypto.sign('sha256', Buffer.from(`${head}.${body}`), key).toString('base64url');
  return `${head}.${body}.${sig}`;
}

const control = { tamper: null, signWith: null, slowMs: 0 };
// Made at start: generating a key while answering /token could outlast the hub's timeout.
const unpublishedKey = newKey();
let rotated = null;

provider.use(async (ctx, next) => {
  if (control.slowMs) await new Promise((r) => setTimeout(r, control.slowMs));
  await next();
  if (ctx.path === '/jwks' && rotated && ctx.body && ctx.body.keys) {
    ctx.body = { keys: [publicOf(rotated)] };
  }
  if (ctx.path === '/token' && ctx.body && ctx.body.id_token
      && (control.tamper || control.signWith || rotated)) {
    const payload = JSON.parse(Buffer.from(ctx.body.id_token.split('.')[1], 'base64url').toString());
    for (const [k, v] of Object.entries(control.tamper || {})) {
      if (v === null) delete payload[k]; else payload[k] = v;
    }
    const key = control.signWith === 'unpublished' ? unpublishedKey : (rotated || signingKey);
    ctx.body = { ...ctx.body, id_token: sign(payload, key) };
  }
});

const callback = provider.callback();
server.on('request', (req, res) => {
  if (req.method === 'POST' && req.url === '/__test/control') {
    let data = '';
    req.on('data', (c) => { data += c; });
    req.on('end', () => {
      const c = JSON.parse(data || '{}');
      control.tamper = c.tamper || null;
      control.signWith = c.signWith || null;
      control.slowMs = c.slowMs || 0;
      if (c.rotate) rotated = newKey();
      res.writeHead(204).end();
    });
    return;
  }
  callback(req, res);
});
console.log(`READY ${issuer}`);

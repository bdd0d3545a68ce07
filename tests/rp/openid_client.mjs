// A relying party from outside the project: panva's certified `openid-client` (npm, installed by
// scripts/test.sh into tests/tools/node_modules) drives a full OpenID Connect flow against the
// hub. tests/integration/oauth_openid_client.rs runs it and plays the browser.
//
// Configuration: one JSON argument
//   { "issuer", "client_id", "client_secret" (optional: client_secret_basic; without it a
//     public client), "redirect_uri" }
// Protocol on stdio, one line each:
//   it prints   AUTHORIZE <authorization URL>   (PKCE S256, state and nonce of its own)
//   it reads    <the callback URL the browser was sent to>
//   it prints   RESULT <json>                   what the library established, or
//               REFUSED <json>                  {name, code, message, cause} when it refused
// The code exchange validates the ID token itself (signature with the hub's JWKS, iss, aud,
// exp, iat, nonce), checks `state` and `iss` of the callback (RFC 9207), then reads userinfo
// and uses the refresh token.
import { pathToFileURL } from 'node:url';
import path from 'node:path';
import fs from 'node:fs';
import readline from 'node:readline';

async function importOpenidClient() {
  const dirs = (process.env.NODE_PATH || '').split(path.delimiter).filter(Boolean);
  dirs.push(path.join(path.dirname(new URL(import.meta.url).pathname), '..', 'tools', 'node_modules'));
  for (const dir of dirs) {
    const entry = path.join(dir, 'openid-client', 'build', 'index.js');
    if (fs.existsSync(entry)) return import(pathToFileURL(entry).href);
  }
  throw new Error('openid-client is not installed (bash scripts/test.sh --setup-only)');
}

const client = await importOpenidClient();
const settings = JSON.parse(process.argv[2] || '{}');

const config = await client.discovery(
  new URL(settings.issuer),
  settings.client_id,
  settings.client_secret ? undefined : { token_endpoint_auth_method: 'none' },
  settings.client_secret ? client.ClientSecretBasic(settings.client_secret) : client.None(),
  // The test hub listens on plain http (loopback).
  { execute: [client.allowInsecureRequests] },
);

const codeVerifier = client.randomPKCECodeVerifier();
const state = client.randomState();
const nonce = client.randomNonce();
const url = client.buildAuthorizationUrl(config, {
  redirect_uri: settings.redirect_uri,
  scope: 'openid email',
  code_challenge: await client.calculatePKCECodeChallenge(codeVerifier),
  code_challenge_method: 'S256',
  state,
  nonce,
});
console.log(`AUTHORIZE ${url.href}`);

const lines = readline.createInterface({ input: process.stdin });
const callback = await new Promise((resolve) => lines.once('line', resolve));
lines.close();

try {
  const tokens = await client.authorizationCodeGrant(config, new URL(callback.trim()), {
    pkceCodeVerifier: codeVerifier,
    expectedState: state,
    expectedNonce: nonce,
    idTokenExpected: true,
  });
  const claims = tokens.claims();
  const userinfo = await client.fetchUserInfo(config, tokens.access_token, claims.sub);
  const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token);
  console.log(`RESULT ${JSON.stringify({
    issuer: config.serverMetadata().issuer,
    token_endpoint_auth_method: settings.client_secret ? 'client_secret_basic' : 'none',
    token_type: tokens.token_type,
    id_token_claims: claims,
    userinfo,
    refresh_token_rotated: !!refreshed.refresh_token && refreshed.refresh_token !== tokens.refresh_token,
    refreshed_access_token: refreshed.access_token,
    first_access_token: tokens.access_token,
  })}`);
} catch (e) {
  const cause = e.cause instanceof Error ? { code: e.cause.code, message: e.cause.message } : e.cause;
  console.log(`REFUSED ${JSON.stringify({ name: e.name, code: e.code, message: e.message, cause })}`);
}

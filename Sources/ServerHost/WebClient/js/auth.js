// Who the page is to the broker (protocol.md, "Identity and authentication"; config.md,
// GET /config.json). auth_method "none": no password. "psk": the user types the client key,
// kept in sessionStorage for the tab. "oidc": authorization code flow with PKCE (RFC 7636)
// against the issuer's discovery document (OpenID Connect Discovery 1.0 §4); the id token is
// the MQTT password and the user name is "user:<sub>".

export const PSK_USERNAME = 'psk-user';
export const ANONYMOUS_USERNAME = 'user:anonymous';
const PSK_KEY = 'pod-arcade.psk';
const TOKEN_KEY = 'pod-arcade.id-token';
const PKCE_KEY = 'pod-arcade.oidc-pending';
export const CALLBACK_PATH = '/oidc-callback';

const ALPHANUMERIC = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/** Random letters and digits from crypto.getRandomValues (no modulo bias: 62 of 248 kept). */
export function randomAlphanumeric(length) {
  let out = '';
  while (out.length < length) {
    const bytes = crypto.getRandomValues(new Uint8Array(length * 2));
    for (const byte of bytes) {
      if (byte < 248 && out.length < length) out += ALPHANUMERIC[byte % 62];
    }
  }
  return out;
}

/** The /config.json document; a missing or broken one is an error the page shows. */
export async function loadConfig(fetchImpl = fetch) {
  const response = await fetchImpl('/config.json', { cache: 'no-store' });
  if (!response.ok) throw new Error(`/config.json answered ${response.status}`);
  const config = await response.json();
  if (!['none', 'psk', 'oidc'].includes(config.auth_method)) {
    throw new Error(`/config.json has an unknown auth_method "${config.auth_method}"`);
  }
  return config;
}

/** The key typed earlier in this tab, if any. */
export function storedPsk() { return sessionStorage.getItem(PSK_KEY); }
export function storePsk(key) { sessionStorage.setItem(PSK_KEY, key); }
export function forgetCredentials() {
  sessionStorage.removeItem(PSK_KEY);
  sessionStorage.removeItem(TOKEN_KEY);
}

function base64UrlEncode(bytes) {
  let text = '';
  for (const byte of bytes) text += String.fromCharCode(byte);
  return btoa(text).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

function base64UrlDecode(text) {
  const padded = text.replace(/-/g, '+').replace(/_/g, '/') + '==='.slice((text.length + 3) % 4);
  return Uint8Array.from(atob(padded), (c) => c.charCodeAt(0));
}

/** The claims of a JWT (not verified here: the server verifies the signature). */
export function jwtClaims(token) {
  const parts = String(token).split('.');
  if (parts.length !== 3) throw new Error('the id token is not a JWT');
  return JSON.parse(new TextDecoder().decode(base64UrlDecode(parts[1])));
}

/** PKCE S256 (RFC 7636 §4.2): the challenge for a verifier. */
export async function pkceChallenge(verifier) {
  if (!globalThis.crypto?.subtle) {
    throw new Error('signing in needs a secure context (HTTPS, or localhost) for PKCE');
  }
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(verifier));
  return base64UrlEncode(new Uint8Array(digest));
}

async function discovery(issuer) {
  const url = issuer.replace(/\/+$/, '') + '/.well-known/openid-configuration';
  const response = await fetch(url);
  if (!response.ok) throw new Error(`the sign-in server's discovery document answered ${response.status}`);
  return response.json();
}

function validToken() {
  const token = sessionStorage.getItem(TOKEN_KEY);
  if (!token) return null;
  try {
    const claims = jwtClaims(token);
    if (typeof claims.exp === 'number' && claims.exp * 1000 < Date.now() + 30_000) return null;
    if (typeof claims.sub !== 'string' || claims.sub === '') return null;
    return { token, claims };
  } catch {
    return null;
  }
}

/** Sends the browser to the issuer's authorization endpoint; never returns. */
export async function beginOidcLogin(config, returnTo) {
  const meta = await discovery(config.oidc_server);
  const verifier = randomAlphanumeric(64);
  const state = randomAlphanumeric(32);
  const nonce = randomAlphanumeric(32);
  const challenge = await pkceChallenge(verifier);
  sessionStorage.setItem(PKCE_KEY, JSON.stringify({ verifier, state, nonce, returnTo }));
  const url = new URL(meta.authorization_endpoint);
  url.search = new URLSearchParams({
    response_type: 'code',
    client_id: config.oidc_client_id,
    redirect_uri: location.origin + CALLBACK_PATH,
    scope: 'openid profile',
    state,
    nonce,
    code_challenge: challenge,
    code_challenge_method: 'S256',
  }).toString();
  location.assign(url.toString());
  return new Promise(() => {});
}

/**
 * Finishes the login on /oidc-callback: checks state, exchanges the code (with the PKCE
 * verifier) at the token endpoint and keeps the id token. Returns the path to go back to.
 */
export async function completeOidcLogin(config, search = location.search) {
  const params = new URLSearchParams(search);
  const pending = JSON.parse(sessionStorage.getItem(PKCE_KEY) || 'null');
  sessionStorage.removeItem(PKCE_KEY);
  if (params.get('error')) {
    throw new Error(`sign-in failed: ${params.get('error_description') || params.get('error')}`);
  }
  if (!pending || params.get('state') !== pending.state) {
    throw new Error('sign-in answer does not belong to this tab (state mismatch); please sign in again');
  }
  const meta = await discovery(config.oidc_server);
  const response = await fetch(meta.token_endpoint, {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'authorization_code',
      code: params.get('code') ?? '',
      redirect_uri: location.origin + CALLBACK_PATH,
      client_id: config.oidc_client_id,
      code_verifier: pending.verifier,
    }).toString(),
  });
  if (!response.ok) throw new Error(`the token endpoint answered ${response.status}`);
  const body = await response.json();
  if (!body.id_token) throw new Error('the token endpoint sent no id_token');
  const claims = jwtClaims(body.id_token);
  if (pending.nonce && claims.nonce !== undefined && claims.nonce !== pending.nonce) {
    throw new Error('the id token was issued for another login (nonce mismatch)');
  }
  if (typeof claims.exp === 'number' && claims.exp * 1000 < Date.now()) {
    // Going round the issuer again would loop: say it instead.
    throw new Error('the sign-in server issued an id token that has already expired (are the clocks right?)');
  }
  if (typeof claims.sub !== 'string' || claims.sub === '') throw new Error('the id token has no subject');
  sessionStorage.setItem(TOKEN_KEY, body.id_token);
  return pending.returnTo || '/';
}

/**
 * MQTT credentials for the config, or what the page must do first:
 * `{kind: 'ready', username, password}`, `{kind: 'ask-psk'}` or `{kind: 'oidc-login'}`.
 */
export function credentials(config) {
  switch (config.auth_method) {
    case 'none':
      return { kind: 'ready', username: ANONYMOUS_USERNAME, password: undefined };
    case 'psk': {
      const key = storedPsk();
      return key ? { kind: 'ready', username: PSK_USERNAME, password: key } : { kind: 'ask-psk' };
    }
    case 'oidc': {
      const valid = validToken();
      return valid
        ? { kind: 'ready', username: `user:${valid.claims.sub}`, password: valid.token }
        : { kind: 'oidc-login' };
    }
    default:
      throw new Error(`unknown auth_method ${config.auth_method}`);
  }
}

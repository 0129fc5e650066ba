// A device that is not the server proves it may subscribe: with the token of a pairing link, or
// later with the auth secret of its stored subscription (see README "Who may subscribe").
const TOKEN_KEY = 'pairing-token';
// Where the service worker finds the auth secret it proves this device with (sw.js).
const AUTH_CACHE = 'subscription-auth';

/**
 * A pairing link is this page's URL with #pair=<token>. The fragment never reaches the server's
 * logs or a Referer; take it out of the address bar at once and keep it until it is used.
 */
export function takePairingToken() {
  const token = new URLSearchParams(location.hash.slice(1)).get('pair');
  if (!token) return;
  keepPairingToken(token);
  history.replaceState(null, '', location.pathname + location.search);
}

function toBase64Url(buffer) {
  return btoa(String.fromCharCode(...new Uint8Array(buffer)))
    .replace(/\+/g, '-')
    .replace(/\//g, '_')
    .replace(/=+$/, '');
}

/** The Authorization a device that is not the server sends: its link, or its old subscription. */
export function proof(existing) {
  const token = localStorage.getItem(TOKEN_KEY);
  if (token) return { Authorization: `Pairing ${token}` };
  const auth = existing?.getKey('auth');
  return auth ? { Authorization: `Subscription ${toBase64Url(auth)}` } : {};
}

/** Keeps the stored subscription's auth secret where the service worker can read it. */
export async function rememberAuth(subscription) {
  const cache = await caches.open(AUTH_CACHE);
  await cache.put('/subscription-auth', new Response(subscription.toJSON().keys.auth));
}

export const hasPairingToken = () => localStorage.getItem(TOKEN_KEY) !== null;

/** Keeps a pairing token until it is used (taken from the address bar, or pasted). */
export const keepPairingToken = (token) => localStorage.setItem(TOKEN_KEY, token);

/** The pairing link this device holds, as this origin's URL; undefined when there is none. */
export function pairingLink() {
  const token = localStorage.getItem(TOKEN_KEY);
  return token ? `${location.origin}/#pair=${token}` : undefined;
}

/**
 * The token in pasted text: a whole pairing link (any address of the server: a token is not
 * tied to one), `pair=<token>`, or the token alone. Undefined when it is none of those.
 */
export function tokenFrom(text) {
  const trimmed = text.trim();
  const hash = trimmed.indexOf('#');
  const token =
    hash >= 0
      ? new URLSearchParams(trimmed.slice(hash + 1)).get('pair')
      : trimmed.replace(/^pair=/, '');
  return token && /^[A-Za-z0-9_-]{16,}$/.test(token) ? token : undefined;
}

/** A token is used once, or turned down: either way it is of no more use. */
export const forgetPairingToken = () => localStorage.removeItem(TOKEN_KEY);

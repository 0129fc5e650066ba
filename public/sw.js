// The service worker: show pushed notifications, open their link, follow subscription changes.
const DEFAULT_TITLE = 'Simple Web Push';

self.addEventListener('install', () => self.skipWaiting());
self.addEventListener('activate', (event) => event.waitUntil(self.clients.claim()));

function readPush(data) {
  if (!data) return { title: DEFAULT_TITLE, body: 'You have a new notification.' };
  try {
    const message = data.json();
    if (message && typeof message === 'object') return { title: DEFAULT_TITLE, ...message };
  } catch {
    // Not JSON: show the text as it came.
  }
  return { title: DEFAULT_TITLE, body: data.text() };
}

self.addEventListener('push', (event) => {
  const { title, body, icon, tag, url } = readPush(event.data);
  event.waitUntil(
    self.registration.showNotification(String(title), {
      body: body === undefined ? '' : String(body),
      icon: icon || '/icon-192.png',
      badge: '/icon-192.png',
      ...(tag ? { tag: String(tag) } : {}),
      data: { url: url || '/' },
    }),
  );
});

/** The notification's link, resolved against this site; other origins are allowed as given. */
function targetUrl(notification) {
  return new URL(notification.data?.url || '/', self.location.origin).href;
}

self.addEventListener('notificationclick', (event) => {
  event.notification.close();
  const url = targetUrl(event.notification);
  event.waitUntil(
    (async () => {
      const windows = await self.clients.matchAll({ type: 'window', includeUncontrolled: true });
      const open = windows.find((client) => client.url === url);
      if (open) return open.focus();
      return self.clients.openWindow(url);
    })(),
  );
});

async function post(method, body, headers = {}) {
  const response = await fetch('/api/subscriptions', {
    method,
    headers: { 'Content-Type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
  if (!response.ok) throw new Error(`the server answered ${response.status}`);
}

// The page keeps the stored subscription's auth secret here (app.js rememberAuth): the event's
// oldSubscription may no longer give its keys, and a paired phone proves itself with it.
const AUTH_CACHE = 'subscription-auth';

// The page's pairing.js has the same helper: a classic worker cannot import the page's modules.
function toBase64Url(buffer) {
  return btoa(String.fromCharCode(...new Uint8Array(buffer)))
    .replace(/\+/g, '-')
    .replace(/\//g, '_')
    .replace(/=+$/, '');
}

async function oldAuth(old) {
  const key = old?.getKey?.('auth');
  if (key) return toBase64Url(key);
  const cache = await caches.open(AUTH_CACHE);
  return (await cache.match('/subscription-auth'))?.text();
}

// The push service replaced the subscription: subscribe again and tell the server.
self.addEventListener('pushsubscriptionchange', (event) => {
  event.waitUntil(
    (async () => {
      const old = event.oldSubscription;
      let key = old?.options?.applicationServerKey;
      if (!key) {
        const response = await fetch('/api/vapid-public-key');
        const { publicKey } = await response.json();
        key = Uint8Array.from(atob(publicKey.replace(/-/g, '+').replace(/_/g, '/')), (c) =>
          c.charCodeAt(0),
        );
      }
      const fresh =
        event.newSubscription ??
        (await self.registration.pushManager.subscribe({
          userVisibleOnly: true,
          applicationServerKey: key,
        }));
      const auth = await oldAuth(old).catch(() => undefined);
      await post('POST', fresh.toJSON(), auth ? { Authorization: `Subscription ${auth}` } : {});
      const cache = await caches.open(AUTH_CACHE);
      await cache.put('/subscription-auth', new Response(fresh.toJSON().keys.auth));
      if (old && old.endpoint !== fresh.endpoint) await post('DELETE', { endpoint: old.endpoint });
    })(),
  );
});

// The service worker: show pushed notifications, open their links, set the app badge, follow
// subscription changes.
const DEFAULT_TITLE = 'Simple Web Push';
const ICON = '/icon-192.png';

self.addEventListener('install', () => self.skipWaiting());
self.addEventListener('activate', (event) => event.waitUntil(self.clients.claim()));

const isObject = (value) => typeof value === 'object' && value !== null && !Array.isArray(value);
const text = (value) => (typeof value === 'string' ? value : '');
/** A link resolved against this site (the server sends absolute ones, earlier versions `/paths`). */
function link(value) {
  try {
    return text(value) ? new URL(value, self.location.origin).href : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The pushed message as a notification in the declarative form: a declarative push message
 * (W3C Push API: `web_push` 8030, a `notification` member with NotificationOptions names,
 * `app_badge`) as the server sends it, the {title, body, url, icon, tag} of earlier versions (a
 * push queued before an upgrade), or plain text.
 */
function readPush(data) {
  let message;
  try {
    message = data?.json();
  } catch {
    // Not JSON: show the text as it came.
  }
  if (message?.web_push === 8030 && isObject(message.notification)) {
    return { notification: message.notification, appBadge: message.app_badge };
  }
  if (isObject(message)) {
    const { title, body, url, icon, tag } = message;
    return { notification: { title, body, navigate: url, icon, tag } };
  }
  return { notification: { body: data?.text() || 'You have a new notification.' } };
}

/** NotificationOptions for showNotification, with where each click goes kept in `data`. */
function optionsFor(notification) {
  const { body, tag, image, timestamp } = notification;
  const url = link(notification.navigate) ?? link('/');
  const actions = (Array.isArray(notification.actions) ? notification.actions : [])
    .filter((action) => isObject(action) && text(action.action) && text(action.title))
    .map((action) => ({
      action: action.action,
      title: action.title,
      navigate: link(action.navigate),
    }));
  return {
    body: text(body),
    icon: link(notification.icon) ?? ICON,
    badge: link(notification.badge) ?? ICON,
    ...(link(image) ? { image: link(image) } : {}),
    ...(text(tag) ? { tag, renotify: notification.renotify === true } : {}),
    silent: notification.silent === true,
    requireInteraction: notification.requireInteraction === true,
    ...(Number.isSafeInteger(timestamp) && timestamp >= 0 ? { timestamp } : {}),
    // Where the browser opens links itself (Safari), it does so; elsewhere notificationclick does.
    navigate: url,
    actions,
    data: {
      url,
      actions: Object.fromEntries(actions.map((action) => [action.action, action.navigate ?? url])),
    },
  };
}

async function show(notification) {
  const title = text(notification.title) || DEFAULT_TITLE;
  const options = optionsFor(notification);
  try {
    await self.registration.showNotification(title, options);
  } catch {
    // An option this browser refuses must not lose the message: show its text and link.
    const { body, icon, data } = options;
    await self.registration.showNotification(title, { body, icon, data });
  }
}

/** Badging API: the number on the installed app's icon, 0 to clear it, where the browser has it. */
async function setBadge(count) {
  if (!Number.isSafeInteger(count) || count < 0) return;
  if (count === 0 && navigator.clearAppBadge) await navigator.clearAppBadge();
  else if (count > 0 && navigator.setAppBadge) await navigator.setAppBadge(count);
}

self.addEventListener('push', (event) => {
  const { notification, appBadge } = readPush(event.data);
  // A badge the platform refuses (the app is not installed) must not stop the notification.
  event.waitUntil(Promise.all([show(notification), setBadge(appBadge).catch(() => {})]));
});

/** Where a click goes: the action's link, or the notification's; earlier versions kept `url`. */
function targetUrl(notification, action) {
  const data = isObject(notification.data) ? notification.data : {};
  const chosen = (action && isObject(data.actions) && data.actions[action]) || data.url || '/';
  return new URL(chosen, self.location.origin).href;
}

self.addEventListener('notificationclick', (event) => {
  event.notification.close();
  const url = targetUrl(event.notification, event.action);
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

// The page: register the worker, subscribe with the server's VAPID key, keep the server in step.
import { api } from '/api.js';
import { guessDeviceName } from '/device-name.js';
import { offerCopy, offerPaste } from '/pair-here.js';
import {
  forgetPairingToken,
  hasPairingToken,
  proof,
  rememberAuth,
  takePairingToken,
} from '/pairing.js';

const $ = (id) => document.getElementById(id);
const statusLine = $('status');
const detail = $('detail');
const buttons = { subscribe: $('subscribe'), unsubscribe: $('unsubscribe'), test: $('test') };
const paste = $('paste');
const naming = $('naming');
const nameInput = $('device-name');
const actions = document.querySelector('.actions');
// The server's own browser needs no pairing; every other device does (see takePairingToken).
const onServer = ['localhost', '127.0.0.1', '[::1]'].includes(location.hostname);

function show(state, text, more = '') {
  statusLine.dataset.state = state;
  statusLine.textContent = text;
  detail.textContent = more;
  paste.hidden = state !== 'unpaired';
  naming.hidden = state !== 'not-subscribed' && state !== 'unpaired';
  // Nothing to click in Safari before Add to Home Screen: the app does it all.
  actions.hidden = state === 'install';
  buttons.subscribe.disabled = state !== 'not-subscribed' && state !== 'unpaired';
  buttons.unsubscribe.disabled = state !== 'subscribed';
  buttons.test.disabled = state !== 'subscribed';
}

function isIosNotInstalled() {
  const ios =
    /iPad|iPhone|iPod/.test(navigator.userAgent) ||
    (navigator.platform === 'MacIntel' && navigator.maxTouchPoints > 1);
  return ios && !window.matchMedia('(display-mode: standalone)').matches && !navigator.standalone;
}

/** The pairing message; `refusal` is the server's 401 error, whose reason comes before a colon. */
function showUnpaired(refusal = '') {
  const reason = refusal.split(':')[0];
  const why = reason && !reason.startsWith('this device is not paired') ? `${reason}. ` : '';
  show(
    'unpaired',
    'This device is not paired with the server yet.',
    `${why.charAt(0).toUpperCase()}${why.slice(1)}Open a pairing link first (on the server, open its page and scan the code under “Add a phone”, or run npm run pair), or paste it below.`,
  );
}

function base64UrlToBytes(text) {
  const base64 = text.replace(/-/g, '+').replace(/_/g, '/');
  return Uint8Array.from(atob(base64 + '='.repeat((4 - (base64.length % 4)) % 4)), (c) =>
    c.charCodeAt(0),
  );
}

function sameKey(subscription, key) {
  const current = subscription.options?.applicationServerKey;
  if (!current) return true;
  const a = new Uint8Array(current);
  return a.length === key.length && a.every((byte, i) => byte === key[i]);
}

function subscribedText(subscription) {
  return `Subscribed through ${new URL(subscription.endpoint).host}.`;
}

async function refresh(registration) {
  if (Notification.permission === 'denied') {
    show(
      'blocked',
      'Notifications are blocked for this site.',
      'Allow them in the browser’s site settings, then reload.',
    );
    return;
  }
  const subscription = await registration.pushManager.getSubscription();
  if (!subscription) {
    if (!onServer && !hasPairingToken()) return showUnpaired();
    show(
      'not-subscribed',
      'Not subscribed yet.',
      onServer
        ? 'Click Subscribe to get notifications in this browser.'
        : 'Pairing link received: click Subscribe to pair this device (the link works once).',
    );
    return;
  }
  const { publicKey } = await api('GET', '/api/vapid-public-key');
  if (sameKey(subscription, base64UrlToBytes(publicKey))) {
    show('subscribed', subscribedText(subscription));
  } else {
    show(
      'not-subscribed',
      'The server has new keys.',
      'Click Subscribe to keep getting notifications here.',
    );
  }
}

async function subscribe(registration) {
  show('checking', 'Subscribing…');
  const permission = await Notification.requestPermission();
  if (permission !== 'granted') {
    if (permission === 'denied') return refresh(registration);
    show(
      'not-subscribed',
      'Not subscribed yet.',
      'Notifications were not allowed. Click Subscribe and choose Allow.',
    );
    return;
  }
  const { publicKey } = await api('GET', '/api/vapid-public-key');
  const key = base64UrlToBytes(publicKey);
  const existing = await registration.pushManager.getSubscription();
  // Taken before the old subscription goes: its auth secret proves this device was paired.
  const headers = proof(existing);
  // A subscription made with another server key cannot be reused (the keys were rotated).
  if (existing && !sameKey(existing, key)) await existing.unsubscribe();
  const subscription = await registration.pushManager.subscribe({
    userVisibleOnly: true,
    applicationServerKey: key,
  });
  const body = { ...subscription.toJSON(), name: nameInput.value };
  let result;
  try {
    result = await api('POST', '/api/subscriptions', body, headers);
  } catch (error) {
    if (error.status !== 401) throw error;
    // Not stored: a browser subscription the server refused would only look subscribed.
    await subscription.unsubscribe();
    forgetPairingToken();
    return showUnpaired(error.message);
  }
  forgetPairingToken();
  // Only the service worker's pushsubscriptionchange needs it, and Firefox's alone fires that.
  await rememberAuth(subscription).catch(() => {});
  const welcome = result.welcome?.delivered
    ? 'A welcome notification is on its way.'
    : `The server stored the subscription, but the welcome notification failed: ${result.welcome?.error?.reason ?? 'unknown reason'}.`;
  show('subscribed', subscribedText(subscription), welcome);
  changed();
}

async function unsubscribe(registration) {
  const subscription = await registration.pushManager.getSubscription();
  if (subscription) {
    await api('DELETE', '/api/subscriptions', { endpoint: subscription.endpoint });
    await subscription.unsubscribe();
  }
  show('not-subscribed', 'Not subscribed.', 'This browser will no longer receive notifications.');
  changed();
}

async function sendTest(registration) {
  const subscription = await registration.pushManager.getSubscription();
  if (!subscription) return refresh(registration);
  const result = await api('POST', '/api/subscriptions/test', { endpoint: subscription.endpoint });
  const failure = result.failed?.[0];
  detail.textContent = failure
    ? `The push service refused the test notification: ${failure.status ?? ''} ${failure.reason}`
    : result.removed
      ? 'The push service says this subscription is gone. Subscribe again.'
      : 'Test notification sent.';
  if (result.removed) await refresh(registration);
  changed();
}

/** Tells the owner's list of devices (devices.js) that this browser's entry changed. */
const changed = () => document.dispatchEvent(new Event('devices-changed'));

/** The owner removed this browser from the list: it no longer receives anything, so say so. */
async function removedHere(registration, endpoint) {
  const subscription = await registration.pushManager.getSubscription();
  if (subscription?.endpoint !== endpoint) return;
  await subscription.unsubscribe();
  show('not-subscribed', 'Not subscribed.', 'This browser was removed from your devices.');
}

function guard(registration, action) {
  return async () => {
    try {
      await action(registration);
    } catch (error) {
      await refresh(registration).catch(() => {});
      detail.textContent = `Something went wrong: ${error.message}`;
    }
  };
}

async function start() {
  takePairingToken();
  nameInput.value = guessDeviceName();
  if (onServer) {
    import('/phone.js')
      .then((phone) => phone.showPhoneSection())
      .catch((error) => console.error(`the "Add a phone" section failed: ${error.message}`));
    import('/devices.js')
      .then((devices) => devices.showDevices())
      .catch((error) => console.error(`the list of devices failed: ${error.message}`));
  }
  if (!window.isSecureContext) {
    show(
      'unsupported',
      'This page needs a secure connection.',
      'Open it at http://localhost or over https://.',
    );
    return;
  }
  if (isIosNotInstalled()) {
    show(
      'install',
      'Add this page to your Home Screen first.',
      'On iPhone and iPad, tap Share, then “Add to Home Screen”. Open it from the Home Screen and paste the pairing link there.',
    );
    offerCopy();
    return;
  }
  if (
    !('serviceWorker' in navigator) ||
    !('PushManager' in window) ||
    !('Notification' in window)
  ) {
    show('unsupported', 'This browser cannot receive push notifications.');
    return;
  }
  let registration;
  try {
    await navigator.serviceWorker.register('/sw.js');
    registration = await navigator.serviceWorker.ready;
  } catch (error) {
    // Chrome refuses a worker over a certificate it does not trust, even after its warning.
    const fix = onServer
      ? 'On this machine, open the page over http://localhost (port 8080 unless HTTP_PORT is set).'
      : `This device must trust the server’s certificate authority first: install ${location.origin}/ca.crt (README: “Your phone”).`;
    show('error', 'The service worker could not be registered.', `${error.message} ${fix}`);
    return;
  }
  buttons.subscribe.addEventListener('click', guard(registration, subscribe));
  buttons.unsubscribe.addEventListener('click', guard(registration, unsubscribe));
  buttons.test.addEventListener('click', guard(registration, sendTest));
  document.addEventListener('device-removed', (event) =>
    guard(registration, (r) => removedHere(r, event.detail))(),
  );
  offerPaste(guard(registration, refresh));
  await guard(registration, refresh)();
}

start();

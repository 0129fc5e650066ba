// "Your devices" and "Send a notification": the owner's control panel. Loaded by app.js on the
// server's own browser only; the server answers anyone else 403, and then nothing is shown.
import { api } from '/api.js';
import { fillRecipients, setUpSendForm } from '/send-form.js';

const $ = (id) => document.getElementById(id);
const UNITS = [
  ['year', 365 * 86400],
  ['month', 30 * 86400],
  ['day', 86400],
  ['hour', 3600],
  ['minute', 60],
];
const relative = new Intl.RelativeTimeFormat('en', { numeric: 'always' });

function ago(iso) {
  const seconds = Math.max(0, (Date.now() - Date.parse(iso)) / 1000);
  const [unit, size] = UNITS.find(([, length]) => seconds >= length) ?? [];
  return unit ? relative.format(-Math.floor(seconds / size), unit) : 'just now';
}

/** "Delivered 2 minutes ago", "Failed 3 hours ago: 403 BadJwtToken". */
function resultText(result) {
  if (!result) return 'Nothing sent yet';
  if (result.outcome === 'delivered') return `Delivered ${ago(result.at)}`;
  return `Failed ${ago(result.at)}: ${result.status ? `${result.status} ` : ''}${result.reason}`;
}

function testText(name, { removed, failed }) {
  if (failed[0])
    return `The test to “${name}” failed: ${failed[0].status ?? ''} ${failed[0].reason}`;
  if (removed) return `“${name}” is gone (its push service says so) and was removed.`;
  return `Test notification sent to “${name}”.`;
}

const say = (text) => {
  $('devices-status').textContent = text;
};

/** Runs a device's action, lists the devices again, then says what came of it (or what failed). */
async function act(what, action) {
  let outcome;
  try {
    outcome = await action();
  } catch (error) {
    outcome = `${what} failed: ${error.message}`;
  }
  say([outcome, await refresh()].filter(Boolean).join(' '));
}

function item(device, ownEndpoint) {
  const li = $('device-item').content.firstElementChild.cloneNode(true);
  const part = (selector) => li.querySelector(selector);
  part('.device-name').textContent = device.name;
  part('.badge').hidden = !device.latest;
  const added = device.addedAt
    ? `added ${new Date(device.addedAt).toLocaleString([], { dateStyle: 'medium', timeStyle: 'short' })}`
    : 'added earlier';
  const own = device.endpoint === ownEndpoint ? ' · this browser' : '';
  part('.device-about').textContent = `${device.browser} · ${added}${own}`;
  const result = part('.device-result');
  result.textContent = resultText(device.lastResult);
  result.dataset.outcome = device.lastResult?.outcome ?? 'none';

  const form = part('.device-rename');
  const editing = (on) => {
    form.hidden = !on;
    part('.device-actions').hidden = on;
    form.elements.name.value = device.name;
    if (on) form.elements.name.focus();
  };
  const body = { endpoint: device.endpoint };
  const actions = {
    rename: () => editing(true),
    cancel: () => editing(false),
    test: () =>
      act('Send test', async () =>
        testText(device.name, await api('POST', '/api/subscriptions/test', body)),
      ),
    remove: () => {
      if (
        !confirm(
          `Remove “${device.name}”? It gets no more notifications until it subscribes again.`,
        )
      )
        return;
      act('Remove', async () => {
        await api('DELETE', '/api/subscriptions', body);
        document.dispatchEvent(new CustomEvent('device-removed', { detail: device.endpoint }));
        return `Removed “${device.name}”.`;
      });
    },
  };
  li.addEventListener('click', (event) => {
    actions[event.target.closest('button[data-action]')?.dataset.action]?.();
  });
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    act('Rename', async () => {
      const renamed = await api('PATCH', '/api/devices', {
        ...body,
        name: form.elements.name.value,
      });
      return `Renamed to “${renamed.name}”.`;
    });
  });
  return li;
}

/** This browser's own subscription, to mark it in the list. */
async function ownEndpoint() {
  const registration = await navigator.serviceWorker?.getRegistration().catch(() => undefined);
  const subscription = await registration?.pushManager?.getSubscription().catch(() => null);
  return subscription?.endpoint;
}

function render(devices, own) {
  $('device-list').replaceChildren(...devices.map((device) => item(device, own)));
  $('devices-empty').hidden = devices.length > 0;
  fillRecipients(devices);
}

/** Lists the devices again; says why it could not, and answers that (or nothing). */
async function refresh() {
  try {
    render(await api('GET', '/api/devices'), await ownEndpoint());
    return '';
  } catch (error) {
    const why = `Could not list the devices: ${error.message}`;
    say(why);
    return why;
  }
}

/** Shows both sections when the server lists the devices to this browser (its owner's). */
export async function showDevices() {
  let devices;
  try {
    devices = await api('GET', '/api/devices');
  } catch {
    return; // 403: not the owner (say, another name for this machine)
  }
  render(devices, await ownEndpoint());
  $('devices').hidden = false;
  $('send').hidden = false;
  setUpSendForm(refresh);
  // This browser subscribed, unsubscribed or sent itself a test (app.js).
  document.addEventListener('devices-changed', refresh);
}

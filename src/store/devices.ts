// The stored subscriptions as the owner sees them: devices with a name, a browser and a last
// result, never their keys. GET /api/devices and npm run devices list them; --to finds one.
import { HttpError } from '../errors.ts';
import type { LastResult } from './device-fields.ts';
import { distinctNames, nameKey } from './names.ts';
import type { Subscription } from './subscription.ts';

/** One device, as listed (JSON). */
export interface Device {
  /** Its stored name, or its browser's for one stored without (unique, see distinctNames). */
  name: string;
  browser: string;
  endpoint: string;
  addedAt: string | null;
  lastResult: LastResult | null;
  /** The one `npm run send` reaches by default: the newest. */
  latest: boolean;
}

// The push service tells the browser: each browser maker runs its own. FCM also serves the
// other Chromium browsers (Opera, Brave, Samsung Internet); Edge uses Windows' push service.
const BROWSERS: [RegExp, string][] = [
  [/^fcm\.googleapis\.com$/, 'Chrome'],
  // Chromium builds other than Chrome's stable channel (config.ts).
  [/^jmt17\.google\.com$/, 'Chromium'],
  [/(^|\.)push\.services\.mozilla\.com$/, 'Firefox'],
  [/(^|\.)push\.apple\.com$/, 'Safari'],
  [/(^|\.)notify\.windows\.com$/, 'Edge'],
];
// Names listed at most in an error: a list of thousands helps no one.
const NAMES_IN_ERROR = 20;

/** The browser behind a subscription, told by its push service; another push service by its host. */
export function browserOf(endpoint: string): string {
  let host: string;
  try {
    host = new URL(endpoint).host;
  } catch {
    return 'unknown';
  }
  return BROWSERS.find(([pattern]) => pattern.test(host))?.[1] ?? host;
}

/** The devices, in the store's order (the latest last). */
export function listDevices(list: readonly Subscription[]): Device[] {
  const browsers = list.map((subscription) => browserOf(subscription.endpoint));
  const names = distinctNames(
    list.map((subscription, i) => ({ subscription, browser: browsers[i] as string })),
    (entry) => entry.subscription.name,
    (entry) => entry.browser,
  );
  return list.map(({ endpoint, addedAt, lastResult }, i) => ({
    name: names[i] as string,
    browser: browsers[i] as string,
    endpoint,
    addedAt: addedAt ?? null,
    lastResult: lastResult ?? null,
    latest: i === list.length - 1,
  }));
}

/**
 * The one device `query` names: its name without regard to case, else the one name it begins.
 * 422 naming the devices when it names none, or begins more than one.
 */
export function findDevice(devices: readonly Device[], query: string): Device {
  const key = nameKey(query.trim());
  const exact = devices.find((device) => nameKey(device.name) === key);
  if (exact) return exact;
  const matches = key === '' ? [] : devices.filter((d) => nameKey(d.name).startsWith(key));
  if (matches.length === 1) return matches[0] as Device;
  const among = matches.length > 1 ? matches : devices;
  const what =
    matches.length > 1
      ? `"${query}" could be any of ${matches.length} devices`
      : `no device is named "${query}"`;
  throw new HttpError(422, `${what}: ${quoted(among.map((device) => device.name))}`);
}

function quoted(names: string[]): string {
  if (names.length === 0) return 'none is stored yet';
  const shown = names.slice(0, NAMES_IN_ERROR).map((name) => `"${name}"`);
  const more = names.length - shown.length;
  return `${shown.join(', ')}${more > 0 ? ` and ${more} more (npm run devices lists them)` : ''}`;
}

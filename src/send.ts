import type { Config } from './config.ts';
import { ConfigError, HttpError } from './errors.ts';
import { loadKeys } from './keys.ts';
import type { DeliveryOptions, Notification, Urgency } from './notification.ts';
import { createPusher, type Pusher } from './push.ts';
import { openStore, type SubscriptionStore } from './store.ts';
import type { Subscription } from './subscription.ts';

export const APP_NAME = 'Simple Web Push';
const URGENCIES: readonly Urgency[] = ['very-low', 'low', 'normal', 'high'];
// RFC 8030 §5.2: TTL is seconds; 28 days is the longest any push service keeps a message.
const MAX_TTL = 28 * 24 * 60 * 60;
const NO_SUBSCRIPTION = 'no subscription is stored yet: open the page and click Subscribe';

/** A checked request to push a notification: what, how, and to whom. */
export interface SendRequest {
  notification: Notification;
  delivery: DeliveryOptions;
  to: 'latest' | 'all';
}

/** What happened, for a person or a script: counts, and each failure with its push service. */
export interface SendSummary {
  delivered: number;
  removed: number;
  failed: { host: string; status?: number; reason: string }[];
}

/** Checks send options from the CLI or the HTTP API (one parser for both): 400/422 with a reason. */
export function parseSendRequest(input: Record<string, unknown>): SendRequest {
  const body = optionalText(input, 'body', 2000);
  if (!body) throw new HttpError(400, 'the message text (body) is missing');
  const notification: Notification = { title: optionalText(input, 'title', 200) ?? APP_NAME, body };
  for (const name of ['url', 'icon'] as const) {
    const link = optionalText(input, name, 2000);
    if (link === undefined) continue;
    if (!/^(https?:\/\/|\/(?!\/))/.test(link)) {
      throw new HttpError(422, `${name} must start with https://, http:// or /`);
    }
    notification[name] = link;
  }
  const tag = optionalText(input, 'tag', 200);
  if (tag) notification.tag = tag;

  const delivery: DeliveryOptions = {};
  if (input.ttl !== undefined) {
    const raw = input.ttl;
    const ttl =
      typeof raw === 'number' || (typeof raw === 'string' && /^\d+$/.test(raw)) ? Number(raw) : NaN;
    if (!Number.isInteger(ttl) || ttl < 0 || ttl > MAX_TTL) {
      throw new HttpError(422, `ttl must be whole seconds from 0 to ${MAX_TTL}`);
    }
    delivery.ttl = ttl;
  }
  if (input.urgency !== undefined) {
    const urgency = URGENCIES.find((u) => u === input.urgency);
    if (!urgency) throw new HttpError(422, `urgency must be one of ${URGENCIES.join(', ')}`);
    delivery.urgency = urgency;
  }
  const topic = optionalText(input, 'topic', 32);
  if (topic !== undefined) {
    // RFC 8030 §5.4: at most 32 characters of the URL-safe base64 alphabet.
    if (!/^[A-Za-z0-9_-]+$/.test(topic))
      throw new HttpError(422, 'topic must be base64url characters');
    delivery.topic = topic;
  }
  const to = input.to ?? 'latest';
  if (to !== 'latest' && to !== 'all') throw new HttpError(422, 'to must be "latest" or "all"');
  return { notification, delivery, to };
}

/** Pushes to the latest or every stored subscription; 409 when there is none. */
export async function sendToStored(
  deps: { store: SubscriptionStore; pusher: Pusher },
  request: SendRequest,
  onProgress?: (done: number, total: number) => void,
): Promise<SendSummary> {
  const latest = deps.store.latest();
  const targets = request.to === 'all' ? deps.store.list() : latest ? [latest] : [];
  if (targets.length === 0) throw new HttpError(409, NO_SUBSCRIPTION);
  return deliver(deps, targets, request.notification, request.delivery, onProgress);
}

/** What `npm run send` does: open the store and keys on disk, push, and close the connections. */
export async function sendFromDisk(
  config: Config,
  request: SendRequest,
  onProgress?: (done: number, total: number) => void,
): Promise<SendSummary> {
  const store = await openStore(config.subscriptionFile);
  // Checked before the keys: with nothing stored, that is the problem to tell.
  if (!store.latest()) throw new HttpError(409, NO_SUBSCRIPTION);
  const keys = await loadKeys(config);
  if (!keys) throw new ConfigError(`no VAPID keys in ${config.vapidFile}: start the server first`);
  const pusher = createPusher({ vapid: keys, allowlist: config.pushAllowedHosts });
  try {
    return await sendToStored({ store, pusher }, request, onProgress);
  } finally {
    await pusher.close();
  }
}

/** Pushes to the given subscriptions and removes those the push service says are gone. */
export async function deliver(
  deps: { store: SubscriptionStore; pusher: Pusher },
  targets: readonly Subscription[],
  notification: Notification,
  delivery: DeliveryOptions = {},
  onProgress?: (done: number, total: number) => void,
): Promise<SendSummary> {
  const report = await deps.pusher.send(targets, notification, delivery, onProgress);
  const removed = await deps.store.remove(report.gone);
  const failed = report.failed.map(({ endpoint, status, reason }) => ({
    host: hostOf(endpoint),
    ...(status ? { status } : {}),
    reason,
  }));
  return { delivered: report.delivered, removed, failed };
}

/** The endpoint's host: enough to tell push services apart without logging the whole capability URL. */
export function hostOf(endpoint: string): string {
  try {
    return new URL(endpoint).host;
  } catch {
    return '(invalid endpoint)';
  }
}

function optionalText(
  input: Record<string, unknown>,
  name: string,
  max: number,
): string | undefined {
  const value = input[name];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') throw new HttpError(400, `${name} must be a string`);
  if (value.length > max) throw new HttpError(422, `${name} is longer than ${max} characters`);
  return value;
}

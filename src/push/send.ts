import type { Config } from '../config.ts';
import { ConfigError, HttpError } from '../errors.ts';
import { loadKeys } from '../keys.ts';
import { openStore, type SubscriptionStore } from '../store/store.ts';
import type { Subscription } from '../store/subscription.ts';
import type { DeliveryOptions, Notification } from './notification.ts';
import { createConfiguredPusher, type Pusher } from './pusher.ts';
import type { SendRequest, SendSummary } from './send-request.ts';

const NO_SUBSCRIPTION = 'no subscription is stored yet: open the page and click Subscribe';

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
  const pusher = createConfiguredPusher(config, keys);
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

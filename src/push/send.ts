import type { Config } from '../config.ts';
import { ConfigError, HttpError } from '../errors.ts';
import { loadKeys } from '../keys.ts';
import { openStore, type SubscriptionStore } from '../store/store.ts';
import type { Subscription } from '../store/subscription.ts';
import { encodePayload } from './declarative.ts';
import type { DeliveryOptions, Notification } from './notification.ts';
import { firstOrigin } from './origin.ts';
import { createConfiguredPusher, type Pusher, type Report } from './pusher.ts';
import type { SendRequest, SendSummary } from './send-request.ts';

const NO_SUBSCRIPTION = 'no subscription is stored yet: open the page and click Subscribe';

/** What a send needs: the subscriptions, the pusher, and where links point for old entries. */
export interface SendDeps {
  store: SubscriptionStore;
  pusher: Pusher;
  /** The server's first origin: links of subscriptions stored without their own origin. */
  firstOrigin: () => string;
}

/** Pushes to the latest or every stored subscription; 409 when there is none. */
export async function sendToStored(
  deps: SendDeps,
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
  // As the server would answer with its configured ports (it cannot be asked: it may not run).
  const origin = firstOrigin(config.host, config.port, config.httpPort);
  try {
    return await sendToStored({ store, pusher, firstOrigin: () => origin }, request, onProgress);
  } finally {
    await pusher.close();
  }
}

/** Pushes to the given subscriptions and removes those the push service says are gone. */
export async function deliver(
  deps: SendDeps,
  targets: readonly Subscription[],
  notification: Notification,
  delivery: DeliveryOptions = {},
  onProgress?: (done: number, total: number) => void,
): Promise<SendSummary> {
  // Links are absolute in the payload, so subscribers at another origin (a phone on the LAN, the
  // laptop at localhost) get a payload of their own: encoded once per origin, every one checked
  // against the size limit before anything is sent.
  const groups = byOrigin(targets, deps.firstOrigin());
  const sends = [...groups].map(([origin, group]) => ({
    payload: encodePayload(notification, origin),
    group,
  }));
  const report: Report = { delivered: 0, gone: [], failed: [] };
  let before = 0;
  for (const { payload, group } of sends) {
    const progress = onProgress && ((done: number) => onProgress(before + done, targets.length));
    const part = await deps.pusher.send(group, payload, delivery, progress);
    report.delivered += part.delivered;
    report.gone.push(...part.gone);
    report.failed.push(...part.failed);
    before += group.length;
  }
  const removed = await deps.store.remove(report.gone);
  const failed = report.failed.map(({ endpoint, status, reason }) => ({
    host: hostOf(endpoint),
    ...(status ? { status } : {}),
    reason,
  }));
  return { delivered: report.delivered, removed, failed };
}

/** The targets by the origin their links resolve against: usually one, at most a few. */
function byOrigin(targets: readonly Subscription[], fallback: string) {
  const groups = new Map<string, Subscription[]>();
  for (const subscription of targets) {
    const origin = subscription.origin ?? fallback;
    const group = groups.get(origin);
    if (group) group.push(subscription);
    else groups.set(origin, [subscription]);
  }
  return groups;
}

/** The endpoint's host: enough to tell push services apart without logging the whole capability URL. */
export function hostOf(endpoint: string): string {
  try {
    return new URL(endpoint).host;
  } catch {
    return '(invalid endpoint)';
  }
}

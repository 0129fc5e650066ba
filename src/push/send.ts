import type { Config } from '../config.ts';
import { ConfigError, HttpError } from '../errors.ts';
import { loadKeys } from '../keys.ts';
import type { LastResult } from '../store/device-fields.ts';
import { findDevice, listDevices } from '../store/devices.ts';
import { openStore, type SubscriptionStore } from '../store/store.ts';
import type { Subscription } from '../store/subscription.ts';
import { encodePayload } from './declarative.ts';
import type { DeliveryOptions, Notification } from './notification.ts';
import { firstOrigin } from './origin.ts';
import { createConfiguredPusher, type Pusher, type Report } from './pusher.ts';
import type { Recipient, SendRequest, SendSummary } from './send-request.ts';

const NO_SUBSCRIPTION = 'no subscription is stored yet: open the page and click Subscribe';
// A push service's reason is shown in terminals and pages: no escape sequences from afar.
const CONTROL = /\p{Cc}/gu;

/**
 * What a send needs: the subscriptions, the pusher, where links point for subscriptions stored
 * without their origin, and `log`, which hears of a failed save of its results (no one waits for it).
 */
export interface SendDeps {
  store: SubscriptionStore;
  pusher: Pusher;
  /** The server's first origin: links of subscriptions stored without their own origin. */
  firstOrigin: () => string;
  log: (line: string) => void;
}

/** Pushes to the latest, every, or the named stored subscription; 409 when none is stored, 422 for an unknown name. */
export async function sendToStored(
  deps: SendDeps,
  request: SendRequest,
  onProgress?: (done: number, total: number) => void,
): Promise<SendSummary> {
  const targets = targetsOf(deps.store, request.to);
  if (targets.length === 0) throw new HttpError(409, NO_SUBSCRIPTION);
  return deliver(deps, targets, request.notification, request.delivery, onProgress);
}

function targetsOf(store: SubscriptionStore, to: Recipient): Subscription[] {
  if (to === 'all') return store.list();
  const latest = store.latest();
  if (!latest) return [];
  if (to === 'latest') return [latest];
  const { endpoint } = findDevice(listDevices(store.list()), to.name);
  return [store.get(endpoint) as Subscription];
}

/** What `npm run send` does: open the store and keys on disk, push, save the results, close the connections. */
export async function sendFromDisk(
  config: Config,
  request: SendRequest,
  options: { log: (line: string) => void; onProgress?: (done: number, total: number) => void },
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
    const deps = { store, pusher, firstOrigin: () => origin, log: options.log };
    return await sendToStored(deps, request, options.onProgress);
  } finally {
    // The results wait for a write to share (store.record): this process has no other to come.
    await store.flush();
    await pusher.close();
  }
}

/** Pushes to the given subscriptions, removes those the push service says are gone, and records each one's result. */
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
  // Not waited for: the results share the store's next write, so a POST's welcome push costs
  // it no write of its own. A failed write is said in the log; the results stay in memory.
  deps.store.record(resultsOf(targets, report)).catch((error: Error) => {
    const why = error.cause instanceof Error ? `: ${error.cause.message}` : '';
    deps.log(`the results of a send were not saved: ${error.message}${why}`);
  });
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

/**
 * Each target's result: the failures with their reasons, and the rest delivered but the gone
 * (they leave the list). The pusher accounts for every push (Report); should its counts ever
 * not add up, only the failures are recorded, never a delivery that may not have happened.
 */
function resultsOf(targets: readonly Subscription[], report: Report): Map<string, LastResult> {
  const at = new Date().toISOString();
  const results = new Map<string, LastResult>();
  for (const { endpoint, status, reason } of report.failed) {
    const said = reason.replace(CONTROL, ' ');
    results.set(endpoint, { at, outcome: 'failed', ...(status ? { status } : {}), reason: said });
  }
  const { delivered, gone, failed } = report;
  if (delivered !== targets.length - gone.length - failed.length) return results;
  const goneSet = new Set(gone);
  const ok: LastResult = { at, outcome: 'delivered' };
  for (const { endpoint } of targets) {
    if (!goneSet.has(endpoint) && !results.has(endpoint)) results.set(endpoint, ok);
  }
  return results;
}

/** The endpoint's host: enough to tell push services apart without logging the whole capability URL. */
export function hostOf(endpoint: string): string {
  try {
    return new URL(endpoint).host;
  } catch {
    return '(invalid endpoint)';
  }
}

import { HttpError } from '../errors.ts';
import type { DeliveryOptions } from '../push/options.ts';
import type { Pusher, Report } from '../push/pusher.ts';
import type { LastResult } from '../store/device-fields.ts';
import type { SubscriptionStore } from '../store/store.ts';
import type { Subscription } from '../store/subscription.ts';
import { encodePayload } from './declarative.ts';
import type { Notification } from './notification.ts';
import type { SendSummary } from './send-request.ts';

// A push service's reason is shown in terminals and pages: no escape sequences from afar.
const CONTROL = /\p{Cc}/gu;

/**
 * What delivering needs: `firstOrigin` is where links point for subscriptions stored without
 * their own origin; `log` hears of a failed save of the results, which no one waits for.
 */
export interface DeliverDeps {
  store: SubscriptionStore;
  pusher: Pusher;
  firstOrigin: () => string;
  log: (line: string) => void;
}

/** Pushes to the given subscriptions, removes those the push service says are gone, and records each one's result. */
export async function deliver(
  deps: DeliverDeps,
  targets: readonly Subscription[],
  notification: Notification,
  delivery: DeliveryOptions = {},
  onProgress?: (done: number, total: number) => void,
): Promise<SendSummary> {
  const { summary, results } = await pushAndPrune(
    deps,
    targets,
    notification,
    delivery,
    onProgress,
  );
  recordResults(deps, results);
  return summary;
}

/** Pushes and removes the gone ones, as deliver does; the results are the caller's to record. */
export async function pushAndPrune(
  deps: DeliverDeps,
  targets: readonly Subscription[],
  notification: Notification,
  delivery: DeliveryOptions = {},
  onProgress?: (done: number, total: number) => void,
): Promise<{ summary: SendSummary; results: Map<string, LastResult> }> {
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
  const summary = { delivered: report.delivered, removed, failed };
  return { summary, results: resultsOf(targets, report) };
}

/**
 * Not waited for: the results share the store's next write, so a POST's welcome push costs it
 * no write of its own. A failed write is said in the log (the results stay in memory), except a
 * lost database, which is said once already (by the server, or by the send's own error).
 */
export function recordResults(deps: DeliverDeps, results: ReadonlyMap<string, LastResult>): void {
  deps.store.record(results).catch((error: Error) => {
    if (error instanceof HttpError && error.status === 503) return;
    const why = error.cause instanceof Error ? `: ${error.cause.message}` : '';
    deps.log(`the results of a send were not saved: ${error.message}${why}`);
  });
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

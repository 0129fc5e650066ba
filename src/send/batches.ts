import type { DeliveryOptions } from '../push/options.ts';
import type { LastResult } from '../store/device-fields.ts';
import type { Span } from '../store/store.ts';
import { type DeliverDeps, deliver, pushAndPrune, recordResults } from './deliver.ts';
import type { Notification } from './notification.ts';
import type { SendRequest, SendSummary } from './send-request.ts';

// Batches in flight at once in one process: the next one's requests start while the last few of
// the one before are still waiting for their answers.
export const BATCHES_IN_FLIGHT = 2;

/** Shares a send of several batches with every worker on the database (queue.ts). */
export interface SharedSend {
  send(
    spans: readonly Span[],
    request: SendRequest,
    onProgress?: (done: number, total: number) => void,
  ): Promise<SendSummary>;
}

/** Sends to the subscriptions of one span, read when it is its turn, and removes the gone ones. */
export async function sendSpan(
  deps: DeliverDeps,
  span: Span,
  notification: Notification,
  delivery: DeliveryOptions,
  onProgress?: (done: number) => void,
): Promise<SendSummary> {
  const targets = await deps.store.read(span);
  if (targets.length === 0) return emptySummary();
  return deliver(deps, targets, notification, delivery, onProgress);
}

/**
 * Works every span in this process, BATCHES_IN_FLIGHT at a time; one report for them all, and
 * their results recorded together at the end (subscription.json is then written once for them,
 * not once a second through the send).
 */
export async function sendSpans(
  deps: DeliverDeps,
  spans: readonly Span[],
  request: SendRequest,
  onProgress?: (done: number, total: number) => void,
): Promise<SendSummary> {
  const { notification, delivery } = request;
  const total = spans.reduce((sum, span) => sum + span.count, 0);
  const summary = emptySummary();
  const results = new Map<string, LastResult>();
  let [next, done] = [0, 0];
  const worker = async () => {
    while (next < spans.length) {
      const targets = await deps.store.read(spans[next++] as Span);
      if (targets.length === 0) continue;
      let counted = 0;
      const part = await pushAndPrune(deps, targets, notification, delivery, (d) => {
        done += d - counted;
        counted = d;
        onProgress?.(done, total);
      });
      addTo(summary, part.summary);
      for (const [endpoint, result] of part.results) results.set(endpoint, result);
    }
  };
  await Promise.all(Array.from({ length: Math.min(BATCHES_IN_FLIGHT, spans.length) }, worker));
  recordResults(deps, results);
  return summary;
}

export function emptySummary(): SendSummary {
  return { delivered: 0, removed: 0, failed: [] };
}

/** Adds `part` to `summary`: counts summed, failures appended. */
export function addTo(summary: SendSummary, part: SendSummary): void {
  summary.delivered += part.delivered;
  summary.removed += part.removed;
  for (const failure of part.failed) summary.failed.push(failure);
}

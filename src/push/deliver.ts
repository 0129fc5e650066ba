import type { SubscriptionStore } from '../store/store.ts';
import type { Subscription } from '../store/subscription.ts';
import type { DeliveryOptions, Notification } from './notification.ts';
import type { Pusher } from './pusher.ts';
import type { SendSummary } from './send-request.ts';

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

// One push service's share of a send: the bodies a batch at a time, in order, and up to
// `concurrency` requests in flight, each started as soon as a body and a slot are free.
import type { Subscription } from '../store/subscription.ts';
import { BATCH, type BatchOf } from './bodies.ts';
import type { Outcome, Pace, Push } from './delivery.ts';

/** A subscription with its endpoint parsed once: the push service's origin and the path. */
export interface Target {
  subscription: Subscription;
  origin: string;
  path: string;
}

export interface FanOut {
  targets: readonly Target[];
  batchOf: BatchOf;
  headers: Record<string, string>;
  deliver: (push: Push, pace: Pace) => Promise<Outcome>;
  /** Hears of every target's outcome, once. */
  account: (endpoint: string, outcome: Outcome) => void;
  concurrency: number;
}

/** Sends to one push service's targets; resolves when every one is accounted for. */
export async function fanOut(options: FanOut): Promise<void> {
  const { targets, batchOf, headers, deliver, account, concurrency } = options;
  const pace: Pace = { pausedUntil: 0 };
  let inFlight = 0;
  // The send loop, while a body waits for a free slot; the end, while the last answers are due.
  let slotFreed: (() => void) | undefined;
  let allAnswered: (() => void) | undefined;
  const settle = (endpoint: string, outcome: Outcome) => {
    account(endpoint, outcome);
    inFlight--;
    const resume = slotFreed ?? (inFlight === 0 ? allAnswered : undefined);
    slotFreed = undefined;
    resume?.();
  };
  for (let first = 0; first < targets.length; first += BATCH) {
    const count = Math.min(BATCH, targets.length - first);
    // Every target is accounted for, even if its batch could not be had at all.
    const bodies = await batchOf(first / BATCH).catch((error: unknown) =>
      new Array<string>(count).fill(`could not encrypt: ${String(error)}`),
    );
    for (const [i, body] of bodies.entries()) {
      const { subscription, origin, path } = targets[first + i] as Target;
      const { endpoint } = subscription;
      if (typeof body === 'string') {
        account(endpoint, { endpoint, reason: body });
        continue;
      }
      if (inFlight >= concurrency) {
        await new Promise<void>((resolve) => {
          slotFreed = resolve;
        });
      }
      inFlight++;
      deliver({ endpoint, origin, path, body, headers }, pace).then(
        (outcome) => settle(endpoint, outcome),
        (error: unknown) => settle(endpoint, { endpoint, reason: String(error) }),
      );
    }
  }
  if (inFlight > 0) {
    await new Promise<void>((resolve) => {
      allAnswered = resolve;
    });
  }
}

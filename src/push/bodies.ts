// Where a send's encrypted bodies come from: this thread for a small send, the worker pool for a
// large one. Either way they are asked for a batch at a time, in the order of the send.

import type { Subscription } from '../store/subscription.ts';
import { bodyOrReason, createEncryptor } from './encrypt.ts';
import type { Bodies, EncryptPool } from './encrypt-pool.ts';

/**
 * The bodies of batch `k`: of the subscriptions k * BATCH up to (k + 1) * BATCH, in order, each
 * encrypted or the reason it could not be. A send asks for its batches in order, each once.
 */
export type BatchOf = (batch: number) => Promise<Bodies>;

/** Keys sent to a worker at once, bodies back in one transferred buffer. */
export const BATCH = 32;

/** Encrypts each batch when it is asked for, on this thread. */
export function encryptHere(payload: Buffer, subscriptions: readonly Subscription[]): BatchOf {
  const encrypt = createEncryptor();
  return async (batch) =>
    subscriptions
      .slice(batch * BATCH, (batch + 1) * BATCH)
      .map(({ keys }) => bodyOrReason(encrypt, payload, keys.p256dh, keys.auth));
}

/**
 * Encrypts in the pool, `ahead` batches beyond the one asked for: the workers keep pace with
 * sending without encrypting the whole send up front. While the batch asked for is not ready,
 * this thread encrypts the batches no worker has taken yet, one at a time between its network
 * work, rather than wait: on two cores one worker is the slower side (docs/performance.md).
 */
export function encryptInPool(
  pool: EncryptPool,
  payload: Buffer,
  subscriptions: readonly Subscription[],
  ahead: number,
): BatchOf {
  const batches: (Promise<Bodies> | undefined)[] = [];
  const ready: boolean[] = [];
  let queued = 0;
  return async (batch) => {
    for (; queued <= batch + ahead && queued * BATCH < subscriptions.length; queued++) {
      const from = queued * BATCH;
      const k = queued;
      batches[k] = pool.encrypt(payload, subscriptions.slice(from, from + BATCH));
      batches[k].then(() => {
        ready[k] = true;
      });
    }
    const bodies = batches[batch] as Promise<Bodies>;
    // Each batch is asked for once: its bodies are let go once sent.
    batches[batch] = undefined;
    // Between two batches, the answers that came in and the workers' replies are handled.
    while (!ready[batch] && pool.encryptQueuedHere()) await new Promise(setImmediate);
    return bodies;
  };
}

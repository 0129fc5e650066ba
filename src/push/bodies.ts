// Where a send's encrypted bodies come from: this thread for a small send, the worker pool for a
// large one. Either way a body is asked for by the index of its subscription in the send.

import type { Subscription } from '../store/subscription.ts';
import { createEncryptor, encryptionProblem } from './encrypt.ts';
import type { Bodies, EncryptPool } from './encrypt-pool.ts';

/** The body for the subscription at `index`, or why it could not be encrypted. */
export type BodyOf = (index: number) => Promise<Buffer | string>;

/** Keys sent to a worker at once, bodies back in one transferred buffer. */
export const BATCH = 32;

/** Encrypts each body when it is asked for, on this thread. */
export function encryptHere(payload: Buffer, subscriptions: readonly Subscription[]): BodyOf {
  const encrypt = createEncryptor();
  return async (index) => {
    const { keys } = subscriptions[index] as Subscription;
    try {
      return encrypt(payload, keys.p256dh, keys.auth);
    } catch (error) {
      return encryptionProblem(error);
    }
  };
}

/**
 * Encrypts in the pool, a batch at a time, `ahead` batches beyond the one asked for: the workers
 * keep pace with sending without encrypting the whole send up front.
 */
export function encryptInPool(
  pool: EncryptPool,
  payload: Buffer,
  subscriptions: readonly Subscription[],
  ahead: number,
): BodyOf {
  const batches: Promise<Bodies>[] = [];
  return async (index) => {
    const batch = Math.floor(index / BATCH);
    for (let k = batch; k <= batch + ahead && k * BATCH < subscriptions.length; k++) {
      batches[k] ??= pool.encrypt(payload, subscriptions.slice(k * BATCH, (k + 1) * BATCH));
    }
    const bodies = await (batches[batch] as Promise<Bodies>);
    return bodies[index % BATCH] as Buffer | string;
  };
}

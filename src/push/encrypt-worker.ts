// An encryption worker (src/encrypt-pool.ts): gets a batch of subscription keys, and the payload
// when it changed, and answers with every body in one transferred ArrayBuffer.
import { parentPort } from 'node:worker_threads';
import { bodyOrReason, createEncryptor } from './encrypt.ts';

/** A batch to encrypt: keys as [p256dh, auth, p256dh, auth, ...]. */
export interface EncryptBatch {
  id: number;
  payload?: Uint8Array;
  keys: string[];
}

/** Body i is bytes ends[i-1]..ends[i] of `bodies`; a failed one is empty, its reason in `problems`. */
export interface EncryptedBatch {
  id: number;
  bodies: ArrayBuffer;
  ends: Uint32Array;
  problems: (string | undefined)[];
}

let payload: Buffer = Buffer.alloc(0);
const encrypt = createEncryptor();

parentPort?.on('message', ({ id, payload: next, keys }: EncryptBatch) => {
  if (next) payload = Buffer.from(next.buffer, next.byteOffset, next.byteLength);
  const count = keys.length / 2;
  const parts: Buffer[] = [];
  const problems: (string | undefined)[] = [];
  const ends = new Uint32Array(count);
  let length = 0;
  for (let i = 0; i < count; i++) {
    const body = bodyOrReason(encrypt, payload, keys[2 * i] as string, keys[2 * i + 1] as string);
    if (typeof body === 'string') problems[i] = body;
    else {
      parts.push(body);
      length += body.length;
    }
    ends[i] = length;
  }
  const bodies = new ArrayBuffer(length);
  const view = new Uint8Array(bodies);
  let offset = 0;
  for (const part of parts) {
    view.set(part, offset);
    offset += part.length;
  }
  const answer: EncryptedBatch = { id, bodies, ends, problems };
  parentPort?.postMessage(answer, [bodies, ends.buffer]);
});

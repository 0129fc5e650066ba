// Encryption on the other cores: a few worker threads, started on demand, each fed batches of
// subscription keys. Loaded only for large sends (src/push.ts).
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import type { Subscription } from '../store/subscription.ts';
import { bodyOrReason, createEncryptor, type Encrypt } from './encrypt.ts';
import type { EncryptBatch, EncryptedBatch } from './encrypt-worker.ts';

/** A body per subscription, in order, or the reason it could not be made. */
export type Bodies = (Buffer | string)[];

export interface EncryptPool {
  encrypt(payload: Buffer, subscriptions: readonly Subscription[]): Promise<Bodies>;
  /** Encrypts the batch queued last, that no worker has taken yet, on this thread; false if none waits. */
  encryptQueuedHere(): boolean;
  /** Terminates the workers; what they still had fails with "shutting down". */
  close(): Promise<void>;
}

export interface EncryptPoolOptions {
  size?: number;
  /** The worker's entry: src/encrypt-worker, or a test's stand-in. */
  entry?: URL;
}

/** One worker per core beside the main thread's, which does the HTTP; at least one, at most 4. */
export function defaultPoolSize(): number {
  return Math.min(4, Math.max(1, availableParallelism() - 1));
}

// .ts under tsx or Node's type stripping, .js when built: the worker is loaded the same way.
const WORKER = new URL(
  import.meta.url.endsWith('.ts') ? './encrypt-worker.ts' : './encrypt-worker.js',
  import.meta.url,
);
// One batch being encrypted and two waiting: a worker keeps busy while the main thread, which
// hands it the next, is busy with the network or encrypting a batch itself (bodies.ts).
const BATCHES_PER_WORKER = 3;

interface Job {
  id: number;
  payload: Buffer;
  keys: string[];
  resolve(bodies: Bodies): void;
}

interface Slot {
  worker: Worker;
  jobs: Map<number, Job>;
  payload?: Buffer;
}

/** Workers that encrypt batches; each dead one fails its batches and is replaced on demand. */
export function createEncryptPool(options: EncryptPoolOptions = {}): EncryptPool {
  const { size = defaultPoolSize(), entry = WORKER } = options;
  const slots: Slot[] = [];
  const queue: Job[] = [];
  let nextId = 0;
  let closed = false;
  let here: Encrypt | undefined;

  const fail = (job: Job, reason: string) =>
    job.resolve(new Array(job.keys.length / 2).fill(reason));

  function spawn(): Slot {
    const slot: Slot = { worker: startWorker(entry), jobs: new Map() };
    const { worker, jobs } = slot;
    worker.unref();
    worker.on('message', ({ id, bodies, ends, problems }: EncryptedBatch) => {
      const job = jobs.get(id);
      if (!job) return;
      jobs.delete(id);
      let start = 0;
      job.resolve(
        Array.from(ends, (end, i) => {
          const body = problems[i] ?? Buffer.from(bodies, start, end - start);
          start = end;
          return body;
        }),
      );
      pump();
    });
    const die = (reason: string) => {
      const index = slots.indexOf(slot);
      if (index !== -1) slots.splice(index, 1);
      for (const job of jobs.values()) fail(job, closed ? 'not sent: shutting down' : reason);
      jobs.clear();
      if (!closed) pump();
    };
    worker.on('error', (error) => die(`encryption worker failed: ${error.message}`));
    worker.on('exit', (code) => die(`encryption worker exited (code ${code}) before encrypting`));
    slots.push(slot);
    return slot;
  }

  function pump(): void {
    while (queue.length > 0) {
      if (closed) {
        for (const job of queue.splice(0)) fail(job, 'not sent: shutting down');
        return;
      }
      let slot = slots.find((s) => s.jobs.size < BATCHES_PER_WORKER);
      if (!slot && slots.length < size) slot = spawn();
      if (!slot) break;
      const job = queue.shift() as Job;
      const batch: EncryptBatch = { id: job.id, keys: job.keys };
      // Messages on one port arrive in order: the payload goes once, before its first batch.
      if (slot.payload !== job.payload) batch.payload = job.payload;
      slot.payload = job.payload;
      slot.jobs.set(job.id, job);
      slot.worker.postMessage(batch);
    }
    // A worker with work holds the process open (the send awaits it); an idle one never does.
    for (const { worker, jobs } of slots) {
      if (jobs.size > 0) worker.ref();
      else worker.unref();
    }
  }

  return {
    encrypt(payload, subscriptions) {
      const keys = subscriptions.flatMap(({ keys }) => [keys.p256dh, keys.auth]);
      return new Promise((resolve) => {
        queue.push({ id: nextId++, payload, keys, resolve });
        pump();
      });
    },
    encryptQueuedHere() {
      const job = closed ? undefined : queue.pop();
      if (!job) return false;
      here ??= createEncryptor();
      const { payload, keys } = job;
      const bodies: Bodies = [];
      for (let i = 0; i < keys.length; i += 2) {
        bodies.push(bodyOrReason(here, payload, keys[i] as string, keys[i + 1] as string));
      }
      job.resolve(bodies);
      return true;
    },
    async close() {
      closed = true;
      pump();
      // Held open until each has exited: close() waits for those exits.
      await Promise.all(
        slots.map(({ worker }) => {
          worker.ref();
          return worker.terminate();
        }),
      );
    },
  };
}

function startWorker(entry: URL): Worker {
  const { typescript } = process.features as { typescript?: string | false };
  if (!entry.pathname.endsWith('.ts') || typescript) return new Worker(entry);
  // Sources on Node 20 under tsx: its --import hooks do not reach a worker, so it registers them.
  const tsx = JSON.stringify(import.meta.resolve('tsx/esm/api'));
  const code = `import(${tsx}).then((tsx) => { tsx.register(); return import(${JSON.stringify(entry.href)}); })`;
  return new Worker(code, { eval: true });
}

// The job queue of shared sends (pg-boss, in the database's pgboss schema), and this process's
// worker on it. Loaded only with DATABASE_URL.
import PgBoss from 'pg-boss';
import { HttpError } from '../errors.ts';
import type { Pusher } from '../push/pusher.ts';
import type { Database } from '../store/postgres/database.ts';
import { isUnreachable } from '../store/postgres/errors.ts';
import type { Span, SubscriptionStore } from '../store/store.ts';
import { BATCHES_IN_FLIGHT, type SharedSend, sendSpan } from './batches.ts';
import { hostOf } from './deliver.ts';
import type { SendSummary } from './send-request.ts';
import { type BatchJob, type BatchResult, QUEUE, startSharedSend } from './shared-send.ts';

// Any constant: the advisory lock around starting pg-boss.
const QUEUE_LOCK_KEY = 7_365_420_020;
// An idle worker asks for jobs this often; a send started here wakes it at once.
const POLL_MS = 1_000;

export interface QueueDeps {
  store: SubscriptionStore;
  pusher: Pusher;
  database: Database;
  /** Where links point for subscriptions stored without their own origin. */
  firstOrigin: () => string;
  /** SEND_LEASE_SECONDS: a batch whose worker holds it longer is given to another. */
  leaseSeconds: number;
  log: (line: string) => void;
  /** A line for each batch done (the servers; the send CLI has its own report). */
  logBatches?: boolean;
}

/** This process's place in the queue: it shares its own sends, and works everyone's batches. */
export interface SendQueue extends SharedSend {
  /** Takes no more batches, finishes those in hand. */
  close(): Promise<void>;
}

/**
 * Starts pg-boss on the database (creating or migrating its schema) and a worker that takes up
 * to BATCHES_IN_FLIGHT batches at a time, from any server's sends. pg-boss's maintenance gives a
 * batch whose lease ran out (its worker died) to another worker.
 */
export async function startSendQueue(deps: QueueDeps): Promise<SendQueue> {
  const { database, leaseSeconds, log } = deps;
  const boss = new PgBoss({
    db: { executeSql: database.executeSql as PgBoss.Db['executeSql'] },
    schedule: false,
    supervise: true,
    migrate: true,
    // Expired leases are found within a quarter of a lease after they run out.
    maintenanceIntervalSeconds: Math.min(60, Math.max(1, Math.floor(leaseSeconds / 4))),
  });
  // While the database is away the store says so once; other queue errors are worth a line each.
  boss.on('error', (error: Error) => {
    if (!isUnreachable(error)) log(`job queue: ${error.message}`);
  });
  // pg-boss installs its schema on the first start; two at once can collide (seen here: a
  // duplicate pgboss schema), so processes start it one at a time.
  await database.exclusive(QUEUE_LOCK_KEY, async () => {
    await boss.start();
    await boss.createQueue(QUEUE);
  });

  // Results of batches of sends waiting in this process, also when they could not be written.
  const waiting = new Map<string, Map<number, BatchResult>>();
  const inHand = new Set<Promise<void>>();
  let stopping = false;
  const signal = createSignal();

  const work = async (job: PgBoss.Job<BatchJob>) => {
    const { send, span, notification, delivery, deadline } = job.data;
    try {
      const late = Date.now() > deadline;
      const summary = late
        ? await dropped(deps.store, span)
        : await sendSpan(deps, span, JSON.parse(notification), delivery);
      waiting.get(send)?.set(span.after, { span, summary });
      const { delivered, removed, failed } = summary;
      const values: unknown[] = [send, span.after, span.count, delivered, removed];
      values.push(JSON.stringify(failed), failed.length, late);
      // The first result of a batch counts: a batch done twice (a lease lost) is reported once.
      await database.query(
        `INSERT INTO web_push.send_results
           (send_id, span_after, span_count, delivered, removed, failed, failed_count, dropped)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING`,
        values,
      );
      await boss.complete(QUEUE, job.id);
      if (deps.logBatches) {
        log(
          `send batch (${span.count} subscriptions): delivered ${delivered}, removed ${removed}, failed ${failed.length}${late ? ' (dropped: past its deadline)' : ''}`,
        );
      }
    } catch (error) {
      // Left active: once its lease runs out, a worker (maybe this one) takes it over. Losing
      // the database is said once by the store; anything else is worth a line.
      const lost = error instanceof HttpError && error.status === 503;
      if (!lost && !isUnreachable(error)) {
        log(`send batch after position ${span.after}: ${(error as Error).message}`);
      }
    }
  };

  const loop = (async () => {
    while (!stopping) {
      const free = BATCHES_IN_FLIGHT - inHand.size;
      // fetch() answers [] when the database is away; this loop just tries again.
      const jobs = free > 0 ? await boss.fetch<BatchJob>(QUEUE, { batchSize: free }) : [];
      for (const job of jobs) {
        const done: Promise<void> = work(job).finally(() => {
          inHand.delete(done);
          signal.poke();
        });
        inHand.add(done);
      }
      // A full hand waits for a batch to finish; an empty queue for the next poll or a new send.
      if (jobs.length < free || inHand.size === BATCHES_IN_FLIGHT) await signal.wait(POLL_MS);
    }
  })();

  const shared = startSharedSend({ ...deps, boss, waiting, wake: signal.poke });
  return {
    send: shared.send,
    async close() {
      stopping = true;
      signal.poke();
      await loop;
      await Promise.all(inHand);
      await boss.stop({ graceful: false, close: false });
    },
  };
}

/** A batch taken after its deadline: nothing sent, each of its subscriptions a failure. */
async function dropped(store: SubscriptionStore, span: Span): Promise<SendSummary> {
  const reason = 'not sent: its batch was still queued when the message’s TTL ran out';
  const failed = (await store.read(span)).map(({ endpoint }) => ({
    host: hostOf(endpoint),
    reason,
  }));
  return { delivered: 0, removed: 0, failed };
}

/** Wakes a waiting loop; a poke while it is busy is kept for its next wait. */
function createSignal() {
  let poked = false;
  let resolve: (() => void) | undefined;
  return {
    poke() {
      poked = true;
      resolve?.();
    },
    async wait(ms: number) {
      if (!poked) {
        await new Promise<void>((done) => {
          const timer = setTimeout(done, ms);
          resolve = () => {
            clearTimeout(timer);
            done();
          };
        });
      }
      resolve = undefined;
      poked = false;
    },
  };
}

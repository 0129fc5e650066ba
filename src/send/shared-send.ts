// A send shared through the queue: its batches become jobs that every worker takes (this
// process's too), and this process waits for them all and combines their results in one report.
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type PgBoss from 'pg-boss';
import { HttpError } from '../errors.ts';
import { DEFAULT_TTL, type DeliveryOptions } from '../push/options.ts';
import type { Database } from '../store/postgres/database.ts';
import { RETRY_AFTER_S, unavailableIfLost } from '../store/postgres/errors.ts';
import type { Span } from '../store/store.ts';
import { addTo, emptySummary } from './batches.ts';
import { encodePayload } from './declarative.ts';
import type { SendRequest, SendSummary } from './send-request.ts';

/** pg-boss's name for the queue of send batches. */
export const QUEUE = 'web-push-send';
// How often the waiting process reads the results; how long it keeps trying without the
// database before it reports what it knows and gives up.
const READ_MS = 250;
const GIVE_UP_MS = 5_000;
// Leases a batch may lose (its worker killed each time) before it is given up on.
const RETRIES = 10;
// Without a new result for this long, the batches still missing are looked up in the queue.
const STALL_MS = 10_000;
const LOOKUPS = 50;

/** One batch of a shared send: a span of the store, and what to send to it. */
export interface BatchJob {
  send: string;
  span: Span;
  /**
   * The notification as JSON text: a jsonb object (pg-boss keeps job data as jsonb) would come
   * back with its keys reordered, and every batch's payload should be the bytes a send to one has.
   */
  notification: string;
  delivery: DeliveryOptions;
  /** Milliseconds since 1970: a batch taken later is dropped (docs/scaling.md). */
  deadline: number;
}

/** What a worker did with a batch of a send that this process waits for. */
export interface BatchResult {
  span: Span;
  summary: SendSummary;
}

interface Row {
  span_after: string;
  span_count: number;
  delivered: number;
  removed: number;
  failed_count: number;
}

/** The `send` of a queue: `waiting` is where its worker puts results for this process's sends. */
export function startSharedSend(deps: {
  database: Database;
  boss: PgBoss;
  leaseSeconds: number;
  /** Where links point for subscriptions stored without their own origin. */
  firstOrigin: () => string;
  waiting: Map<string, Map<number, BatchResult>>;
  /** Wakes this process's worker: there are batches to take. */
  wake: () => void;
}) {
  const { database, boss, waiting, leaseSeconds } = deps;

  async function send(
    spans: readonly Span[],
    request: SendRequest,
    onProgress?: (done: number, total: number) => void,
  ): Promise<SendSummary> {
    const { notification, delivery } = request;
    // A notification too large fails here (413), not in every batch.
    encodePayload(notification, deps.firstOrigin());
    const payload = JSON.stringify(notification);
    const id = randomUUID();
    // The queued-batch rule (docs/scaling.md): a batch is sent while its send is younger than
    // the message's TTL, or than one lease when the TTL is shorter (so a batch can survive its
    // worker's death); a batch taken later is dropped, each of its subscriptions a failure.
    const deadline = Date.now() + Math.max(delivery.ttl ?? DEFAULT_TTL, leaseSeconds) * 1000;
    const jobs = spans.map((span) => ({
      id: randomUUID(),
      name: QUEUE,
      data: { send: id, span, notification: payload, delivery, deadline } satisfies BatchJob,
      expireInSeconds: leaseSeconds,
      retryLimit: RETRIES,
      retryDelay: 0,
      // Kept in the queue past the deadline, so that a worker takes it and reports the drop.
      keepUntil: new Date(deadline + 3_600_000),
    }));
    const mine = new Map<number, BatchResult>();
    waiting.set(id, mine);
    const total = spans.reduce((sum, span) => sum + span.count, 0);
    const seen = new Map<number, Row>();
    try {
      await database.query(
        "DELETE FROM web_push.send_results WHERE finished_at < now() - interval '1 day'",
      );
      await boss.insert(jobs).catch((error: unknown) => {
        throw unavailableIfLost(error);
      });
      deps.wake();
      let lostSince: number | undefined;
      let progressAt = Date.now();
      while (seen.size < spans.length) {
        try {
          const rows = await database.query<Row>(
            `SELECT span_after, span_count, delivered, removed, failed_count
             FROM web_push.send_results WHERE send_id = $1`,
            [id],
          );
          lostSince = undefined;
          if (rows.length > seen.size) progressAt = Date.now();
          for (const row of rows) seen.set(Number(row.span_after), row);
          const done = [...seen.values()].reduce(
            (sum, r) => sum + r.delivered + r.removed + r.failed_count,
            0,
          );
          onProgress?.(done, total);
          if (seen.size < spans.length && Date.now() - progressAt > STALL_MS) {
            await recordLost(jobs, seen);
            progressAt = Date.now();
          }
        } catch (error) {
          if (!(error instanceof HttpError && error.status === 503)) throw error;
          lostSince ??= Date.now();
          if (Date.now() - lostSince > GIVE_UP_MS) throw lost(spans, seen, mine, total);
        }
        if (seen.size < spans.length) await sleep(READ_MS);
      }
      const summary = emptySummary();
      const failures = await database.query<{ failed: SendSummary['failed'] }>(
        `SELECT failed FROM web_push.send_results WHERE send_id = $1 AND failed_count > 0
         ORDER BY span_after`,
        [id],
      );
      for (const row of seen.values()) addTo(summary, { ...row, failed: [] });
      summary.failed = failures.flatMap((row) => row.failed);
      await database.query('DELETE FROM web_push.send_results WHERE send_id = $1', [id]);
      return summary;
    } finally {
      waiting.delete(id);
    }
  }

  /**
   * Batches the queue gave up on (their workers died RETRIES times) or lost: each becomes a
   * result whose subscriptions failed, so the report is complete and the wait ends.
   */
  async function recordLost(jobs: { id: string; data: BatchJob }[], seen: Map<number, Row>) {
    const missing = jobs.filter((job) => !seen.has(job.data.span.after)).slice(0, LOOKUPS);
    for (const job of missing) {
      const found = await boss
        .getJobById<BatchJob>(QUEUE, job.id, { includeArchive: true })
        .catch((error: unknown) => {
          throw unavailableIfLost(error);
        });
      if (found && !['failed', 'cancelled'].includes(found.state)) continue;
      const { span, send } = job.data;
      const reason = `not sent: the queue gave up on its batch after ${RETRIES} lost leases`;
      const failed = [{ host: '(batch)', reason }];
      await database.query(
        `INSERT INTO web_push.send_results
           (send_id, span_after, span_count, delivered, removed, failed, failed_count)
         VALUES ($1, $2, $3, 0, 0, $4, $3) ON CONFLICT DO NOTHING`,
        [send, span.after, span.count, JSON.stringify(Array(span.count).fill(failed[0]))],
      );
    }
  }

  return { send };
}

/** The one line for a send that lost the database: what was delivered, what is still queued. */
function lost(
  spans: readonly Span[],
  seen: Map<number, Row>,
  mine: Map<number, BatchResult>,
  total: number,
): HttpError {
  let [delivered, covered] = [0, 0];
  for (const span of spans) {
    const row = seen.get(span.after);
    const result = mine.get(span.after);
    if (!row && !result) continue;
    delivered += row ? row.delivered : (result?.summary.delivered ?? 0);
    covered += span.count;
  }
  return new HttpError(
    503,
    `lost the database mid-send: delivered ${delivered}, still queued ${total - covered}`,
    { 'Retry-After': String(RETRY_AFTER_S) },
  );
}

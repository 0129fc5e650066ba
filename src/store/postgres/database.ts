import pg from 'pg';
import { ConfigError, HttpError } from '../../errors.ts';
import type { StoreHealth } from '../store.ts';
import { describeDatabase, isUnreachable, reasonOf, unavailable } from './errors.ts';

/** Runs one statement and resolves to its rows. */
export type Query = <T = Record<string, unknown>>(
  text: string,
  values?: unknown[],
  options?: { timeoutMs?: number },
) => Promise<T[]>;

/** A PostgreSQL database (DATABASE_URL) shared by every server and CLI that uses it. */
export interface Database {
  /** One statement on any connection; losing the database becomes a 503 with Retry-After. */
  query: Query;
  /** `work` in one transaction on one connection: committed when it resolves, else rolled back. */
  transaction<T>(work: (query: Query) => Promise<T>): Promise<T>;
  /** `work` while holding a session advisory lock on `key`: one process at a time runs it. */
  exclusive<T>(key: number, work: () => Promise<T>): Promise<T>;
  /** The plain driver call, for the job queue (pg-boss runs its statements through it). */
  executeSql(text: string, values?: unknown[]): Promise<{ rows: unknown[] }>;
  /** Healthy while the database answered within the last few seconds. */
  health(): StoreHealth;
  /** `database "app" on db.example.com:5432`: never the user or password. */
  readonly where: string;
  close(): Promise<void>;
}

// A POST must have its 503 within 10 s when the database is gone: at most 4 s to connect, then
// 5 s for the statement. Longer work (a send's spans, an import) passes its own timeout.
const CONNECT_MS = 4_000;
const QUERY_MS = 5_000;
const HEARTBEAT_MS = 2_000;
// How long a start waits for another process's schema work (migrations, the queue's install).
const LOCK_MS = 120_000;
const HEALTHY_MS = 5_000;

/**
 * Connects to DATABASE_URL and checks that it answers: one line naming the host and database
 * (ConfigError) when it does not. The pool reconnects by itself. With `watch` (the server), a
 * heartbeat keeps health() current and outages and recoveries are logged once each; a CLI has
 * its own one-line errors instead.
 */
export async function connectDatabase(
  url: string,
  log: (line: string) => void,
  { watch = true } = {},
): Promise<Database> {
  const where = describeDatabase(url);
  const pool = new pg.Pool({
    connectionString: url,
    connectionTimeoutMillis: CONNECT_MS,
    query_timeout: QUERY_MS,
    keepAlive: true,
    application_name: 'simple-web-push-server',
  });
  let lastAnswer = 0;
  let down: string | undefined;
  const answered = () => {
    lastAnswer = Date.now();
    if (down !== undefined && watch) log(`The ${where} answers again.`);
    down = undefined;
  };
  const failed = (error: unknown) => {
    const reason = reasonOf(error, url);
    if (down === undefined && watch) {
      log(`Lost the ${where} (${reason}): subscribing answers 503 until it is back.`);
    }
    down = reason;
  };
  // An idle connection the server closed (a restart): the pool drops it and connects anew.
  pool.on('error', failed);

  const guard = async <T>(run: () => Promise<T>): Promise<T> => {
    try {
      const result = await run();
      answered();
      return result;
    } catch (error) {
      if (!isUnreachable(error)) throw error;
      failed(error);
      throw unavailable(error);
    }
  };
  const query: Query = (text, values, options = {}) =>
    guard(async () => {
      const config = { text, values, query_timeout: options.timeoutMs ?? QUERY_MS };
      return (await pool.query(config)).rows;
    });

  const database: Database = {
    query,
    async transaction(work) {
      const client = await guard(() => pool.connect());
      let failure: unknown;
      try {
        const inside: Query = (text, values, options = {}) =>
          guard(async () => {
            const config = { text, values, query_timeout: options.timeoutMs ?? QUERY_MS };
            return (await client.query(config)).rows;
          });
        await inside('BEGIN');
        const result = await work(inside);
        await inside('COMMIT');
        return result;
      } catch (error) {
        failure = error;
        await client.query('ROLLBACK').catch(() => {});
        throw error;
      } finally {
        // A connection that failed mid-transaction is not given back to the pool.
        const lost = failure instanceof HttpError && failure.status === 503;
        client.release(lost ? (failure as HttpError) : undefined);
      }
    },
    async exclusive(key, work) {
      const client = await guard(() => pool.connect());
      let unlocked = false;
      try {
        const lock = { text: 'SELECT pg_advisory_lock($1)', values: [key], query_timeout: LOCK_MS };
        await guard(() => client.query(lock));
        try {
          return await work();
        } finally {
          const unlock = client.query('SELECT pg_advisory_unlock($1)', [key]);
          unlocked = await unlock.then(
            () => true,
            () => false,
          );
        }
      } finally {
        // A connection that may still hold the lock is closed, which lets the lock go.
        client.release(!unlocked);
      }
    },
    executeSql: (text, values) => pool.query(text, values),
    health: () =>
      Date.now() - lastAnswer <= HEALTHY_MS
        ? { ok: true, store: 'postgresql' }
        : { ok: false, store: 'postgresql', reason: down ?? 'no answer lately' },
    where,
    async close() {
      clearInterval(heartbeat);
      await pool.end();
    },
  };

  try {
    await pool.query('SELECT 1');
    lastAnswer = Date.now();
  } catch (error) {
    await pool.end().catch(() => {});
    throw new ConfigError(`cannot reach the ${where}: ${reasonOf(error, url)}`, { cause: error });
  }
  const heartbeat = setInterval(() => {
    if (watch) query('SELECT 1', [], { timeoutMs: HEARTBEAT_MS }).catch(() => {});
  }, HEARTBEAT_MS);
  // Even so, only the server's listeners keep a process running.
  heartbeat.unref();
  return database;
}

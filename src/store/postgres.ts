import { createHash } from 'node:crypto';
import { connectDatabase, type Database } from './database.ts';
import { migrate } from './migrations.ts';
import { lastOfEach, type Span, type SubscriptionStore } from './store.ts';
import type { Subscription } from './subscription.ts';

interface Row {
  endpoint: string;
  expiration_time: number | null;
  p256dh: string;
  auth: string;
}

const COLUMNS = 'endpoint, expiration_time, p256dh, auth';
const TABLE = 'web_push.subscriptions';
// A changed subscription takes the next position: replaced means newest.
const REPLACE = `ON CONFLICT (endpoint) DO UPDATE SET
    position = nextval('web_push.subscription_position'),
    expiration_time = EXCLUDED.expiration_time,
    p256dh = EXCLUDED.p256dh,
    auth = EXCLUDED.auth,
    auth_hash = EXCLUDED.auth_hash`;
// Rows per statement of addAll: five arrays of this length as parameters.
const CHUNK = 5_000;
// A send's spans number every row, and a span may be large: more than the 5 s of a POST.
const LONG_MS = 60_000;

/** Connects to DATABASE_URL, migrates its tables, and opens the store in it. */
export async function openPostgresStorage(
  url: string,
  log: (line: string) => void,
  options: { watch?: boolean } = {},
): Promise<{ store: SubscriptionStore; database: Database }> {
  const database = await connectDatabase(url, log, options);
  try {
    await migrate(database, log);
  } catch (error) {
    await database.close();
    throw error;
  }
  return { store: createPostgresStore(database), database };
}

/** The subscriptions in PostgreSQL (web_push.subscriptions), shared by every server on it. */
export function createPostgresStore(database: Database): SubscriptionStore {
  const { query } = database;
  const select = async (where: string, values: unknown[], timeoutMs?: number) =>
    (await query<Row>(`SELECT ${COLUMNS} FROM ${TABLE} ${where}`, values, { timeoutMs })).map(
      fromRow,
    );

  return {
    async size() {
      const [row] = await query<{ stored: string }>(
        'SELECT stored FROM web_push.subscription_count',
      );
      return Number(row?.stored ?? 0);
    },
    latest: async () => (await select('ORDER BY position DESC LIMIT 1', []))[0],
    get: async (endpoint) => (await select('WHERE endpoint = $1', [endpoint]))[0],
    withAuth: (secret) => select('WHERE auth_hash = $1 ORDER BY position', [hashOf(secret)]),
    async spans(size) {
      // Every size-th position, and the last one: the bounds, read from the index alone.
      const rows = await query<{ position: string; n: string }>(
        `SELECT position, n FROM (
           SELECT position, row_number() OVER (ORDER BY position) AS n, count(*) OVER () AS total
           FROM ${TABLE}
         ) numbered WHERE n % $1 = 0 OR n = total ORDER BY position`,
        [size],
        { timeoutMs: LONG_MS },
      );
      const spans: Span[] = [];
      let [after, counted] = [0, 0];
      for (const row of rows) {
        const [last, n] = [Number(row.position), Number(row.n)];
        spans.push({ after, last, count: n - counted });
        [after, counted] = [last, n];
      }
      return spans;
    },
    read: (span) =>
      select(
        'WHERE position > $1 AND position <= $2 ORDER BY position',
        [span.after, span.last],
        LONG_MS,
      ),
    async add(subscription) {
      const [row] = await query<{ created: boolean }>(
        `INSERT INTO ${TABLE} AS s (endpoint, expiration_time, p256dh, auth, auth_hash)
         VALUES ($1, $2, $3, $4, $5) ${REPLACE} RETURNING (xmax = 0) AS created`,
        valuesOf(subscription),
      );
      return row?.created ? 'created' : 'updated';
    },
    async addAll(subscriptions) {
      const entries = lastOfEach(subscriptions);
      const counts = { created: 0, updated: 0, unchanged: 0 };
      await database.transaction(async (inTransaction) => {
        for (let start = 0; start < entries.length; start += CHUNK) {
          const chunk = entries.slice(start, start + CHUNK);
          const columns = chunk.map(valuesOf);
          // Unnested in order, so new rows take their positions in the list's order; a row
          // equal to the stored one is not touched and keeps its place.
          const rows = await inTransaction<{ created: boolean }>(
            `INSERT INTO ${TABLE} AS s (endpoint, expiration_time, p256dh, auth, auth_hash)
             SELECT * FROM unnest($1::text[], $2::float8[], $3::text[], $4::text[], $5::bytea[])
             ${REPLACE}
             WHERE (s.expiration_time, s.p256dh, s.auth)
               IS DISTINCT FROM (EXCLUDED.expiration_time, EXCLUDED.p256dh, EXCLUDED.auth)
             RETURNING (xmax = 0) AS created`,
            [0, 1, 2, 3, 4].map((column) => columns.map((values) => values[column])),
            { timeoutMs: LONG_MS },
          );
          const created = rows.filter((row) => row.created).length;
          counts.created += created;
          counts.updated += rows.length - created;
          counts.unchanged += chunk.length - rows.length;
        }
      });
      return counts;
    },
    async remove(endpoints) {
      const list = [...new Set(endpoints)];
      if (list.length === 0) return 0;
      const rows = await query(
        `DELETE FROM ${TABLE} WHERE endpoint = ANY($1::text[]) RETURNING 1`,
        [list],
      );
      return rows.length;
    },
    // Every change is committed before its promise resolves.
    flush: async () => {},
    health: () => database.health(),
    where: database.where,
    close: () => database.close(),
  };
}

/** A row as the Subscription the file store would hold: the same fields in the same order. */
function fromRow(row: Row): Subscription {
  return {
    endpoint: row.endpoint,
    expirationTime: row.expiration_time,
    keys: { p256dh: row.p256dh, auth: row.auth },
  };
}

function valuesOf(subscription: Subscription): unknown[] {
  const { endpoint, expirationTime, keys } = subscription;
  const secret = Buffer.from(keys.auth, 'base64url');
  return [endpoint, expirationTime, keys.p256dh, keys.auth, hashOf(secret)];
}

function hashOf(secret: Buffer): Buffer {
  return createHash('sha256').update(secret).digest();
}

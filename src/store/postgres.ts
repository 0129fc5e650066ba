import { connectDatabase, type Database } from './postgres/database.ts';
import { migrate } from './postgres/migrations.ts';
import {
  COLUMNS,
  freeName,
  fromRow,
  hashOf,
  lockName,
  type Row,
  TABLE,
  valuesOf,
  WRITTEN,
} from './postgres/rows.ts';
import { lastOfEach, type Span, type SubscriptionStore } from './store.ts';

// A changed subscription takes the next position: replaced means newest. An add keeps the
// device fields it does not give (store.ts); an import (addAll) copies them as they are.
const REPLACE = `ON CONFLICT (endpoint) DO UPDATE SET
    position = nextval('web_push.subscription_position'),
    expiration_time = EXCLUDED.expiration_time,
    p256dh = EXCLUDED.p256dh,
    auth = EXCLUDED.auth,
    auth_hash = EXCLUDED.auth_hash,
    origin = EXCLUDED.origin`;
const KEEP = `, name = COALESCE(EXCLUDED.name, s.name),
    added_at = COALESCE(s.added_at, EXCLUDED.added_at),
    last_result = COALESCE(EXCLUDED.last_result, s.last_result)`;
const COPY = `, name = EXCLUDED.name, added_at = EXCLUDED.added_at, last_result = EXCLUDED.last_result`;
const PLACEHOLDERS = '$1, $2, $3, $4, $5, $6, $7, $8, $9';
// Rows per statement of addAll: nine arrays of this length as parameters.
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
      const upsert = `INSERT INTO ${TABLE} AS s (${WRITTEN}) VALUES (${PLACEHOLDERS})
        ${REPLACE}${KEEP} RETURNING (xmax = 0) AS created`;
      const { name, endpoint } = subscription;
      // Without a name: one statement. With one: the name numbered against the others, in turn.
      const [row] =
        name === undefined
          ? await query<{ created: boolean }>(upsert, valuesOf(subscription))
          : await database.transaction(async (inTransaction) => {
              await lockName(inTransaction, name);
              const free = await freeName(inTransaction, name, endpoint);
              return inTransaction<{ created: boolean }>(
                upsert,
                valuesOf({ ...subscription, name: free }),
              );
            });
      return row?.created ? 'created' : 'updated';
    },
    async rename(endpoint, name) {
      const [row] = await database.transaction(async (inTransaction) => {
        await lockName(inTransaction, name);
        const free = await freeName(inTransaction, name, endpoint);
        return inTransaction<Row>(
          `UPDATE ${TABLE} SET name = $2 WHERE endpoint = $1 RETURNING ${COLUMNS}`,
          [endpoint, free],
        );
      });
      return row && fromRow(row);
    },
    async record(results) {
      if (results.size === 0) return;
      const endpoints = [...results.keys()];
      const values = [...results.values()].map((result) => JSON.stringify(result));
      // One statement for a send's batch; a result older than the stored one is left out.
      await query(
        `UPDATE ${TABLE} AS s SET last_result = r.result
         FROM unnest($1::text[], $2::jsonb[]) AS r(endpoint, result)
         WHERE s.endpoint = r.endpoint
           AND (s.last_result IS NULL OR s.last_result->>'at' <= r.result->>'at')`,
        [endpoints, values],
        { timeoutMs: LONG_MS },
      );
    },
    // Every server reads the same rows: there is nothing to read again.
    refresh: async () => {},
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
            `INSERT INTO ${TABLE} AS s (${WRITTEN})
             SELECT * FROM unnest($1::text[], $2::float8[], $3::text[], $4::text[], $5::text[],
               $6::text[], $7::jsonb[], $8::text[], $9::bytea[])
             ${REPLACE}${COPY}
             WHERE (s.expiration_time, s.p256dh, s.auth, s.name, s.added_at, s.last_result, s.origin)
               IS DISTINCT FROM (EXCLUDED.expiration_time, EXCLUDED.p256dh, EXCLUDED.auth,
                 EXCLUDED.name, EXCLUDED.added_at, EXCLUDED.last_result, EXCLUDED.origin)
             RETURNING (xmax = 0) AS created`,
            [0, 1, 2, 3, 4, 5, 6, 7, 8].map((column) => columns.map((values) => values[column])),
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

import { ConfigError } from '../../errors.ts';
import type { Database } from './database.ts';

// Every version's statements, in order: never edited once released, only appended to. All our
// tables live in the schema web_push (the job queue in pg-boss's own, pgboss).
const MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE web_push.subscriptions (
    endpoint text PRIMARY KEY,
    -- Keyset order: newest last; a replaced subscription takes the next number.
    position bigint NOT NULL UNIQUE,
    expiration_time double precision,
    p256dh text NOT NULL,
    auth text NOT NULL,
    -- SHA-256 of the decoded auth secret: a paired device is found by it without the lookup
    -- timing telling anything about the secret itself.
    auth_hash bytea NOT NULL,
    -- Planned for what the devices and notifications work adds to each subscription: its name,
    -- when it was added (ISO 8601, kept as written), the last send's result, the page's origin.
    name text,
    added_at text,
    last_result jsonb,
    origin text
  );
  CREATE SEQUENCE web_push.subscription_position OWNED BY web_push.subscriptions.position;
  ALTER TABLE web_push.subscriptions
    ALTER position SET DEFAULT nextval('web_push.subscription_position');
  CREATE INDEX subscriptions_auth_hash ON web_push.subscriptions (auth_hash);

  -- How many are stored, kept by statement triggers: count(*) reads every row (40 ms and more
  -- at a million), and each POST logs the count.
  CREATE TABLE web_push.subscription_count (
    single boolean PRIMARY KEY DEFAULT true CHECK (single),
    stored bigint NOT NULL
  );
  INSERT INTO web_push.subscription_count VALUES (true, 0);
  CREATE FUNCTION web_push.count_added() RETURNS trigger LANGUAGE plpgsql AS $$
  BEGIN
    UPDATE web_push.subscription_count SET stored = stored + a.n
      FROM (SELECT count(*) AS n FROM added) a WHERE a.n > 0;
    RETURN NULL;
  END $$;
  CREATE FUNCTION web_push.count_removed() RETURNS trigger LANGUAGE plpgsql AS $$
  BEGIN
    UPDATE web_push.subscription_count SET stored = stored - r.n
      FROM (SELECT count(*) AS n FROM removed) r WHERE r.n > 0;
    RETURN NULL;
  END $$;
  CREATE TRIGGER count_added AFTER INSERT ON web_push.subscriptions
    REFERENCING NEW TABLE AS added FOR EACH STATEMENT EXECUTE FUNCTION web_push.count_added();
  CREATE TRIGGER count_removed AFTER DELETE ON web_push.subscriptions
    REFERENCING OLD TABLE AS removed FOR EACH STATEMENT EXECUTE FUNCTION web_push.count_removed();

  -- Pairing links used on any server, each kept until it would have expired anyway.
  CREATE TABLE web_push.spent_pairing_tokens (
    nonce text PRIMARY KEY,
    expires_at timestamptz NOT NULL
  );
  CREATE INDEX spent_pairing_tokens_expires_at ON web_push.spent_pairing_tokens (expires_at);

  -- What each batch of a shared send did, written by the worker that did it, read by the
  -- process that waits for the combined report. The first result of a batch counts.
  CREATE TABLE web_push.send_results (
    send_id uuid NOT NULL,
    span_after bigint NOT NULL,
    span_count integer NOT NULL,
    delivered integer NOT NULL,
    removed integer NOT NULL,
    failed jsonb NOT NULL,
    failed_count integer NOT NULL,
    dropped boolean NOT NULL DEFAULT false,
    finished_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (send_id, span_after)
  );
  CREATE INDEX send_results_finished_at ON web_push.send_results (finished_at);
  `,
  `
  -- Device names are told apart without regard to case, and numbered (" 2", " 3"): a new name is
  -- looked up as itself and as a prefix (LIKE 'name %'), which text_pattern_ops serves.
  CREATE INDEX subscriptions_name ON web_push.subscriptions (lower(name) text_pattern_ops);
  `,
];

// Any constant: the advisory lock that one migrating process holds while the others wait.
const LOCK_KEY = 7_365_420_019;
const MIGRATE_MS = 120_000;

/**
 * Brings the database's tables to this version's schema, in one transaction under an advisory
 * lock: of several servers starting at once, one migrates and the others wait, then find it
 * done. Idempotent; says so in one line when it changed anything. A schema newer than this
 * version knows is refused (ConfigError), before anything is written.
 */
export async function migrate(database: Database, log: (line: string) => void): Promise<void> {
  const applied = await database.transaction(async (query) => {
    await query('SELECT pg_advisory_xact_lock($1)', [LOCK_KEY], { timeoutMs: MIGRATE_MS });
    // Safe under the lock: CREATE ... IF NOT EXISTS alone can still collide when run at once.
    await query('CREATE SCHEMA IF NOT EXISTS web_push');
    await query(
      'CREATE TABLE IF NOT EXISTS web_push.migrations (version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())',
    );
    const [row] = await query<{ version: number | null }>(
      'SELECT max(version) AS version FROM web_push.migrations',
    );
    const current = row?.version ?? 0;
    if (current > MIGRATIONS.length) {
      throw new ConfigError(
        `the ${database.where} has schema version ${current}, newer than this server's ${MIGRATIONS.length}: update the server`,
      );
    }
    for (const [index, statements] of MIGRATIONS.entries()) {
      if (index < current) continue;
      await query(statements, undefined, { timeoutMs: MIGRATE_MS });
      await query('INSERT INTO web_push.migrations (version) VALUES ($1)', [index + 1]);
    }
    return MIGRATIONS.length - current;
  });
  if (applied > 0) log(`Migrated the ${database.where} to schema version ${MIGRATIONS.length}.`);
}

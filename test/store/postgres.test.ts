import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import pg from 'pg';
import { ConfigError, HttpError } from '../../src/errors.ts';
import { isUnreachable } from '../../src/store/postgres/errors.ts';
import { openPostgresStorage } from '../../src/store/postgres.ts';
import { postgresOrReason, usePostgres } from '../support/postgres.ts';
import { freePort } from '../support/processes.ts';
import { sample, storeContract } from './contract.ts';

const found = postgresOrReason();
// A test of its own, so a missing PostgreSQL shows in the summary: skipped with the one line
// that installs it, or (CI=true) failed with it.
test('finds PostgreSQL', { skip: found.skip }, () => {
  assert.ok(found.bin, found.missing);
});
const cluster = usePostgres(found.bin);
const skip = found.skip || found.missing || false;

storeContract(
  'PostgreSQL',
  async () => {
    const url = await cluster().database();
    const open = async () => (await openPostgresStorage(url, () => {})).store;
    return { store: await open(), reopen: open };
  },
  { skip },
);

describe('PostgreSQL migrations', { skip }, () => {
  test('run once: opening the store again changes nothing and says nothing', async () => {
    const url = await cluster().database();
    const lines: string[] = [];
    for (let i = 0; i < 2; i++) {
      const { store } = await openPostgresStorage(url, (line) => lines.push(line));
      await store.close();
    }
    assert.equal(lines.length, 1, lines.join('\n'));
    assert.match(
      lines[0] ?? '',
      /^Migrated the database "test\d+" on 127\.0\.0\.1:\d+ to schema version 2\.$/,
    );
  });

  test('a database of an earlier version gets only the migrations it lacks', async () => {
    const url = await cluster().database();
    const { store, database } = await openPostgresStorage(url, () => {});
    await store.add(sample('kept'));
    // As a database set up by the version before the device-name index.
    await database.query('DROP INDEX web_push.subscriptions_name');
    await database.query('DELETE FROM web_push.migrations WHERE version = 2');
    await store.close();
    const lines: string[] = [];
    const reopened = await openPostgresStorage(url, (line) => lines.push(line));
    try {
      assert.deepEqual(lines.length, 1);
      assert.match(lines[0] ?? '', /to schema version 2\.$/);
      assert.equal(await reopened.store.size(), 1, 'what was stored is still there');
      const [index] = await reopened.database.query<{ n: number }>(
        "SELECT count(*)::int AS n FROM pg_indexes WHERE indexname = 'subscriptions_name'",
      );
      assert.equal(index?.n, 1);
    } finally {
      await reopened.store.close();
    }
  });

  test('a database with a newer schema is refused in one line, and left as it was', async () => {
    const url = await cluster().database();
    const { store, database } = await openPostgresStorage(url, () => {});
    await database.query('INSERT INTO web_push.migrations (version) VALUES (99)');
    await store.close();
    await assert.rejects(
      openPostgresStorage(url, () => {}),
      (error: unknown) => {
        assert.ok(error instanceof ConfigError);
        assert.match(
          error.message,
          /^the database "test\d+" on \S+ has schema version 99, newer than this server's 2: update the server$/,
        );
        return true;
      },
    );
  });
});

describe('telling a lost database from a bug', { skip }, () => {
  test('a refused connection or a shutdown is an outage; a bad statement or an error of ours is not', async () => {
    const port = await freePort();
    const client = new pg.Client({ connectionString: `postgres://x@127.0.0.1:${port}/x` });
    const refused = await client.connect().then(
      () => assert.fail('nothing listens there'),
      (error: unknown) => error,
    );
    assert.equal(isUnreachable(refused), true, String(refused));
    const { store, database } = await openPostgresStorage(await cluster().database(), () => {});
    try {
      const wrong = await database.query('SELEC 1').catch((error: unknown) => error);
      assert.ok(wrong instanceof pg.DatabaseError);
      assert.equal(isUnreachable(wrong), false);
    } finally {
      await store.close();
    }
    for (const error of [new HttpError(413, 'too big'), new ConfigError('x'), new TypeError('x')]) {
      assert.equal(isUnreachable(error), false, error.name);
    }
  });
});

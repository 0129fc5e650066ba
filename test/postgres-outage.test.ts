import assert from 'node:assert/strict';
import { beforeEach, describe, test } from 'node:test';
import pg from 'pg';
import { request } from 'undici';
import { notificationOf } from './support/declarative.ts';
import { eventually } from './support/eventually.ts';
import { postSubscription, useHarness } from './support/harness.ts';
import { postgresOrReason, usePostgres } from './support/postgres.ts';
import { runScript } from './support/processes.ts';
import type { MintedSubscription } from './support/push-service.ts';
import { seededDatabase, sharedSecrets, serverOn as startOn } from './support/shared-servers.ts';

// The database going away under a running server and a running send. These tests stop and start
// the one cluster of this file, so they run one after another.
const found = postgresOrReason();
test('finds PostgreSQL', { skip: found.skip }, () => {
  assert.ok(found.bin, found.missing);
});
const cluster = usePostgres(found.bin);
const harness = useHarness('swps-pg-outage-', { latencyMs: 200 });
const { push, env } = harness;
const SHARED = { SEND_BATCH: '3', SEND_LEASE_SECONDS: '2' };

async function seeded(count: number) {
  const subscriptions = Array.from({ length: count }, () => push().subscribe());
  const database = await seededDatabase(cluster(), subscriptions);
  return { database, subscriptions, secrets: await sharedSecrets(harness) };
}

const serverOn = (database: string, secrets: string) => startOn(harness, database, secrets, SHARED);

async function get(base: string, path: string) {
  const response = await request(`${base}${path}`);
  const text = await response.body.text();
  return { status: response.statusCode, text };
}

const received = (subscriptions: MintedSubscription[], body: string) =>
  subscriptions.map(
    (s) =>
      push().received.filter(
        (m) => m.endpoint === s.endpoint && notificationOf(m.payload).body === body,
      ).length,
  );
const total = (counts: number[]) => counts.reduce((sum, n) => sum + n, 0);

async function inDatabase<T>(database: string, query: string): Promise<T[]> {
  const client = new pg.Client(database);
  await client.connect();
  try {
    return (await client.query(query)).rows;
  } finally {
    await client.end();
  }
}

const LOST = /^error: lost the database mid-send: delivered (\d+), still queued (\d+)\n$/;

describe('the database going away', {
  skip: found.skip || found.missing || false,
  timeout: 120_000,
}, () => {
  // A test that failed with the database stopped leaves it so: the next one starts it again.
  beforeEach(() => cluster().start());

  test('the server answers 503 with Retry-After within 10 s, keeps serving the page, and takes subscriptions again once the database is back', async () => {
    const { database, secrets } = await seeded(0);
    const server = await serverOn(database, secrets);
    const before = [push().subscribe(), push().subscribe()];
    for (const s of before)
      assert.equal((await postSubscription(server.httpUrl, s)).statusCode, 201);

    await cluster().stop();
    for (let attempt = 0; attempt < 3; attempt++) {
      const started = Date.now();
      const refused = await postSubscription(server.httpUrl, push().subscribe());
      const answer = await refused.body.json();
      assert.ok(Date.now() - started < 10_000, `answered after ${Date.now() - started} ms`);
      assert.equal(refused.statusCode, 503, JSON.stringify(answer));
      assert.equal(refused.headers['retry-after'], '5');
      assert.deepEqual(answer, { error: 'the database is not reachable; try again in 5 seconds' });
    }
    assert.equal((await get(server.httpUrl, '/')).status, 200, 'the page is still served');
    assert.equal((await get(server.httpUrl, '/sw.js')).status, 200);
    await eventually('GET /healthz answers 503', async () =>
      (await get(server.httpUrl, '/healthz')).status === 503 ? true : undefined,
    );
    assert.equal(server.output().match(/Lost the database/g)?.length, 1, server.output());
    assert.doesNotMatch(server.output(), /internal error|\n\s+at /);

    await cluster().start();
    const after = push().subscribe();
    await eventually(
      'a subscription is taken again',
      async () => {
        const response = await postSubscription(server.httpUrl, after);
        await response.body.dump();
        return response.statusCode === 201 ? true : undefined;
      },
      { timeoutMs: 20_000 },
    );
    assert.equal((await get(server.httpUrl, '/healthz')).status, 200);
    assert.match(server.output(), /The database "\S+" on \S+ answers again\./);
    const sent = await runScript('send', ['--all', 'After the outage'], {
      cwd: secrets,
      env: env({ DATABASE_URL: database }),
    });
    assert.equal(sent.code, 0, sent.stderr);
    assert.equal(sent.stdout, 'delivered 3\n', 'nothing acknowledged with 201 was lost');
  });

  test('a send that loses the database ends with one line; its queued batches are delivered once the database is back', async () => {
    const { database, subscriptions, secrets } = await seeded(30);
    const server = await serverOn(database, secrets);
    const sending = runScript('send', ['--all', 'Mid'], {
      cwd: secrets,
      env: env({ DATABASE_URL: database, ...SHARED }),
    });
    await eventually('a third delivered', () =>
      total(received(subscriptions, 'Mid')) >= 10 ? true : undefined,
    );
    await cluster().stop();
    const result = await sending;
    assert.equal(result.code, 1);
    assert.equal(result.stdout, '');
    const [, delivered, queued] = LOST.exec(result.stderr) ?? assert.fail(result.stderr);
    assert.ok(Number(delivered) >= 1 && Number(queued) >= 1, result.stderr);
    assert.ok(Number(delivered) + Number(queued) <= 30, result.stderr);

    await cluster().start();
    await eventually(
      'every subscription reached once the database is back',
      () => (received(subscriptions, 'Mid').every((n) => n >= 1) ? true : undefined),
      { timeoutMs: 30_000, detail: () => `${received(subscriptions, 'Mid')}\n${server.output()}` },
    );
  });

  test('batches still queued when the message’s TTL has run out are dropped, not delivered late', async () => {
    const { database, subscriptions, secrets } = await seeded(30);
    // No server yet: only the CLI works its send, until the database goes.
    const sending = runScript('send', ['--all', '--ttl', '1', 'Late'], {
      cwd: secrets,
      env: env({ DATABASE_URL: database, ...SHARED }),
    });
    await eventually('a few delivered', () =>
      total(received(subscriptions, 'Late')) >= 3 ? true : undefined,
    );
    await cluster().stop();
    const result = await sending;
    assert.match(result.stderr, LOST);
    // The deadline (the TTL, at least one lease: 2 s) has passed while the CLI gave up.
    const deliveredBefore = total(received(subscriptions, 'Late'));
    assert.ok(deliveredBefore < 30);

    await cluster().start();
    const server = await serverOn(database, secrets);
    await eventually(
      'every batch accounted for',
      async () => {
        const [row] = await inDatabase<{ n: number }>(
          database,
          'SELECT count(*)::int AS n FROM web_push.send_results',
        );
        return row?.n === 10 ? true : undefined;
      },
      { timeoutMs: 30_000, detail: () => server.output() },
    );
    assert.match(
      server.output(),
      /^send batch \(3 subscriptions\): delivered 0, removed 0, failed 3 \(dropped: past its deadline\)$/m,
    );
    const [dropped] = await inDatabase<{ n: number }>(
      database,
      'SELECT count(*)::int AS n FROM web_push.send_results WHERE dropped',
    );
    assert.ok((dropped?.n ?? 0) >= 1);
    assert.equal(total(received(subscriptions, 'Late')), deliveredBefore, 'nothing delivered late');
  });
});

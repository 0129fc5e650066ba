import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import pg from 'pg';
import { request } from 'undici';
import { encodePayload } from '../src/send/declarative.ts';
import { openPostgresStorage } from '../src/store/postgres.ts';
import { notificationOf } from './support/declarative.ts';
import { eventually } from './support/eventually.ts';
import { useHarness } from './support/harness.ts';
import { postgresOrReason, usePostgres } from './support/postgres.ts';
import { runScript, type ServerProcess } from './support/processes.ts';
import type { MintedSubscription } from './support/push-service.ts';
import { seededDatabase, sharedSecrets, serverOn as startOn } from './support/shared-servers.ts';

// Sends shared through the job queue: every server and the sending CLI work batches.
const found = postgresOrReason();
test('finds PostgreSQL', { skip: found.skip }, () => {
  assert.ok(found.bin, found.missing);
});
const cluster = usePostgres(found.bin);
// Each push takes a while, so a send of many small batches lasts long enough to share.
const harness = useHarness('swps-pg-send-', { latencyMs: 300 });
const { push, env } = harness;
const TOKEN = 'shared-send-test-token-0123456789';
// Batches of 3: a send to 60 is 20 jobs.
const SHARED = { SEND_BATCH: '3', SEND_LEASE_SECONDS: '2' };

/** A database holding `count` fresh subscriptions, and a folder with the keys for all. */
async function seeded(count: number) {
  const subscriptions = Array.from({ length: count }, () => push().subscribe());
  const database = await seededDatabase(cluster(), subscriptions);
  return { database, subscriptions, secrets: await sharedSecrets(harness) };
}

const serverOn = (database: string, secrets: string) =>
  startOn(harness, database, secrets, { SEND_TOKEN: TOKEN, ...SHARED });

const send = (secrets: string, database: string, args: string[]) =>
  runScript('send', args, { cwd: secrets, env: env({ DATABASE_URL: database, ...SHARED }) });

const timesReceived = (subscription: MintedSubscription, body: string) =>
  push().received.filter(
    (message) =>
      message.endpoint === subscription.endpoint && notificationOf(message.payload).body === body,
  ).length;
const batchLines = (server: ServerProcess) =>
  (server.output().match(/^send batch \(/gm) ?? []).length;

async function storedCount(database: string): Promise<number> {
  const { store } = await openPostgresStorage(database, () => {});
  try {
    return await store.size();
  } finally {
    await store.close();
  }
}

describe('a send shared through the queue', {
  skip: found.skip || found.missing || false,
  timeout: 120_000,
}, () => {
  test('every server and the CLI work its batches; one report, gone ones removed, each delivered once', async () => {
    const { database, subscriptions, secrets } = await seeded(60);
    const [a, b] = [await serverOn(database, secrets), await serverOn(database, secrets)];
    const gone = subscriptions.slice(10, 13);
    const failing = subscriptions.slice(40, 42);
    for (const s of gone) push().behave(s.endpoint, { status: 410 });
    for (const s of failing) push().behave(s.endpoint, { status: 500, body: 'broken' });

    const result = await send(secrets, database, ['--all', 'Shared']);
    assert.equal(result.code, 1, result.stderr);
    assert.equal(
      result.stdout,
      'delivered 55\nremoved 3 expired (the push service says they are gone)\n',
    );
    const host = new URL(push().origin).host;
    assert.equal(result.stderr, `failed 2\n  ${host}: 500 broken\n  ${host}: 500 broken\n`);
    for (const s of subscriptions) {
      const expected = gone.includes(s) || failing.includes(s) ? 0 : 1;
      assert.equal(timesReceived(s, 'Shared'), expected, s.endpoint);
    }
    // Every batch's payload has the bytes a send to one has, for the origin its links are on.
    const shared = push().received.filter((m) => notificationOf(m.payload).body === 'Shared');
    for (const payload of new Set(shared.map((m) => m.payload))) {
      const origin = new URL(String(notificationOf(payload).navigate)).origin;
      const notification = { title: 'Simple Web Push', body: 'Shared' };
      assert.equal(payload, encodePayload(notification, origin));
    }
    assert.ok(batchLines(a) > 0, `server A worked no batch:\n${a.output()}`);
    assert.ok(batchLines(b) > 0, `server B worked no batch:\n${b.output()}`);
    assert.ok(batchLines(a) + batchLines(b) < 20, 'the CLI worked batches too');
    assert.equal(await storedCount(database), 57, 'the gone ones were deleted');

    // POST /api/send answers with the same combined report as npm run send --json.
    const viaApi = await request(`${a.httpUrl}/api/send`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ body: 'Again', to: 'all' }),
    });
    const report = await viaApi.body.json();
    assert.equal(viaApi.statusCode, 200, JSON.stringify(report));
    const json = await send(secrets, database, ['--all', '--json', 'Again']);
    assert.deepEqual(report, JSON.parse(json.stdout));
    assert.deepEqual(report, {
      delivered: 55,
      removed: 0,
      failed: [
        { host, status: 500, reason: 'broken' },
        { host, status: 500, reason: 'broken' },
      ],
    });
  });

  test('a server SIGKILLed mid-send: its batches are taken over when their leases run out', async () => {
    const { database, subscriptions, secrets } = await seeded(60);
    const [a, b] = [await serverOn(database, secrets), await serverOn(database, secrets)];
    const sending = send(secrets, database, ['--all', 'Survives']);
    await eventually('server A works a batch', () => (batchLines(a) > 0 ? true : undefined));
    // It has taken its next batches by now, and their pushes are in flight.
    await new Promise((resolve) => setTimeout(resolve, 100));
    await a.stop('SIGKILL');
    const result = await sending;
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, 'delivered 60\n', 'each subscription counted once');
    const counts = subscriptions.map((s) => timesReceived(s, 'Survives'));
    assert.ok(
      counts.every((n) => n >= 1),
      `every one at least once: ${counts}`,
    );
    const duplicates = counts.reduce((sum, n) => sum + n - 1, 0);
    assert.ok(duplicates <= 6, `at most the two batches in A's hands again: ${duplicates}`);
    assert.ok(batchLines(b) > 0);
    const client = new pg.Client(database);
    await client.connect();
    try {
      const { rows } = await client.query(
        'SELECT count(*)::int AS n FROM pgboss.job WHERE retry_count > 0',
      );
      assert.ok(rows[0].n >= 1, 'a batch was taken over after its lease ran out');
    } finally {
      await client.end();
    }
  });
});

import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import pg from 'pg';
import { request } from 'undici';
import { createPairing } from '../src/pairing/tokens.ts';
import { notificationOf } from './support/declarative.ts';
import { postSubscription, useHarness } from './support/harness.ts';
import { postgresOrReason, usePostgres } from './support/postgres.ts';
import { freePort, runScript, runServer, type ServerProcess } from './support/processes.ts';
import type { MintedSubscription } from './support/push-service.ts';
import { sharedSecrets as makeSecrets, serverOn as startOn } from './support/shared-servers.ts';

// Several servers on one database: what they share, and how they start.
const found = postgresOrReason();
test('finds PostgreSQL', { skip: found.skip }, () => {
  assert.ok(found.bin, found.missing);
});
const cluster = usePostgres(found.bin);
const harness = useHarness('swps-pg-servers-');
const { push, env, newDir, start } = harness;

const sharedSecrets = () => makeSecrets(harness);
const serverOn = (database: string, secrets: string) => startOn(harness, database, secrets);

async function call(base: string, path: string, method: string, body?: unknown, headers = {}) {
  const response = await request(`${base}${path}`, {
    method,
    headers: { 'content-type': 'application/json', ...headers },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await response.body.text();
  return { status: response.statusCode, headers: response.headers, json: text && JSON.parse(text) };
}

const received = (subscription: MintedSubscription) =>
  push().received.filter((message) => message.endpoint === subscription.endpoint).length;

describe('servers sharing one database', { skip: found.skip || found.missing || false }, () => {
  test('a subscription made through one server is reached by the other and by npm run send; a DELETE through one removes it for both', async () => {
    const [database, secrets] = [await cluster().database(), await sharedSecrets()];
    const [a, b] = await Promise.all([serverOn(database, secrets), serverOn(database, secrets)]);
    const subscription = push().subscribe();
    const created = await postSubscription(a.httpUrl, subscription);
    assert.equal(created.statusCode, 201, await created.body.text());
    const tested = await call(b.httpUrl, '/api/subscriptions/test', 'POST', subscription);
    assert.equal(tested.status, 200, JSON.stringify(tested.json));
    assert.deepEqual(tested.json, { delivered: 1, removed: 0, failed: [] });
    const sent = await runScript('send', ['From the CLI'], {
      cwd: secrets,
      env: env({ DATABASE_URL: database }),
    });
    assert.equal(sent.code, 0, sent.stderr);
    assert.equal(sent.stdout, 'delivered 1\n');
    assert.equal(received(subscription), 3, 'welcome, test, and the CLI message');

    assert.equal((await call(b.httpUrl, '/api/subscriptions', 'DELETE', subscription)).status, 204);
    const gone = await call(a.httpUrl, '/api/subscriptions/test', 'POST', subscription);
    assert.equal(gone.status, 404);
    const none = await runScript('send', ['Anyone?'], {
      cwd: secrets,
      env: env({ DATABASE_URL: database }),
    });
    assert.equal(none.code, 1);
    assert.match(none.stderr, /no subscription is stored yet/);
    assert.match(a.output(), /subscription created: \S+ \(1 stored\)/);
    assert.match(b.output(), /subscription removed: /);
  });

  test('a pairing link spent through one server is refused by the other', async () => {
    const [database, secrets] = [await cluster().database(), await sharedSecrets()];
    const [a, b] = await Promise.all([serverOn(database, secrets), serverOn(database, secrets)]);
    const { token } = await createPairing({ keyFile: join(secrets, 'pairing-key') }).mint();
    // A phone: not the server's own browser, so it needs the link's token.
    const phone = { host: 'phone.example:4443', authorization: `Pairing ${token}` };
    const paired = await call(a.httpUrl, '/api/subscriptions', 'POST', push().subscribe(), phone);
    assert.equal(paired.status, 201, JSON.stringify(paired.json));
    const again = await call(b.httpUrl, '/api/subscriptions', 'POST', push().subscribe(), phone);
    assert.equal(again.status, 401);
    assert.match(again.json.error, /already used by another device/);
    const fresh = await createPairing({ keyFile: join(secrets, 'pairing-key') }).mint();
    const other = { ...phone, authorization: `Pairing ${fresh.token}` };
    const viaB = await call(b.httpUrl, '/api/subscriptions', 'POST', push().subscribe(), other);
    assert.equal(viaB.status, 201, 'a link minted by one pairs through any other');
  });

  test('devices are shared: names numbered across servers, renamed and listed through either, results recorded, --to by name', async () => {
    const [database, secrets] = [await cluster().database(), await sharedSecrets()];
    const [a, b] = await Promise.all([serverOn(database, secrets), serverOn(database, secrets)]);
    const phone = push().subscribe();
    const laptop = push().subscribe();
    for (const [server, subscription] of [
      [a, phone],
      [b, laptop],
    ] as const) {
      const created = await postSubscription(server.httpUrl, { ...subscription, name: 'Phone' });
      assert.equal(created.statusCode, 201, await created.body.text());
    }
    const listed = async (server: ServerProcess) => {
      const answer = await call(server.httpUrl, '/api/devices', 'GET');
      assert.equal(answer.status, 200, JSON.stringify(answer.json));
      return answer.json as {
        name: string;
        endpoint: string;
        lastResult: { outcome: string } | null;
      }[];
    };
    const named = (list: { name: string; endpoint: string }[]) =>
      list.map((d) => [d.endpoint, d.name]);
    assert.deepEqual(named(await listed(a)), [
      [phone.endpoint, 'Phone'],
      [laptop.endpoint, 'Phone 2'],
    ]);
    const renamed = await call(b.httpUrl, '/api/devices', 'PATCH', {
      endpoint: laptop.endpoint,
      name: 'Laptop',
    });
    assert.equal(renamed.status, 200, JSON.stringify(renamed.json));
    const sent = await runScript('send', ['--to', 'lap', 'Hello laptop'], {
      cwd: secrets,
      env: env({ DATABASE_URL: database }),
    });
    assert.equal(sent.code, 0, sent.stderr);
    assert.equal(sent.stdout, 'delivered 1\n');
    const body = (m: { payload: string }) => notificationOf(m.payload).body;
    assert.ok(
      push().received.some((m) => m.endpoint === laptop.endpoint && body(m) === 'Hello laptop'),
    );
    assert.ok(
      !push().received.some((m) => m.endpoint === phone.endpoint && body(m) === 'Hello laptop'),
    );
    const devices = await listed(a);
    assert.deepEqual(named(devices), [
      [phone.endpoint, 'Phone'],
      [laptop.endpoint, 'Laptop'],
    ]);
    assert.deepEqual(
      devices.map((d) => d.lastResult?.outcome),
      ['delivered', 'delivered'],
      'the welcomes and the CLI send are recorded',
    );
    const list = await runScript('devices', ['--json'], {
      cwd: secrets,
      env: env({ DATABASE_URL: database }),
    });
    assert.equal(list.code, 0, list.stderr);
    assert.deepEqual(named(JSON.parse(list.stdout)), named(devices));
  });

  test('two servers started at the same moment migrate the database once', async () => {
    const [database, secrets] = [await cluster().database(), await sharedSecrets()];
    const servers = await Promise.all([serverOn(database, secrets), serverOn(database, secrets)]);
    const migrated = servers.filter((s) =>
      /Migrated the database "\S+" on \S+ to schema version \d+\./.test(s.output()),
    );
    assert.equal(migrated.length, 1, servers.map((s) => s.output()).join('\n---\n'));
    const client = new pg.Client(database);
    await client.connect();
    try {
      const { rows } = await client.query(
        'SELECT version FROM web_push.migrations ORDER BY version',
      );
      assert.deepEqual(
        rows.map((row) => row.version),
        [1, 2],
      );
    } finally {
      await client.end();
    }
    for (const server of servers) assert.equal(await server.stop(), 0, server.output());
  });

  test('with a database, the folder of SUBSCRIPTION_FILE need not exist: nothing is written there', async () => {
    const database = await cluster().database();
    const missing = join(await newDir(), 'no-such-folder', 'subscription.json');
    const server = await start({ env: { DATABASE_URL: database, SUBSCRIPTION_FILE: missing } });
    const created = await postSubscription(server.httpUrl, push().subscribe());
    assert.equal(created.statusCode, 201, await created.body.text());
    assert.match(
      server.output(),
      /^0 subscription\(s\) in database "test\d+" on 127\.0\.0\.1:\d+$/m,
    );
  });

  test('GET /healthz answers 200 with the store, unlimited and unlogged, in both modes', async () => {
    const database = await cluster().database();
    const servers = [
      await start({ env: { RATE_LIMIT: '1' } }),
      await start({ env: { RATE_LIMIT: '1', DATABASE_URL: database } }),
    ];
    for (const [server, store] of [
      [servers[0], 'file'],
      [servers[1], 'postgresql'],
    ] as const) {
      const before = server?.output() ?? '';
      for (let i = 0; i < 5; i++) {
        const health = await call(server?.httpUrl ?? '', '/healthz', 'GET');
        assert.equal(health.status, 200);
        assert.deepEqual(health.json, { ok: true, store });
      }
      assert.equal(server?.output(), before, 'nothing logged');
    }
  });

  test('a database that cannot be reached at start: one line naming it, never the password, exit 1', async () => {
    const port = await freePort();
    for (const script of ['server', 'send'] as const) {
      const extra = { DATABASE_URL: `postgres://app:s3cret-pw@127.0.0.1:${port}/pushdb` };
      const result =
        script === 'server'
          ? await runServer({ dir: await newDir(), env: env(extra) })
          : await runScript('send', ['Hello'], { cwd: await newDir(), env: env(extra) });
      assert.equal(result.code, 1, `${script}: ${result.stderr}`);
      assert.match(
        result.stderr,
        new RegExp(
          `^error: cannot reach the database "pushdb" on 127\\.0\\.0\\.1:${port}: .*ECONNREFUSED.*\\n$`,
        ),
        script,
      );
      assert.doesNotMatch(result.stdout + result.stderr, /s3cret/, script);
    }
    const wrong = await runServer({
      dir: await newDir(),
      env: env({ DATABASE_URL: 'mysql://x:pw@db/app' }),
    });
    assert.equal(wrong.code, 1);
    assert.equal(
      wrong.stderr,
      'error: DATABASE_URL must be a URL such as postgres://user:password@host/database\n',
    );
  });
});

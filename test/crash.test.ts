// Durability: SIGKILL mid-burst loses no acknowledged subscription; broken files stop the start.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { chmod, mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { Pool } from 'undici';
import { generateKeys } from '../src/keys.ts';
import { postSubscription, useHarness } from './support/harness.ts';
import { int, mulberry32 } from './support/hostile.ts';
import { runServer, type ServerProcess } from './support/processes.ts';

const SEED = Number(process.env.FUZZ_SEED ?? 0x5eed) >>> 0;
const ROUNDS = 4;
const BURST = 400;
const CONCURRENCY = 20;
const { push, env, newDir, start } = useHarness('swps-crash-');

/** POSTs a fresh subscription: its endpoint when acknowledged (201/200), else undefined. */
async function subscribe(server: ServerProcess, pool: Pool): Promise<string | undefined> {
  const subscription = push().subscribe();
  try {
    const response = await postSubscription(server.httpUrl, subscription, pool);
    await response.body.text();
    return response.statusCode === 201 || response.statusCode === 200
      ? subscription.endpoint
      : undefined;
  } catch {
    return undefined; // the server died first: never acknowledged, so no promise to keep
  }
}

async function storedEndpoints(dir: string): Promise<string[]> {
  const entries = JSON.parse(await readFile(join(dir, 'subscription.json'), 'utf8'));
  assert.ok(Array.isArray(entries), 'subscription.json holds an array');
  return entries.map((entry: { endpoint: string }) => entry.endpoint);
}

test(`keeps every acknowledged subscription through ${ROUNDS} SIGKILLs in the middle of a burst`, async (t) => {
  const r = mulberry32(SEED);
  const dir = await newDir();
  const acknowledged: string[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const server = await start({ dir });
    const pool = new Pool(server.httpUrl, { connections: CONCURRENCY });
    const acks: string[] = [];
    // Killed at a random moment after the first acknowledgement, while writes and welcome
    // pushes are in flight: some subscriptions acknowledged, some stored but not yet answered.
    const killAfterMs = int(r, 600);
    let sent = 0;
    let killing: NodeJS.Timeout | undefined;
    const worker = async () => {
      while (sent < BURST && server.child.exitCode === null && server.child.signalCode === null) {
        sent++;
        const endpoint = await subscribe(server, pool);
        if (!endpoint) continue;
        acks.push(endpoint);
        killing ??= setTimeout(() => server.child.kill('SIGKILL'), killAfterMs);
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
    clearTimeout(killing);
    server.child.kill('SIGKILL');
    assert.equal(await server.stop(), null, 'the server was killed, not stopped');
    await pool.destroy();
    acknowledged.push(...acks);

    const stored = new Set(await storedEndpoints(dir));
    const lost = acknowledged.filter((endpoint) => !stored.has(endpoint));
    assert.deepEqual(lost, [], `round ${round} (FUZZ_SEED=${SEED}): acknowledged but lost`);
    t.diagnostic(
      `round ${round}: killed ${killAfterMs} ms after the first answer; ${acks.length} of ${sent} sent acknowledged, ${stored.size} on disk in all`,
    );
  }
  const restarted = await start({ dir });
  assert.match(
    restarted.output(),
    new RegExp(`${(await storedEndpoints(dir)).length} subscription\\(s\\)`),
  );
  await restarted.stop();
});

test('a lock file left by a killed process does not hold up the restarted server', async () => {
  const dir = await newDir();
  const dead = spawn(process.execPath, ['-e', '']);
  await once(dead, 'exit');
  // Fresh, so the 10-second staleness rule alone would make the first save wait or fail.
  await writeFile(join(dir, 'subscription.json.lock'), String(dead.pid));
  const server = await start({ dir });
  const pool = new Pool(server.httpUrl);
  const started = Date.now();
  const endpoint = await subscribe(server, pool);
  const elapsed = Date.now() - started;
  await pool.close();
  assert.ok(endpoint, 'the subscription was acknowledged');
  // Before the lock recorded its process, this took 5 s or failed with 500.
  assert.ok(elapsed < 4000, `answered after ${elapsed} ms`);
  assert.deepEqual(await storedEndpoints(dir), [endpoint]);
  assert.equal(await server.stop(), 0);
});

/** Runs the server in `dir` until it gives up; it must say one line and exit non-zero. */
async function refusesToStart(dir: string, mention: RegExp): Promise<string> {
  const result = await runServer({ dir, env: env() });
  assert.notEqual(result.code, 0, 'exit code');
  assert.equal(result.code === null, false, 'it exited by itself, not killed at the timeout');
  assert.match(result.stderr, /^error: [^\n]+\n$/, 'one line on stderr');
  assert.match(result.stderr, mention);
  assert.doesNotMatch(result.stdout + result.stderr, /\n\s+at /, 'no stack trace');
  return result.stdout + result.stderr;
}

const otherKeys = generateKeys();
const keys = generateKeys();
const brokenFiles: [string, string, string, RegExp][] = [
  [
    'subscription.json',
    'is cut off mid-entry',
    '[{"endpoint": "https://fcm.googleapis.com/x", "ke',
    /not valid JSON/,
  ],
  [
    'subscription.json',
    'is an object, not an array',
    '{"endpoint": "https://fcm.googleapis.com/x"}',
    /JSON array/,
  ],
  [
    'subscription.json',
    'has an entry with a broken key',
    '[{"endpoint": "https://fcm.googleapis.com/x", "keys": {"p256dh": "x", "auth": "y"}}]',
    /entry 1/,
  ],
  ['vapid.json', 'is not JSON', '{publicKey: ', /not valid JSON/],
  ['vapid.json', 'has no private key', JSON.stringify({ publicKey: keys.publicKey }), /must hold/],
  [
    'vapid.json',
    'holds keys from two different pairs',
    JSON.stringify({ ...keys, publicKey: otherKeys.publicKey }),
    /does not belong/,
  ],
];

/**
 * Makes `path` unreadable. chmod 000 stops everyone but root, and these tests may run as root:
 * then the path becomes a directory instead, which no one can read as a file.
 */
async function makeUnreadable(path: string): Promise<'chmod 000' | 'a directory'> {
  await writeFile(path, '[]\n');
  await chmod(path, 0o000);
  const readable = await readFile(path).then(
    () => true,
    () => false,
  );
  if (!readable) return 'chmod 000';
  await rm(path);
  await mkdir(path);
  return 'a directory';
}

// Each starts its own server process: side by side, they take a fraction of the time.
describe('refuses to start, in one line naming the file or port, changing nothing', {
  concurrency: 4,
}, () => {
  for (const [name, what, content, why] of brokenFiles) {
    test(`when ${name} ${what}`, async () => {
      const dir = await newDir();
      const file = join(dir, name);
      await writeFile(file, content, { mode: 0o600 });
      const before = await readFile(file);
      const output = await refusesToStart(
        dir,
        new RegExp(`${name.replace('.', '\\.')}.*${why.source}`),
      );
      assert.deepEqual(await readFile(file), before, 'byte-for-byte unchanged');
      assert.doesNotMatch(output, new RegExp(keys.privateKey), 'the private key is not echoed');
    });
  }

  for (const name of ['subscription.json', 'vapid.json', 'certs/key.pem', 'certs/ca-key.pem']) {
    test(`when ${name} cannot be read`, async (t) => {
      const dir = await newDir();
      await mkdir(join(dir, 'certs'), { mode: 0o700 });
      const path = join(dir, name);
      const how = await makeUnreadable(path);
      t.diagnostic(`made unreadable as ${how}`);
      await refusesToStart(
        dir,
        new RegExp(`cannot read .*${name.replace('.', '\\.')} \\((EACCES|EISDIR)\\)`),
      );
      const info = await stat(path);
      if (how === 'a directory') assert.ok(info.isDirectory(), 'still the directory it was');
      else assert.equal(info.mode & 0o777, 0, 'still mode 000');
    });
  }

  test('when either port is in use', async () => {
    const blocker = createServer().listen(0, '127.0.0.1');
    await once(blocker, 'listening');
    const { port } = blocker.address() as { port: number };
    try {
      for (const extra of [{ PORT: String(port) }, { HTTP_PORT: String(port) }] as Record<
        string,
        string
      >[]) {
        const dir = await newDir();
        const result = await runServer({ dir, env: env(extra) });
        assert.equal(typeof result.code, 'number');
        assert.notEqual(result.code, 0);
        assert.equal(result.stderr, `error: port ${port} is already in use\n`);
      }
    } finally {
      blocker.close();
    }
  });

  test('when certs/key.pem is not the key of certs/cert.pem', async () => {
    const dir = await newDir();
    const first = await start({ dir });
    assert.equal(await first.stop(), 0);
    const file = join(dir, 'certs/key.pem');
    const broken = '-----BEGIN PRIVATE KEY-----\nbroken\n-----END PRIVATE KEY-----\n';
    await writeFile(file, broken, { mode: 0o600 });
    await refusesToStart(dir, /certs\/key\.pem is not the private key/);
    assert.equal(await readFile(file, 'utf8'), broken);
  });
});

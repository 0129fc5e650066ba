// Durability: SIGKILL mid-burst loses no acknowledged subscription; broken files stop the start.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { chmod, mkdir, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { Pool, request } from 'undici';
import { generateKeys } from '../src/keys.ts';
import { postSubscription, useHarness } from './support/harness.ts';
import { int, mulberry32, storedByEarlierVersion } from './support/hostile.ts';
import {
  readOnlyIn,
  runServer,
  type ServerProcess,
  spawnTypeScript,
  startServerProcess,
} from './support/processes.ts';

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
  assert.deepEqual(await tempFiles(dir), [], 'no temp file of a killed write is left');
  await restarted.stop();
});

async function tempFiles(dir: string): Promise<string[]> {
  return (await readdir(dir)).filter((name) => name.endsWith('.tmp'));
}

/** Resolves to what `child` printed once it prints `line`; rejects if it exits first. */
async function printed(child: ChildProcess, line: string): Promise<string> {
  let text = '';
  child.stdout?.setEncoding('utf8');
  return new Promise((resolve, reject) => {
    child.stdout?.on('data', (chunk: string) => {
      text += chunk;
      if (text.split('\n').includes(line)) resolve(text);
    });
    child.once('exit', (code) => reject(new Error(`exited ${code} before "${line}":\n${text}`)));
  });
}

/**
 * Stops `writer` while one of its writes has a temp file open, then kills it there: the temp
 * file names left (none when the write finished between looking and stopping).
 */
async function killMidWrite(writer: ChildProcess, dir: string): Promise<string[]> {
  const deadline = Date.now() + 20_000;
  try {
    while (Date.now() < deadline && writer.exitCode === null) {
      if ((await tempFiles(dir)).length > 0) {
        writer.kill('SIGSTOP');
        const left = await tempFiles(dir);
        if (left.length > 0) return left;
        writer.kill('SIGCONT');
      }
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
    return [];
  } finally {
    writer.kill('SIGKILL');
    if (writer.exitCode === null && writer.signalCode === null) await once(writer, 'exit');
  }
}

const CHILD = 'test/support/store-child.ts';

test('a SIGKILL in the middle of a write leaves no temp file after the next start', async () => {
  const dir = await newDir();
  const file = join(dir, 'subscription.json');
  // Big enough (about 5 MB) that each write takes a while.
  const { keys } = push().subscribe();
  const many = Array.from({ length: 20_000 }, (_, i) => ({
    endpoint: `https://fcm.googleapis.com/fcm/send/${i}`,
    expirationTime: null,
    keys,
  }));
  await writeFile(file, JSON.stringify(many));
  let left: string[] = [];
  for (let attempt = 0; attempt < 5 && left.length === 0; attempt++) {
    left = await killMidWrite(spawnTypeScript(CHILD, ['write', file]), dir);
  }
  assert.equal(left.length, 1, 'a write was cut off and left its temp file');
  // Newer than subscription.json: it is removed because its writer has ended.
  assert.ok((await stat(join(dir, left[0] as string))).mtimeMs >= (await stat(file)).mtimeMs);

  const server = await start({ dir });
  assert.match(
    server.output(),
    /\nRemoved 1 temp file\(s\) left in \S+ by an interrupted write of subscription\.json\.\n/,
  );
  assert.deepEqual(await tempFiles(dir), []);
  const stored = await storedEndpoints(dir);
  assert.ok(stored.length >= many.length, 'the file is whole: every entry of the last write');
  assert.equal(await server.stop(), 0);
});

test('a process holding the lock for 15 s is not interrupted, and a subscribe waits for it', async () => {
  const dir = await newDir();
  const file = join(dir, 'subscription.json');
  await writeFile(file, '[]\n');
  const server = await start({ dir });
  const holder = spawnTypeScript(CHILD, ['hold', file, '15000']);
  const done = once(holder, 'exit');
  const output = printed(holder, 'released');
  await printed(holder, 'locked');
  const subscription = push().subscribe();
  const response = await postSubscription(server.httpUrl, subscription);
  await response.body.text();
  assert.equal(response.statusCode, 201);
  assert.match(await output, /^locked\nintact\nreleased\n/);
  assert.deepEqual(await done, [0, null]);
  // The holder's entry first: the server wrote after it, starting from what the holder wrote.
  assert.deepEqual(await storedEndpoints(dir), [
    'https://fcm.googleapis.com/fcm/send/held',
    subscription.endpoint,
  ]);
  assert.equal(await server.stop(), 0);
});

test('starts with entries stored before the stricter checks, says how many, keeps and pushes to them', async () => {
  const dir = await newDir();
  const file = join(dir, 'subscription.json');
  const minted = [push().subscribe(), push().subscribe(), push().subscribe(), push().subscribe()];
  const legacy = [...storedByEarlierVersion(minted.slice(0, 3)), ...minted.slice(3)];
  await writeFile(file, JSON.stringify(legacy));
  const server = await start({ dir });
  assert.match(server.output(), /\n4 subscription\(s\) in /);
  assert.match(
    server.output(),
    /\n3 stored subscription\(s\) predate the stricter endpoint and key checks: kept, and still sent to\.\n/,
  );
  // The test route pushes to one stored subscription, found by its stored endpoint.
  for (const [index, entry] of legacy.entries()) {
    const response = await request(`${server.httpUrl}/api/subscriptions/test`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ endpoint: entry.endpoint }),
    });
    assert.deepEqual(await response.body.json(), { delivered: 1, removed: 0, failed: [] });
    const endpoint = minted[index]?.endpoint;
    assert.equal(push().received.filter((m) => m.endpoint === endpoint).length, 1);
  }
  const fresh = push().subscribe();
  assert.equal((await postSubscription(server.httpUrl, fresh)).statusCode, 201);
  // Stopped first: the welcome's result waits for a write to share, and the shutdown makes it.
  assert.equal(await server.stop(), 0);
  const stored = JSON.parse(await readFile(file, 'utf8'));
  // Beside each, what the server remembers of its device: when it was added and the last result.
  const withoutDevice = stored.map(
    ({ addedAt: _, lastResult: __, ...subscription }: Record<string, unknown>) => subscription,
  );
  // Posted without an Origin header: stored with the server's first origin. The old entries keep
  // having none, and are sent to with that first origin.
  const origin = server.httpUrl.replace('127.0.0.1', 'localhost');
  assert.deepEqual(withoutDevice, [...legacy, { ...fresh, origin }]);
  assert.ok(
    stored.every(
      (s: { lastResult?: { outcome: string } }) => s.lastResult?.outcome === 'delivered',
    ),
  );
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
async function refusesToStart(
  dir: string,
  mention: RegExp,
  options: { env?: Record<string, string>; spawn?: Awaited<ReturnType<typeof readOnlyIn>> } = {},
): Promise<string> {
  const result = await runServer({ dir, env: env(options.env), spawn: options.spawn });
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

  // Each file the server writes gets a temp file (the store a lock too) beside it, then a rename.
  const written = [
    ['SUBSCRIPTION_FILE', 'subscription.json', ''],
    ['PAIRING_KEY_FILE', 'pairing-key', '.spent'],
    ['SEND_TOKEN_FILE', 'send-token', ''],
  ] as const;
  for (const [variable, name, suffix] of written) {
    test(`when ${variable} is in a folder that does not exist, making no file at all`, async () => {
      const dir = await newDir();
      const folder = join(dir, 'no-such-folder');
      const file = join(folder, name);
      const line = `error: cannot write ${file}${suffix} (${variable}): the folder ${folder} does not exist\n`;
      await refusesToStart(dir, new RegExp(`^${literal(line)}$`), { env: { [variable]: file } });
      assert.deepEqual(await readdir(dir), [], 'no vapid.json, no certificates, no folder');
    });
  }

  test('when SUBSCRIPTION_FILE is under a file, not a folder', async () => {
    const dir = await newDir();
    await writeFile(join(dir, 'data'), '');
    const file = join(dir, 'data/subscription.json');
    await refusesToStart(
      dir,
      new RegExp(
        `cannot write ${literal(file)} \\(SUBSCRIPTION_FILE\\): ${literal(dir)}/data is not a folder`,
      ),
      { env: { SUBSCRIPTION_FILE: file } },
    );
    assert.deepEqual(await readdir(dir), ['data']);
  });

  test('when the folder of SUBSCRIPTION_FILE is read-only', async (t) => {
    const dir = await newDir();
    const folder = join(dir, 'data');
    await mkdir(folder);
    const spawn = await readOnlyIn(folder);
    t.after(() => chmod(folder, 0o700));
    await refusesToStart(
      dir,
      new RegExp(
        `cannot write ${literal(folder)}/subscription\\.json \\(SUBSCRIPTION_FILE\\): (${literal(folder)} is on a read-only file system|no permission to make files in ${literal(folder)})\n$`,
      ),
      { env: { SUBSCRIPTION_FILE: join(folder, 'subscription.json') }, spawn },
    );
    assert.deepEqual(await readdir(dir), ['data']);
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

test('starts with a send token it can only read, in a read-only folder: the server never writes it', async (t) => {
  const dir = await newDir();
  const folder = join(dir, 'secrets');
  await mkdir(folder);
  await writeFile(join(folder, 'send-token'), 'a-token-made-elsewhere\n', { mode: 0o600 });
  const spawn = await readOnlyIn(folder);
  t.after(() => chmod(folder, 0o700));
  const server = await startServerProcess({
    dir,
    env: env({ SEND_TOKEN_FILE: join(folder, 'send-token') }),
    spawn,
  });
  assert.match(server.output(), /Send API on/);
  assert.equal(await server.stop(), 0, server.output());
});

/** `text` as a regular expression that matches just it. */
function literal(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

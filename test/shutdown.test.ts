// Graceful shutdown: SIGTERM/SIGINT stop accepting, let requests and writes in flight finish,
// then exit 0 with every acknowledged subscription on disk.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { Pool } from 'undici';
import { postSubscription, useHarness } from './support/harness.ts';
import type { ServerProcess } from './support/processes.ts';

/** Each welcome push takes this long: in flight when the signal comes, done well inside 5 s. */
const LATENCY_MS = 1500;
/** src/server.ts cuts what is left after 5 s; generous on top for a slow, shared machine. */
const EXIT_WITHIN_MS = 5000 + 5000;

const { push, start, track } = useHarness('swps-shutdown-', { latencyMs: LATENCY_MS });

/** POSTs a fresh subscription: the status and endpoint, or the connection error's code. */
async function subscribe(
  server: ServerProcess,
  pool: Pool,
): Promise<{ status?: number; error?: string; endpoint: string }> {
  const subscription = push().subscribe();
  try {
    const response = await postSubscription(server.httpUrl, subscription, pool);
    const body = (await response.body.json()) as { welcome?: { delivered: boolean } };
    assert.equal(response.statusCode === 201 ? body.welcome?.delivered : true, true);
    return { status: response.statusCode, endpoint: subscription.endpoint };
  } catch (error) {
    return {
      error: String((error as { code?: string }).code ?? error),
      endpoint: subscription.endpoint,
    };
  }
}

/** Whether a new TCP connection to `url` is refused. */
async function refused(url: string): Promise<boolean> {
  const socket = connect(Number(new URL(url).port), '127.0.0.1');
  const outcome = await new Promise<string | undefined>((resolve) => {
    socket.once('connect', () => resolve('connected'));
    socket.once('error', (error: NodeJS.ErrnoException) => resolve(error.code));
  });
  socket.destroy();
  return outcome === 'ECONNREFUSED';
}

async function storedEndpoints(server: ServerProcess): Promise<string[]> {
  const text = await readFile(join(server.dir, 'subscription.json'), 'utf8');
  return JSON.parse(text).map((entry: { endpoint: string }) => entry.endpoint);
}

for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  test(`on ${signal} stops accepting, finishes the subscribes in flight and exits 0 with them on disk`, async (t) => {
    const server = await start();
    const pool = track(new Pool(server.httpUrl, { connections: 20 }));
    const arrived = push().requests;
    // Ten whose welcome pushes are in flight, then ten more racing the signal (their writes in
    // progress, or not yet accepted at all).
    const first = Array.from({ length: 10 }, () => subscribe(server, pool));
    const deadline = Date.now() + 10_000;
    while (push().requests < arrived + 10 && Date.now() < deadline) await sleep(10);
    assert.ok(push().requests >= arrived + 10, 'all ten welcome pushes reached the push service');
    const racing = Array.from({ length: 10 }, () => subscribe(server, pool));
    await sleep(20);

    const signalled = Date.now();
    const exit = server.stop(signal);
    await sleep(150);
    // An impatient second signal must not kill the process mid-write.
    server.child.kill(signal);
    await sleep(150);
    assert.equal(server.child.exitCode, null, 'still finishing the requests in flight');
    assert.ok(await refused(server.httpUrl), 'new HTTP connections are refused');
    assert.ok(await refused(server.httpsUrl), 'new HTTPS connections are refused');

    const answered = await Promise.all(first);
    assert.deepEqual(
      answered.map((a) => a.status ?? a.error),
      Array(10).fill(201),
      'the ten in flight were answered, welcomes delivered',
    );
    const raced = await Promise.all(racing);
    for (const { status, error } of raced) {
      assert.ok(status === 201 || error !== undefined, `a racing subscribe got ${status ?? error}`);
    }
    assert.equal(await exit, 0);
    const elapsed = Date.now() - signalled;
    assert.ok(elapsed < EXIT_WITHIN_MS, `exited ${elapsed} ms after ${signal}`);
    const outcomes = raced.map((a) => a.status ?? a.error).join(' ');
    t.diagnostic(`exited ${elapsed} ms after ${signal}; the ten racing it: ${outcomes}`);
    assert.match(server.output(), new RegExp(`${signal}: finishing requests in flight`));
    assert.match(server.output(), new RegExp(`${signal}: already finishing`));

    const acknowledged = [...answered, ...raced].filter((a) => a.status === 201);
    const stored = new Set(await storedEndpoints(server));
    assert.deepEqual(
      acknowledged.filter((a) => !stored.has(a.endpoint)),
      [],
      'every acknowledged subscription is on disk',
    );
    assert.doesNotMatch(server.output(), /internal error|\n\s+at /);
  });
}

// Slow and flooding clients: timeouts, the connection cap and the per-address rate limit.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { connect as connectTcp, type Socket } from 'node:net';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { connect as connectTls } from 'node:tls';
import { Agent, request } from 'undici';
import { postSubscription, useHarness } from './support/harness.ts';
import type { ServerProcess } from './support/processes.ts';

// src/server.ts: headers within 10 s, the whole request within 20 s, checked every second.
const HEADERS_TIMEOUT_MS = 10_000;
const REQUEST_TIMEOUT_MS = 20_000;
const MAX_CONNECTIONS = 256;
/** Generous: the timeouts are checked once a second, and this machine is shared and slow. */
const SLACK_MS = 6_000;

const { push, start, track } = useHarness('swps-slow-');

type Mode = 'handshake' | 'silent' | 'header' | 'body';
interface SlowClient {
  mode: Mode;
  secure: boolean;
  /** Resolves when the server closes the connection: after how long, and what it said. */
  closed: Promise<{ afterMs: number; received: string }>;
  isOpen(): boolean;
}

/**
 * A client that connects to the TLS port and never starts the handshake, or connects and then
 * sends nothing, or its request headers a byte a second, or headers and then a byte a second.
 */
function slowClient(server: ServerProcess, ca: string, mode: Mode, secure: boolean): SlowClient {
  const port = Number(new URL(secure ? server.httpsUrl : server.httpUrl).port);
  const socket =
    secure && mode !== 'handshake'
      ? connectTls({ host: '127.0.0.1', port, ca, servername: 'localhost' })
      : connectTcp(port, '127.0.0.1');
  track(socket);
  const started = Date.now();
  const head =
    mode === 'body'
      ? 'POST /api/subscriptions HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 4000\r\n\r\n'
      : 'GET / HTTP/1.1\r\nHost: localhost\r\nX-Slow: ';
  let sent = 0;
  let received = '';
  let drip: NodeJS.Timeout | undefined;
  socket.once(secure && mode !== 'handshake' ? 'secureConnect' : 'connect', () => {
    if (mode === 'silent' || mode === 'handshake') return;
    if (mode === 'body') socket.write(head);
    drip = setInterval(() => {
      socket.write(mode === 'header' && sent < head.length ? (head[sent++] as string) : 'a');
    }, 1000);
  });
  socket.on('data', (chunk) => {
    received += chunk;
  });
  socket.on('error', () => {});
  const closed = new Promise<{ afterMs: number; received: string }>((resolve) => {
    socket.once('close', () => {
      clearInterval(drip);
      resolve({ afterMs: Date.now() - started, received });
    });
  });
  return { mode, secure, closed, isOpen: () => !socket.destroyed };
}

async function get(url: string, dispatcher?: Agent): Promise<{ status: number; ms: number }> {
  const started = Date.now();
  const response = await request(url, dispatcher ? { dispatcher } : {});
  await response.body.text();
  return { status: response.statusCode, ms: Date.now() - started };
}

async function subscribe(url: string, dispatcher?: Agent) {
  const subscription = push().subscribe();
  const response = await postSubscription(url, subscription, dispatcher);
  const text = await response.body.text();
  return { status: response.statusCode, headers: response.headers, text, ...subscription };
}

/** A connection that sends nothing; resolves once connected. */
async function idleConnection(port: number): Promise<Socket> {
  const socket = track(connectTcp(port, '127.0.0.1'));
  socket.on('error', () => {});
  await new Promise((resolve) => socket.once('connect', resolve));
  return socket;
}

// The servers' timeouts are 10-20 s: these run side by side, each against its own server.
describe('slow and flooding clients', { concurrency: true }, () => {
  test('cuts off 20 slow clients on both ports and answers a normal request promptly meanwhile', async () => {
    const server = await start();
    const ca = await readFile(join(server.dir, 'certs/ca.pem'), 'utf8');
    const agent = track(new Agent({ connect: { ca } }));
    const slow: Mode[] = ['silent', 'header', 'header', 'header', 'header'];
    slow.push('body', 'body', 'body', 'body');
    const clients = [
      ...[...slow, 'silent' as const].map((mode) => slowClient(server, ca, mode, false)),
      ...[...slow, 'handshake' as const].map((mode) => slowClient(server, ca, mode, true)),
    ];
    await sleep(3000);
    assert.ok(
      clients.every((client) => client.isOpen()),
      'all 20 are connected and dripping',
    );

    for (const url of [server.httpUrl, server.httpsUrl]) {
      const page = await get(`${url}/`, agent);
      assert.equal(page.status, 200);
      assert.ok(page.ms < 3000, `GET ${url}/ took ${page.ms} ms`);
      assert.equal((await subscribe(url, agent)).status, 201);
    }
    assert.ok(
      clients.every((client) => client.isOpen()),
      'the slow clients are still hanging on',
    );

    const results = await Promise.all(clients.map((client) => client.closed));
    results.forEach(({ afterMs, received }, index) => {
      const { mode, secure } = clients[index] as SlowClient;
      const limit = (mode === 'body' ? REQUEST_TIMEOUT_MS : HEADERS_TIMEOUT_MS) + SLACK_MS;
      const which = `${mode} client over ${secure ? 'HTTPS' : 'HTTP'}`;
      assert.ok(afterMs < limit, `${which} cut after ${afterMs} ms`);
      // Node answers 408 when it can; a silent client is simply disconnected.
      if (received) assert.match(received, /^HTTP\/1\.1 408 /, which);
    });
    assert.doesNotMatch(server.output(), /internal error|\n\s+at /);
  });

  test(`drops connections beyond ${MAX_CONNECTIONS} at once and serves again when some go`, async () => {
    const server = await start();
    const port = Number(new URL(server.httpUrl).port);
    const held = await Promise.all(
      Array.from({ length: MAX_CONNECTIONS }, () => idleConnection(port)),
    );
    await sleep(500); // let the server accept all of them

    const extra = await idleConnection(port);
    let answer = '';
    extra.on('data', (chunk) => {
      answer += chunk;
    });
    extra.write('GET / HTTP/1.1\r\nHost: localhost\r\n\r\n');
    await Promise.race([
      new Promise((resolve) => extra.once('close', resolve)),
      sleep(5000).then(() => assert.fail('connection 257 was not dropped')),
    ]);
    assert.equal(answer, '', 'connection 257 got no answer');

    for (const socket of held.slice(0, 10)) socket.destroy();
    await sleep(500);
    assert.equal((await get(`${server.httpUrl}/`)).status, 200);
    for (const socket of held) socket.destroy();
  });

  test('answers the 6th subscribe in a minute with 429 and Retry-After when RATE_LIMIT=5, while GET / still works', async () => {
    const server = await start({ env: { RATE_LIMIT: '5' } });
    for (let i = 0; i < 5; i++) assert.equal((await subscribe(server.httpUrl)).status, 201);
    const limited = await subscribe(server.httpUrl);
    assert.equal(limited.status, 429);
    const retryAfter = Number(limited.headers['retry-after']);
    assert.ok(retryAfter >= 1 && retryAfter <= 60, `Retry-After: ${retryAfter}`);
    assert.match(JSON.parse(limited.text).error, /too many requests/);
    // Unsubscribe and test share the allowance, over HTTPS too: it is per address.
    for (const [path, method] of [
      ['', 'DELETE'],
      ['/test', 'POST'],
    ] as const) {
      const response = await request(`${server.httpUrl}/api/subscriptions${path}`, {
        method,
        headers: { 'content-type': 'application/json' },
        body: '{"endpoint":"x"}',
      });
      await response.body.text();
      assert.equal(response.statusCode, 429, `${method} ${path}`);
    }
    const insecure = track(new Agent({ connect: { rejectUnauthorized: false } }));
    assert.equal((await subscribe(server.httpsUrl, insecure)).status, 429);
    const welcomed = push().received.some((message) => message.endpoint === limited.endpoint);
    assert.equal(welcomed, false, 'nothing was pushed for a refused request');

    assert.equal((await get(`${server.httpUrl}/`)).status, 200);
    assert.equal((await get(`${server.httpUrl}/api/vapid-public-key`)).status, 200);
    // Another client address has its own allowance.
    const elsewhere = track(new Agent({ localAddress: '127.0.0.2' }));
    assert.equal((await subscribe(server.httpUrl, elsewhere)).status, 201);
  });

  test('RATE_LIMIT=0 turns the limit off: 30 subscribes in a row from one address all succeed', async () => {
    const server = await start({ env: { RATE_LIMIT: '0' } });
    for (let i = 0; i < 30; i++) assert.equal((await subscribe(server.httpUrl)).status, 201);
  });
});

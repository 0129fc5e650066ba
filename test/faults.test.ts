// Push-side faults through the real server: every welcome push ends, is reported, and the
// subscription is kept.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { createServer as createHttpsServer } from 'node:https';
import {
  type AddressInfo,
  createServer as createTcpServer,
  type Server,
  type Socket,
} from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createServer as createTlsServer } from 'node:tls';
import { generate } from 'selfsigned';
import { request } from 'undici';
import {
  childEnv,
  freePort,
  type ServerProcess,
  startServerProcess,
  tempDir,
} from './support/processes.ts';
import { type PushService, startPushService } from './support/push-service.ts';

/** src/push.ts: no answer within 10 s is a failure (the server's pusher uses the default). */
const PUSH_TIMEOUT_MS = 10_000;
/** Generous bound on any POST: the push timeout, retries after 1-2 s, and a slow shared machine. */
const ANSWER_WITHIN_MS = PUSH_TIMEOUT_MS + 10_000;

let push: PushService;
let server: ServerProcess;
let dir: string;
let ca: string;
const faulty: Record<string, string> = {};
const closers: (() => void)[] = [];
const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown) => unhandled.push(reason);

before(async () => {
  process.on('unhandledRejection', onUnhandled);
  push = await startPushService();
  const pems = await generate([{ name: 'commonName', value: 'faulty push services' }], {
    keyType: 'ec',
    algorithm: 'sha256',
    extensions: [{ name: 'subjectAltName', altNames: [{ type: 7, ip: '127.0.0.1' }] }],
  });
  const tls = { key: pems.private, cert: pems.cert };
  // A TLS server that answers an HTTP request with something that is not HTTP.
  faulty.junk = await listen(
    createTlsServer(tls, (socket) => {
      socket.on('error', () => {});
      socket.once('data', () => socket.end('SSH-2.0-OpenSSH_9.6\r\n\u0000\u00ff{garbage\r\n\r\n'));
    }),
  );
  // Plain TCP where TLS is expected: the handshake itself fails.
  faulty.plain = await listen(
    createTcpServer((socket) => {
      socket.on('error', () => {});
      socket.end('HTTP/1.1 200 OK\r\n\r\nnot TLS');
    }),
  );
  // 500, then a body that never ends, as fast as the connection takes it.
  faulty.endless = await listen(
    createHttpsServer(tls, (req, res) => {
      req.resume();
      res.writeHead(500, { 'content-type': 'text/plain' });
      const chunk = Buffer.alloc(64 * 1024, 'x');
      const pump = () => {
        while (!res.destroyed && res.write(chunk)) {}
      };
      res.on('drain', pump);
      pump();
    }),
  );
  // 500, then a body of one byte a second: never idle long enough for an idle timeout.
  faulty.trickle = await listen(
    createHttpsServer(tls, (req, res) => {
      req.resume();
      res.writeHead(500, { 'content-type': 'text/plain' });
      res.flushHeaders();
      const drip = setInterval(() => res.write('x'), 1000);
      res.on('close', () => clearInterval(drip));
    }),
  );
  faulty.refused = `127.0.0.1:${await freePort()}`;

  ca = `${push.ca}\n${pems.cert}`;
});

after(async () => {
  for (const close of closers) close();
  await push?.close();
  process.off('unhandledRejection', onUnhandled);
});

/** Starts the server with PUSH_HTTP2 as given; its `after` stops it. */
function useServer(http2: boolean): void {
  before(async () => {
    dir = await tempDir('swps-faults-');
    const caFile = join(dir, 'ca.pem');
    await writeFile(caFile, ca);
    const hosts = [push.host, ...Object.values(faulty)].join(',');
    const extra = { NODE_EXTRA_CA_CERTS: caFile, PUSH_ALLOWED_HOSTS: hosts };
    server = await startServerProcess({
      dir,
      env: childEnv(push, { ...extra, PUSH_HTTP2: http2 ? '1' : '0' }),
    });
  });
  after(async () => {
    await server?.stop('SIGKILL');
    if (dir) await rm(dir, { recursive: true, force: true });
  });
}

/** Listens on loopback; `after` closes it and every connection it still has. */
async function listen(listener: Server): Promise<string> {
  const sockets = new Set<Socket>();
  listener.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  listener.listen(0, '127.0.0.1');
  await once(listener, 'listening');
  closers.push(() => {
    listener.close();
    for (const socket of sockets) socket.destroy();
  });
  return `127.0.0.1:${(listener.address() as AddressInfo).port}`;
}

interface Welcome {
  delivered: boolean;
  removed: boolean;
  error?: { host: string; status?: number; reason: string };
}

/** Subscribes `subscription` and returns the answer, how long it took, and the welcome report. */
async function subscribe(subscription: object) {
  const started = Date.now();
  const response = await request(`${server.httpUrl}/api/subscriptions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(subscription),
  });
  const body = (await response.body.json()) as { subscription: string; welcome: Welcome };
  return { status: response.statusCode, ms: Date.now() - started, ...body };
}

async function stored(): Promise<string[]> {
  const entries = JSON.parse(await readFile(join(dir, 'subscription.json'), 'utf8'));
  return entries.map((entry: { endpoint: string }) => entry.endpoint);
}

interface Fault {
  /** What the push service does. */
  does: string;
  /** The subscription to post, after arranging the fault. */
  arrange(): { endpoint: string };
  expect: { status?: number; reason?: RegExp; delivered?: true };
}

/** A subscription minted by the test push service, told to misbehave. */
function misbehaving(behaviour: Parameters<PushService['behave']>[1], times?: number) {
  return () => {
    const subscription = push.subscribe();
    push.behave(subscription.endpoint, behaviour, times);
    return subscription;
  };
}

/** A valid subscription whose endpoint is one of the faulty servers. */
const at = (name: string) => () => ({
  ...push.subscribe(),
  endpoint: `https://${faulty[name]}/push/x`,
});

const FAULTS: Fault[] = [
  {
    does: 'stalls',
    arrange: misbehaving({ stall: true }),
    expect: { reason: /no answer within 10 s/ },
  },
  {
    does: 'resets every connection',
    arrange: misbehaving({ reset: true }),
    expect: { reason: /UND_ERR_SOCKET|ECONNRESET|closed/ },
  },
  { does: 'answers 500', arrange: misbehaving({ status: 500 }), expect: { status: 500 } },
  {
    does: 'answers 503 every time',
    arrange: misbehaving({ status: 503 }),
    expect: { status: 503 },
  },
  {
    does: 'answers 429 with Retry-After: 1 every time',
    arrange: misbehaving({ status: 429, retryAfter: 1 }),
    expect: { status: 429 },
  },
  {
    does: 'answers 503 with Retry-After: 3600',
    arrange: misbehaving({ status: 503, retryAfter: 3600 }),
    expect: { status: 503 },
  },
  {
    does: 'answers 429 once, then accepts',
    arrange: misbehaving({ status: 429, retryAfter: 1 }, 1),
    expect: { delivered: true },
  },
  {
    does: 'replies with something that is not HTTP',
    arrange: at('junk'),
    expect: { reason: /HPE_|parse|expected HTTP/i },
  },
  { does: 'is not TLS at all', arrange: at('plain'), expect: { reason: /SSL|TLS|EPROTO|packet/i } },
  { does: 'sends 500 and a body that never ends', arrange: at('endless'), expect: { status: 500 } },
  {
    does: 'sends 500 and its body a byte a second',
    arrange: at('trickle'),
    expect: { status: 500 },
  },
  { does: 'refuses the connection', arrange: at('refused'), expect: { reason: /ECONNREFUSED/ } },
];

// The whole set over each protocol the server can speak to push services; the faulty servers
// below speak HTTP/1.1 or less whatever is offered.
for (const [http2, httpVersion] of [
  [false, '1.1'],
  [true, '2.0'],
] as const) {
  describe(`PUSH_HTTP2=${http2 ? 1 : 0}`, () => {
    useServer(http2);
    let received = 0;
    before(() => {
      received = push.received.length;
    });

    // Side by side: the stall alone takes the pusher's 10 s timeout.
    describe('a push service that misbehaves', { concurrency: true }, () => {
      for (const { does, arrange, expect } of FAULTS) {
        test(`${does}: the subscribe answers 201 within ${ANSWER_WITHIN_MS / 1000} s, reports it and keeps the subscription`, async (t) => {
          const subscription = arrange();
          const answer = await subscribe(subscription);
          assert.equal(answer.status, 201);
          assert.equal(answer.subscription, 'created');
          assert.ok(answer.ms < ANSWER_WITHIN_MS, `answered after ${answer.ms} ms`);
          const { welcome } = answer;
          t.diagnostic(`after ${answer.ms} ms: ${JSON.stringify(welcome.error ?? welcome)}`);
          if (expect.delivered) {
            assert.deepEqual(welcome, { delivered: true, removed: false });
          } else {
            assert.equal(welcome.delivered, false);
            assert.equal(welcome.removed, false);
            assert.equal(welcome.error?.host, new URL(subscription.endpoint).host);
            if (expect.status) assert.equal(welcome.error?.status, expect.status);
            if (expect.reason) assert.match(welcome.error?.reason ?? '', expect.reason);
            assert.ok((welcome.error?.reason.length ?? 0) <= 300, 'a short reason');
          }
          assert.ok((await stored()).includes(subscription.endpoint), 'the subscription is kept');
        });
      }
    });

    test('after all that the server is up, logged each failure in one line and exits 0 on SIGTERM', async () => {
      assert.deepEqual(unhandled, [], 'no unhandled rejection in the test process');
      const page = await request(`${server.httpUrl}/`);
      await page.body.text();
      assert.equal(page.statusCode, 200);
      // Memory stayed bounded through the endless body (VmHWM: the peak resident set).
      const status = await readFile(`/proc/${server.child.pid}/status`, 'utf8').catch(() => '');
      const peakKb = Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1] ?? 0);
      assert.ok(peakKb < 600 * 1024, `peak memory ${Math.round(peakKb / 1024)} MB`);
      const output = server.output();
      const failures = output.split('\n').filter((line) => /^welcome push to .* failed/.test(line));
      assert.equal(failures.length, FAULTS.length - 1);
      assert.doesNotMatch(output, /\n\s+at |Unhandled|internal error/);
      assert.equal(await server.stop('SIGTERM'), 0);
    });

    test(`the welcome pushes that arrived came over HTTP/${httpVersion}`, () => {
      const versions = push.received.slice(received).map((message) => message.httpVersion);
      assert.ok(versions.length > 0);
      assert.deepEqual(new Set(versions), new Set([httpVersion]));
    });
  });
}

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Agent } from 'undici';
import { type HostRule, parseHostRule } from '../../src/config.ts';
import { generateKeys } from '../../src/keys.ts';
import { DEFAULT_TTL } from '../../src/push/options.ts';
import { createPusher, type Pusher, type PusherOptions } from '../../src/push/pusher.ts';
import { FULL_NOTIFICATION } from '../support/notification.ts';
import { type PushService, startPushService } from '../support/push-service.ts';

const vapid = generateKeys('mailto:push-test@example.com');
const HOUR = 60 * 60;
let one: PushService;
let two: PushService;
let slow: PushService;
let dispatcher: Agent;
/** The tests run once over each protocol; the second set of agents offers HTTP/2 (ALPN). */
const agents: Agent[] = [];
let allowlist: HostRule[];
const pushers: Pusher[] = [];

before(async () => {
  [one, two, slow] = await Promise.all([
    startPushService(),
    startPushService(),
    startPushService({ latencyMs: 100 }),
  ]);
  // Each test push service has its own self-signed certificate: trust all three.
  const connect = { ca: [one.ca, two.ca, slow.ca] };
  agents.push(new Agent({ connect }), new Agent({ connect, allowH2: true }));
  allowlist = [one, two, slow].map((service) => parseHostRule(service.host));
});

after(async () => {
  await Promise.all(pushers.map((pusher) => pusher.close()));
  await Promise.all(agents.map((agent) => agent.close()));
  await Promise.all([one, two, slow].map((service) => service.close()));
});

/** A pusher over the shared agent, closed in `after`. */
function pusher(options: Partial<PusherOptions> = {}): Pusher {
  const created = createPusher({ vapid, allowlist, dispatcher, ...options });
  pushers.push(created);
  return created;
}

/** A payload as send.ts gives the pusher: the JSON, already checked against the size limit. */
const note = (body = 'hello') => JSON.stringify({ title: 'Test', body });

/** What arrived at `service` for this endpoint, parsed. */
function arrived(service: PushService, endpoint: string) {
  return service.received.filter((message) => message.endpoint === endpoint);
}

/** Polls `condition` every 10 ms; fails after 5 s. */
async function until(condition: () => boolean): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!condition()) {
    assert.ok(Date.now() < deadline, 'timed out waiting');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

function jwtClaims(authorization: string): { aud: string; exp: number; sub: string } {
  const token = /t=([^,\s]+)/.exec(authorization)?.[1] ?? '';
  return JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString());
}

for (const [index, httpVersion] of ['1.1', '2.0'].entries()) {
  describe(`over HTTP/${httpVersion}`, () => {
    const start: number[] = [];
    before(() => {
      dispatcher = agents[index] as Agent;
      start.push(...[one, two, slow].map((service) => service.received.length));
    });

    test('delivers a notification that the push service decrypts to the exact JSON', async () => {
      const subscription = one.subscribe();
      const report = await pusher().send([subscription], JSON.stringify(FULL_NOTIFICATION));
      assert.deepEqual(report, { delivered: 1, gone: [], failed: [] });
      const [message] = arrived(one, subscription.endpoint);
      assert.equal(message?.payload, JSON.stringify(FULL_NOTIFICATION));
      assert.equal(message?.vapidPublicKey, vapid.publicKey);
      assert.equal(message?.claims.sub, vapid.subject);
      assert.equal(message?.claims.aud, one.origin);
    });

    test('sends TTL 86400 and Urgency normal by default, and no Topic', async () => {
      const subscription = one.subscribe();
      await pusher().send([subscription], note());
      const [message] = arrived(one, subscription.endpoint);
      assert.equal(DEFAULT_TTL, 86400);
      assert.equal(message?.ttl, 86400);
      // web-push always sends an Urgency header; RFC 8030 §5.3's default is normal.
      assert.equal(message?.urgency, 'normal');
      assert.equal(message?.topic, undefined);
    });

    test('sends the given ttl, urgency and topic as headers', async () => {
      const subscription = one.subscribe();
      await pusher().send([subscription], note(), { ttl: 60, urgency: 'high', topic: 'backup-1' });
      const [message] = arrived(one, subscription.endpoint);
      assert.equal(message?.ttl, 60);
      assert.equal(message?.urgency, 'high');
      assert.equal(message?.topic, 'backup-1');
    });

    test('reports 404 and 410 as gone', async () => {
      const [a, b, c] = [one.subscribe(), one.subscribe(), one.subscribe()];
      one.behave(a.endpoint, { status: 404 });
      one.behave(b.endpoint, { status: 410 });
      const report = await pusher().send([a, b, c], note());
      assert.equal(report.delivered, 1);
      assert.deepEqual(report.gone.sort(), [a.endpoint, b.endpoint].sort());
      assert.deepEqual(report.failed, []);
    });

    test('reports 400, 401, 403, 413 and 500 as failed with status and reason', async () => {
      const statuses = [400, 401, 403, 413, 500];
      const subscriptions = statuses.map((status) => {
        const subscription = one.subscribe();
        one.behave(subscription.endpoint, { status, body: `reason ${status}` });
        return subscription;
      });
      const report = await pusher().send(subscriptions, note());
      assert.equal(report.delivered, 0);
      assert.deepEqual(report.gone, []);
      const failed = [...report.failed].sort((x, y) => (x.status ?? 0) - (y.status ?? 0));
      assert.deepEqual(
        failed,
        statuses.map((status, i) => ({
          endpoint: subscriptions[i]?.endpoint,
          status,
          reason: `reason ${status}`,
        })),
      );
    });

    test('retries a 429 after its Retry-After while another origin keeps delivering', async () => {
      const paused = one.subscribe();
      const others = [two.subscribe(), two.subscribe(), two.subscribe()];
      one.behave(paused.endpoint, { status: 429, retryAfter: 1 }, 1);
      const start = Date.now();
      const sending = pusher({ concurrency: 1 }).send([paused, ...others], note());
      const otherAt = two.waitFor(two.received.length + 3).then(
        () => Date.now() - start,
        () => Number.POSITIVE_INFINITY,
      );
      const report = await sending;
      const pausedAt = Date.now() - start;
      assert.deepEqual(report, { delivered: 4, gone: [], failed: [] });
      assert.equal(arrived(one, paused.endpoint).length, 1);
      // The other origin's three messages arrive well before the paused one is retried.
      assert.ok((await otherAt) < 900, `other origin done after ${await otherAt} ms`);
      assert.ok(pausedAt >= 950, `429 retried after ${pausedAt} ms, before Retry-After: 1`);
      assert.ok(pausedAt < 3000, `429 retried only after ${pausedAt} ms`);
    });

    test('fails at once on a 429 whose Retry-After is longer than maxRetryAfterMs', async () => {
      const subscription = one.subscribe();
      one.behave(subscription.endpoint, { status: 429, retryAfter: 120, body: 'slow down' });
      const requests = one.requests;
      const start = Date.now();
      const report = await pusher({ maxRetryAfterMs: 60_000 }).send([subscription], note());
      assert.deepEqual(report.failed, [
        { endpoint: subscription.endpoint, status: 429, reason: 'slow down' },
      ]);
      assert.equal(one.requests, requests + 1);
      assert.ok(Date.now() - start < 1000);
    });

    test('retries a 503 without Retry-After with growing backoff, then fails', async () => {
      const subscription = one.subscribe();
      one.behave(subscription.endpoint, { status: 503, body: 'busy' });
      const requests = one.requests;
      const start = Date.now();
      const report = await pusher({ maxRetries: 2 }).send([subscription], note());
      const elapsed = Date.now() - start;
      assert.deepEqual(report.failed, [
        { endpoint: subscription.endpoint, status: 503, reason: 'busy' },
      ]);
      assert.equal(one.requests, requests + 3);
      // 1 s then 2 s: a fixed 1 s pause would be done in about 2 s.
      assert.ok(elapsed >= 2900, `gave up after ${elapsed} ms`);
      assert.ok(elapsed < 6000, `gave up only after ${elapsed} ms`);
    });

    test('fails with "no answer within" when the push service stalls past timeoutMs', async () => {
      const subscription = one.subscribe();
      one.behave(subscription.endpoint, { stall: true });
      const start = Date.now();
      const report = await pusher({ timeoutMs: 300 }).send([subscription], note());
      const elapsed = Date.now() - start;
      assert.deepEqual(report.failed, [
        { endpoint: subscription.endpoint, reason: 'no answer within 0.3 s' },
      ]);
      assert.ok(elapsed >= 290 && elapsed < 2000, `timed out after ${elapsed} ms`);
    });

    test('close() ends a stalled request at once instead of waiting for its timeout', async () => {
      const subscription = one.subscribe();
      one.behave(subscription.endpoint, { stall: true });
      const push = pusher({ timeoutMs: 10_000 });
      const requests = one.requests;
      const sending = push.send([subscription], note());
      await until(() => one.requests > requests);
      const start = Date.now();
      await push.close();
      const report = await sending;
      assert.ok(Date.now() - start < 1000, `send ended ${Date.now() - start} ms after close()`);
      assert.deepEqual(report.failed, [
        { endpoint: subscription.endpoint, reason: 'not sent: shutting down' },
      ]);
    });

    test('close() ends a Retry-After pause at once', async () => {
      const subscription = one.subscribe();
      one.behave(subscription.endpoint, { status: 429, retryAfter: 30 }, 1);
      const push = pusher();
      const requests = one.requests;
      const sending = push.send([subscription], note());
      await until(() => one.requests > requests);
      await new Promise((resolve) => setTimeout(resolve, 50));
      const start = Date.now();
      await push.close();
      const report = await sending;
      assert.ok(Date.now() - start < 1000, `send ended ${Date.now() - start} ms after close()`);
      assert.equal(report.failed[0]?.reason, 'not sent: shutting down');
      assert.equal(one.requests, requests + 1);
    });

    test('retries once on a new connection when the connection is reset', async () => {
      const subscription = one.subscribe();
      one.behave(subscription.endpoint, { reset: true }, 1);
      const report = await pusher().send([subscription], note());
      assert.deepEqual(report, { delivered: 1, gone: [], failed: [] });
      assert.equal(arrived(one, subscription.endpoint).length, 1);
    });

    test('fails when the connection is reset every time', async () => {
      const subscription = one.subscribe();
      one.behave(subscription.endpoint, { reset: true });
      const requests = one.requests;
      const report = await pusher().send([subscription], note());
      assert.equal(report.delivered, 0);
      assert.equal(report.failed.length, 1);
      assert.equal(report.failed[0]?.endpoint, subscription.endpoint);
      assert.equal(report.failed[0]?.status, undefined);
      assert.match(
        report.failed[0]?.reason ?? '',
        /^(ECONNRESET|EPIPE|UND_ERR_\w+|ERR_HTTP2_STREAM_ERROR): /,
      );
      assert.equal(one.requests, requests + 2);
    });

    test('never has more than `concurrency` requests in flight to one origin', async () => {
      const subscriptions = Array.from({ length: 20 }, () => slow.subscribe());
      const start = Date.now();
      const report = await pusher({ concurrency: 4 }).send(subscriptions, note());
      const elapsed = Date.now() - start;
      assert.equal(report.delivered, 20);
      assert.equal(slow.maxInFlight, 4);
      // 20 requests, 4 at a time, 100 ms each: at least five rounds.
      assert.ok(elapsed >= 480, `20 requests took ${elapsed} ms`);
    });

    test('signs one JWT per origin and reuses it for every message', async () => {
      const subscriptions = Array.from({ length: 50 }, () => one.subscribe());
      const otherOrigin = two.subscribe();
      const report = await pusher().send([...subscriptions, otherOrigin], note());
      assert.equal(report.delivered, 51);
      const headers = new Set(
        subscriptions.map((s) => arrived(one, s.endpoint)[0]?.authorization ?? 'missing'),
      );
      assert.equal(headers.size, 1);
      const [header = ''] = headers;
      const other = arrived(two, otherOrigin.endpoint)[0];
      assert.notEqual(other?.authorization, header);
      assert.equal(jwtClaims(header).aud, one.origin);
      assert.equal(other?.claims.aud, two.origin);
    });

    test('renews the JWT after 11 hours and never signs one more than 24 hours ahead', async () => {
      let clock = Date.now();
      const push = pusher({ now: () => clock });
      const sendOne = async () => {
        const subscription = one.subscribe();
        await push.send([subscription], note());
        const message = arrived(one, subscription.endpoint)[0];
        assert.ok(message, 'delivered');
        assert.ok(message.claims.exp <= clock / 1000 + 24 * HOUR, 'exp at most 24 h ahead');
        return message;
      };
      const first = await sendOne();
      clock += 10 * HOUR * 1000;
      const tenHoursLater = await sendOne();
      assert.equal(tenHoursLater.authorization, first.authorization);
      clock += (HOUR + 60) * 1000;
      const renewed = await sendOne();
      assert.notEqual(renewed.authorization, first.authorization);
      assert.ok(renewed.claims.exp > first.claims.exp);
    });

    test('fails an endpoint that is not on the allowlist without connecting', async () => {
      const lonely = await startPushService();
      try {
        const subscription = lonely.subscribe();
        const report = await pusher().send([subscription], note());
        assert.equal(report.delivered, 0);
        assert.equal(report.failed.length, 1);
        assert.match(
          report.failed[0]?.reason ?? '',
          /127\.0\.0\.1 is an IP address, not a push service/,
        );
        assert.equal(lonely.requests, 0);
        assert.equal(lonely.connections, 0);
      } finally {
        await lonely.close();
      }
    });

    test('calls onProgress once per subscription with done and total', async () => {
      const subscriptions = [one.subscribe(), one.subscribe(), two.subscribe(), two.subscribe()];
      one.behave(subscriptions[1]?.endpoint ?? '', { status: 410 });
      const calls: [number, number][] = [];
      await pusher().send(subscriptions, note(), {}, (done, total) => calls.push([done, total]));
      assert.deepEqual(calls, [
        [1, 4],
        [2, 4],
        [3, 4],
        [4, 4],
      ]);
    });

    /** A subscription of `service` whose p256dh was edited by hand: no longer on the P-256 curve. */
    function offCurve(service: PushService) {
      const subscription = service.subscribe();
      const point = Buffer.from(subscription.keys.p256dh, 'base64url');
      point[64] = (point[64] as number) ^ 1;
      return {
        ...subscription,
        keys: { ...subscription.keys, p256dh: point.toString('base64url') },
      };
    }

    for (const [where, workers] of [
      ['on the main thread', {}],
      ['in the worker threads', { threshold: 1, size: 1 }],
    ] as const) {
      test(`fails a stored key off the P-256 curve at send time with its reason, ${where}`, async () => {
        const bad = offCurve(one);
        const good = one.subscribe();
        const report = await pusher({ workers }).send([bad, good], note());
        assert.equal(report.delivered, 1);
        assert.deepEqual(report.failed, [
          {
            endpoint: bad.endpoint,
            reason: '"keys.p256dh" must be an uncompressed point on the P-256 curve (65 bytes)',
          },
        ]);
        assert.equal(arrived(one, bad.endpoint).length, 0, 'nothing sent for it');
      });
    }

    // With one worker and ten batches, the main thread encrypts those queued while it waits.
    for (const [size, count] of [
      [2, 150],
      [1, 320],
    ] as const) {
      test(`a large send encrypts in ${size} worker thread(s): each of ${count} messages arrives once and decrypts`, async () => {
        const subscriptions = Array.from({ length: count }, (_, i) =>
          (i % 3 ? one : two).subscribe(),
        );
        const report = await pusher({ workers: { threshold: 100, size } }).send(
          subscriptions,
          note('from the pool'),
          { urgency: 'high', topic: 'pool' },
        );
        assert.deepEqual(report, { delivered: count, gone: [], failed: [] });
        for (const { endpoint } of subscriptions) {
          const messages = [...arrived(one, endpoint), ...arrived(two, endpoint)];
          assert.equal(messages.length, 1, endpoint);
          assert.equal(JSON.parse(messages[0]?.payload ?? '{}').body, 'from the pool');
          assert.equal(messages[0]?.urgency, 'high');
          assert.equal(messages[0]?.topic, 'pool');
        }
      });
    }

    test('when an encryption worker exits, its messages fail with the reason and the rest arrive', {
      timeout: 30_000,
    }, async () => {
      const entry = new URL('../support/exiting-encrypt-worker.ts', import.meta.url);
      const sender = pusher({ workers: { threshold: 1, size: 1, entry } });
      const subscriptions = Array.from({ length: 100 }, () => one.subscribe());
      const report = await sender.send(subscriptions, note());
      assert.equal(report.delivered + report.failed.length, 100, 'every message accounted for');
      assert.ok(report.failed.length >= 32, `${report.failed.length} failed`);
      for (const failure of report.failed) {
        assert.match(failure.reason, /^encryption worker exited \(code 3\)/);
        assert.equal(arrived(one, failure.endpoint).length, 0);
      }
      // The stand-in answers one batch per worker: the others were encrypted by a replacement
      // worker or by the main thread while it waited (encrypt-pool.test.ts tests each).
      assert.ok(report.delivered > 32, `${report.delivered} delivered`);
      const delivered = subscriptions.filter((s) => arrived(one, s.endpoint).length === 1);
      assert.equal(delivered.length, report.delivered, 'each delivered one arrived once');
    });

    test(`every message came over HTTP/${httpVersion}`, () => {
      const messages = [one, two, slow].flatMap((service, i) => service.received.slice(start[i]));
      assert.ok(messages.length > 100);
      assert.deepEqual(
        new Set(messages.map((message) => message.httpVersion)),
        new Set([httpVersion]),
      );
    });
  });
}

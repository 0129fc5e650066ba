import { setMaxListeners } from 'node:events';
import type { Dispatcher } from 'undici';
import type { Config, HostRule } from '../config.ts';
import type { VapidKeys } from '../keys.ts';
import { checkEndpoint, type Subscription } from '../store/subscription.ts';
import { BATCH, encryptHere, encryptInPool } from './bodies.ts';
import { createDelivery, type Failure, type Outcome } from './delivery.ts';
import type { EncryptPool } from './encrypt-pool.ts';
import { fanOut, type Target } from './fan-out.ts';
import { DEFAULT_TTL, type DeliveryOptions } from './options.ts';
import { createAgent } from './undici.ts';
import { createVapidHeaders } from './vapid-header.ts';

/** Every push accounted for: delivered, gone (404/410: remove them), or failed with a reason. */
export interface Report {
  delivered: number;
  gone: string[];
  failed: Failure[];
}

export interface PusherOptions {
  vapid: VapidKeys;
  allowlist: readonly HostRule[];
  /** Requests in flight per push-service origin: streams on HTTP/2, connections on HTTP/1.1. */
  concurrency?: number;
  timeoutMs?: number;
  /** How often a 429/503 with Retry-After is retried. */
  maxRetries?: number;
  /** The longest Retry-After honoured; a longer one is a failure. */
  maxRetryAfterMs?: number;
  /** Offer HTTP/2 to push services (PUSH_HTTP2); ignored with a `dispatcher`. */
  http2?: boolean;
  /** Sends to at least `threshold` subscriptions encrypt in `size` worker threads. */
  workers?: { threshold?: number; size?: number; entry?: URL };
  dispatcher?: Dispatcher;
  now?: () => number;
}

export interface Pusher {
  /** Sends `payload` (the JSON of declarative.ts, already checked against the size limit) to each. */
  send(
    subscriptions: readonly Subscription[],
    payload: string,
    options?: DeliveryOptions,
    onProgress?: (done: number, total: number) => void,
  ): Promise<Report>;
  close(): Promise<void>;
}

/** Requests in flight per push-service origin unless told otherwise. */
export const DEFAULT_CONCURRENCY = 160;
/**
 * Sends to this many subscriptions or more encrypt in worker threads: starting one costs tens of
 * ms, so smaller sends (the welcome, `npm run send`) encrypt here (docs/performance.md).
 */
export const POOL_THRESHOLD = 200;

/** Sends encrypted notifications with a cached VAPID header and bounded concurrency per origin. */
export function createPusher(options: PusherOptions): Pusher {
  const {
    vapid,
    allowlist,
    concurrency = DEFAULT_CONCURRENCY,
    timeoutMs = 10_000,
    maxRetries = 2,
  } = options;
  const { maxRetryAfterMs = 60_000, now = Date.now, workers = {} } = options;
  const { threshold = POOL_THRESHOLD } = workers;
  const dispatcher = options.dispatcher ?? createAgent(concurrency, timeoutMs, options.http2);
  const authorization = createVapidHeaders(vapid, now);
  // close() cuts pauses and requests in flight: a stalled push service must not delay shutdown.
  const closing = new AbortController();
  // One abort listener per request paused by a 429 or 503, to every origin: not a leak.
  setMaxListeners(0, closing.signal);
  const deliver = createDelivery({
    dispatcher,
    timeoutMs,
    maxRetries,
    maxRetryAfterMs,
    signal: closing.signal,
    // Else undici sends one POST at a time on an HTTP/2 connection (see createAgent).
    idempotent: options.http2 === true,
    now,
  });
  let pool: Promise<EncryptPool> | undefined;

  /** The bodies of one origin's targets: encrypted here for a small send, in the workers for a large one. */
  async function bodiesFor(payload: Buffer, targets: readonly Target[], large: boolean) {
    const subscriptions = targets.map((target) => target.subscription);
    if (!large) return encryptHere(payload, subscriptions);
    pool ??= import('./encrypt-pool.ts').then(({ createEncryptPool }) =>
      createEncryptPool(workers),
    );
    return encryptInPool(await pool, payload, subscriptions, Math.ceil(concurrency / BATCH) + 2);
  }

  return {
    async send(subscriptions, json, delivery = {}, onProgress) {
      const payload = Buffer.from(json);
      const report: Report = { delivered: 0, gone: [], failed: [] };
      let done = 0;
      const account = (endpoint: string, outcome: Outcome) => {
        if (outcome === 'delivered') report.delivered++;
        else if (outcome === 'gone') report.gone.push(endpoint);
        else report.failed.push(outcome);
        onProgress?.(++done, subscriptions.length);
      };
      // RFC 8030 §5 and RFC 8291 §4: the same for every message of this send.
      const common: Record<string, string> = {
        TTL: String(delivery.ttl ?? DEFAULT_TTL),
        'Content-Encoding': 'aes128gcm',
        'Content-Type': 'application/octet-stream',
        Urgency: delivery.urgency ?? 'normal',
        ...(delivery.topic ? { Topic: delivery.topic } : {}),
      };
      const large = subscriptions.length >= threshold;
      const { groups, refused } = groupByOrigin(subscriptions, allowlist);
      for (const failure of refused) account(failure.endpoint, failure);
      await Promise.all(
        [...groups].map(async ([audience, targets]) => {
          const headers = { ...common, Authorization: authorization(audience) };
          const batchOf = await bodiesFor(payload, targets, large);
          await fanOut({ targets, batchOf, headers, deliver, account, concurrency });
        }),
      );
      return report;
    },
    async close() {
      closing.abort();
      const closingPool = pool?.then((workersPool) => workersPool.close());
      if (!options.dispatcher) await dispatcher.close();
      await closingPool;
    },
  };
}

/** The pusher of the server and `npm run send`: the allowlist and protocol as configured. */
export function createConfiguredPusher(config: Config, vapid: VapidKeys): Pusher {
  return createPusher({ vapid, allowlist: config.pushAllowedHosts, http2: config.pushHttp2 });
}

/** Groups by push-service origin; endpoints that may not be pushed to fail without a request. */
function groupByOrigin(subscriptions: readonly Subscription[], allowlist: readonly HostRule[]) {
  const groups = new Map<string, Target[]>();
  const refused: Failure[] = [];
  for (const subscription of subscriptions) {
    const { endpoint } = subscription;
    const url = checkEndpoint(endpoint, allowlist);
    if (typeof url === 'string') {
      refused.push({ endpoint, reason: url });
      continue;
    }
    const target = { subscription, origin: url.origin, path: `${url.pathname}${url.search}` };
    const group = groups.get(url.origin);
    if (group) group.push(target);
    else groups.set(url.origin, [target]);
  }
  return { groups, refused };
}

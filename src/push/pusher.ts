import { setMaxListeners } from 'node:events';
import { STATUS_CODES } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Dispatcher } from 'undici';
import type { Config, HostRule } from '../config.ts';
import type { VapidKeys } from '../keys.ts';
import { checkEndpoint, type Subscription } from '../store/subscription.ts';
import { encryptBody, encryptionProblem } from './encrypt.ts';
import type { Bodies, EncryptPool } from './encrypt-pool.ts';
import {
  DEFAULT_TTL,
  type DeliveryOptions,
  encodePayload,
  type Notification,
} from './notification.ts';
import { readReason, retryAfterMs } from './response.ts';
import { Agent, request } from './undici.ts';
import { createVapidHeaders } from './vapid-header.ts';

export interface Failure {
  endpoint: string;
  status?: number;
  reason: string;
}

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
  send(
    subscriptions: readonly Subscription[],
    notification: Notification,
    options?: DeliveryOptions,
    onProgress?: (done: number, total: number) => void,
  ): Promise<Report>;
  close(): Promise<void>;
}

/** Requests in flight per push-service origin unless told otherwise. */
export const DEFAULT_CONCURRENCY = 160;
// Node's HTTP/2 servers allow 100 concurrent streams unless they say otherwise.
const STREAMS_PER_CONNECTION = 100;
/**
 * Sends to this many subscriptions or more encrypt in worker threads: starting one costs tens of
 * ms, so smaller sends (the welcome, `npm run send`) encrypt here (docs/performance.md).
 */
export const POOL_THRESHOLD = 200;
// Keys sent to a worker at once, bodies back in one transferred buffer.
const BATCH = 32;
const TIMEOUT_ERRORS = new Set([
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
]);
const RETRYABLE_SOCKET_ERRORS = new Set([
  'ECONNRESET',
  'EPIPE',
  'UND_ERR_SOCKET',
  'UND_ERR_CLOSED',
  // HTTP/2: the push service reset this one stream (RST_STREAM), not the whole connection.
  'ERR_HTTP2_STREAM_ERROR',
]);

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
  // One abort listener per request in flight, to every origin: not a leak.
  setMaxListeners(0, closing.signal);
  let pool: Promise<EncryptPool> | undefined;

  async function deliver(
    { subscription, origin, path }: Target,
    body: Buffer,
    headers: Record<string, string>,
    pace: { pausedUntil: number },
  ): Promise<Failure | 'delivered' | 'gone'> {
    const { endpoint } = subscription;
    for (let attempt = 0; ; attempt++) {
      try {
        const wait = pace.pausedUntil - now();
        if (wait > 0) await sleep(wait, undefined, { signal: closing.signal });
        const response = await request({
          origin,
          path,
          method: 'POST',
          headers,
          body,
          dispatcher,
          // undici's own per-connection timers: a new AbortSignal.timeout (and .any) per message
          // cost about 70 µs of CPU and extra GC at 10,000 messages (bench/RESULTS.md).
          headersTimeout: timeoutMs,
          bodyTimeout: timeoutMs,
          signal: closing.signal,
          // Else undici sends one POST at a time on an HTTP/2 connection (see createAgent).
          idempotent: options.http2 === true,
        });
        const status = response.statusCode;
        // RFC 8030 §7.3: 404/410 mean the subscription no longer exists. Only a failure's body is
        // worth reading; the rest is discarded (bounded by undici).
        if ((status >= 200 && status < 300) || status === 404 || status === 410) {
          await response.body.dump();
          return status < 300 ? 'delivered' : 'gone';
        }
        const text = await readReason(response.body, timeoutMs);
        const retryAfter = retryAfterMs(response.headers['retry-after'], now());
        if ((status === 429 || status === 503) && attempt < maxRetries) {
          const pause = retryAfter ?? 1000 * 2 ** attempt;
          if (pause <= maxRetryAfterMs) {
            // Slow down every request to this push service, not only this one.
            pace.pausedUntil = Math.max(pace.pausedUntil, now() + pause);
            continue;
          }
        }
        return { endpoint, status, reason: text || STATUS_CODES[status] || 'error' };
      } catch (error) {
        const { code } = error as { code?: string };
        if (closing.signal.aborted) return { endpoint, reason: 'not sent: shutting down' };
        if (code && TIMEOUT_ERRORS.has(code)) {
          return { endpoint, reason: `no answer within ${timeoutMs / 1000} s` };
        }
        // A kept-alive connection (or HTTP/2 stream) the push service has closed: try once more.
        if (attempt === 0 && code && RETRYABLE_SOCKET_ERRORS.has(code)) continue;
        return { endpoint, reason: code ? `${code}: ${(error as Error).message}` : String(error) };
      }
    }
  }

  /** Where each target's body comes from: this thread for a small send, the workers for a large one. */
  async function bodySource(
    payload: Buffer,
    targets: readonly Target[],
    large: boolean,
  ): Promise<(index: number) => Promise<Buffer | string>> {
    if (!large) {
      return async (index) => {
        const { keys } = (targets[index] as Target).subscription;
        try {
          return encryptBody(payload, keys.p256dh, keys.auth);
        } catch (error) {
          return encryptionProblem(error);
        }
      };
    }
    pool ??= import('./encrypt-pool.ts').then(({ createEncryptPool }) =>
      createEncryptPool(workers),
    );
    const workersPool = await pool;
    const batches: Promise<Bodies>[] = [];
    // Batches are asked for a little ahead of the requests that need them: the workers keep pace
    // with sending without encrypting the whole send up front.
    const ahead = Math.ceil(concurrency / BATCH) + 2;
    return async (index) => {
      const batch = Math.floor(index / BATCH);
      for (let k = batch; k <= batch + ahead && k * BATCH < targets.length; k++) {
        batches[k] ??= workersPool.encrypt(
          payload,
          targets.slice(k * BATCH, (k + 1) * BATCH).map((target) => target.subscription),
        );
      }
      const bodies = await (batches[batch] as Promise<Bodies>);
      return bodies[index % BATCH] as Buffer | string;
    };
  }

  return {
    async send(subscriptions, notification, delivery = {}, onProgress) {
      const payload = Buffer.from(encodePayload(notification));
      const report: Report = { delivered: 0, gone: [], failed: [] };
      let done = 0;
      const account = (endpoint: string, outcome: Failure | 'delivered' | 'gone') => {
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
      const runOrigin = async (audience: string, targets: Target[]) => {
        const headers = { ...common, Authorization: authorization(audience) };
        const bodyOf = await bodySource(payload, targets, large);
        const pace = { pausedUntil: 0 };
        let next = 0;
        const worker = async () => {
          while (next < targets.length) {
            const index = next++;
            const target = targets[index] as Target;
            const { endpoint } = target.subscription;
            const outcome = await bodyOf(index)
              .then((body) =>
                typeof body === 'string'
                  ? { endpoint, reason: body }
                  : deliver(target, body, headers, pace),
              )
              .catch((error: unknown) => ({ endpoint, reason: String(error) }));
            account(endpoint, outcome);
          }
        };
        await Promise.all(Array.from({ length: Math.min(concurrency, targets.length) }, worker));
      };
      const { groups, refused } = groupByOrigin(subscriptions, allowlist);
      for (const failure of refused) account(failure.endpoint, failure);
      await Promise.all([...groups].map(([audience, targets]) => runOrigin(audience, targets)));
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

/** A subscription with its endpoint parsed once: the push service's origin and the path. */
interface Target {
  subscription: Subscription;
  origin: string;
  path: string;
}

/**
 * HTTP/1.1: one request per connection. HTTP/2: up to STREAMS_PER_CONNECTION streams share a
 * connection (undici's `pipelining`, with requests marked idempotent: undici otherwise waits for
 * each POST's answer before the next stream, or with pipelining 1 opens a connection per stream).
 * So with PUSH_HTTP2=1 a push service that still answers in HTTP/1.1 gets pipelined requests.
 */
function createAgent(concurrency: number, timeoutMs: number, http2 = false): Dispatcher {
  if (!http2) return new Agent({ connections: concurrency, connectTimeout: timeoutMs });
  const streams = Math.min(concurrency, STREAMS_PER_CONNECTION);
  return new Agent({
    allowH2: true,
    connections: Math.ceil(concurrency / streams),
    pipelining: streams,
    connectTimeout: timeoutMs,
  });
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

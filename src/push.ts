import { setMaxListeners } from 'node:events';
import { STATUS_CODES } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Dispatcher } from 'undici';
import webpush from 'web-push';
import type { HostRule } from './config.ts';
import type { VapidKeys } from './keys.ts';
import {
  DEFAULT_TTL,
  type DeliveryOptions,
  encodePayload,
  type Notification,
} from './notification.ts';
import { readReason, retryAfterMs } from './push-response.ts';
import { endpointProblem, type Subscription } from './subscription.ts';
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
  /** Requests in flight per push-service origin. */
  concurrency?: number;
  timeoutMs?: number;
  /** How often a 429/503 with Retry-After is retried. */
  maxRetries?: number;
  /** The longest Retry-After honoured; a longer one is a failure. */
  maxRetryAfterMs?: number;
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
export const DEFAULT_CONCURRENCY = 100;
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
  const { maxRetryAfterMs = 60_000, now = Date.now } = options;
  const dispatcher =
    options.dispatcher ?? new Agent({ connections: concurrency, connectTimeout: timeoutMs });
  const authorization = createVapidHeaders(vapid, now);
  // close() cuts pauses and requests in flight: a stalled push service must not delay shutdown.
  const closing = new AbortController();
  // One abort listener per request in flight, to every origin: not a leak.
  setMaxListeners(0, closing.signal);

  async function deliver(
    subscription: Subscription,
    payload: string,
    delivery: DeliveryOptions,
    origin: { audience: string; pausedUntil: number },
  ): Promise<Failure | 'delivered' | 'gone'> {
    const { endpoint } = subscription;
    const problem = endpointProblem(endpoint, allowlist);
    if (problem) return { endpoint, reason: problem };
    const requestOptions = {
      TTL: delivery.ttl ?? DEFAULT_TTL,
      ...(delivery.urgency ? { urgency: delivery.urgency } : {}),
      ...(delivery.topic ? { topic: delivery.topic } : {}),
      headers: { Authorization: authorization(origin.audience) },
      // Without null here web-push would sign a new JWT and overwrite our cached header
      // (its typings do not admit null, though its code documents it).
      vapidDetails: null,
    } as unknown as webpush.RequestOptions;
    const details: webpush.RequestDetails = webpush.generateRequestDetails(
      subscription,
      payload,
      requestOptions,
    );
    const requestHeaders = Object.fromEntries(
      Object.entries(details.headers).map(([name, value]) => [name, String(value)]),
    );
    for (let attempt = 0; ; attempt++) {
      try {
        const wait = origin.pausedUntil - now();
        if (wait > 0) await sleep(wait, undefined, { signal: closing.signal });
        const response = await request(endpoint, {
          method: 'POST',
          headers: requestHeaders,
          body: details.body ?? undefined,
          dispatcher,
          // undici's own per-connection timers: a new AbortSignal.timeout (and .any) per message
          // cost about 70 µs of CPU and extra GC at 10,000 messages (bench/RESULTS.md).
          headersTimeout: timeoutMs,
          bodyTimeout: timeoutMs,
          signal: closing.signal,
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
            origin.pausedUntil = Math.max(origin.pausedUntil, now() + pause);
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
        // A kept-alive connection the push service has closed: try once more on a new one.
        if (attempt === 0 && code && RETRYABLE_SOCKET_ERRORS.has(code)) continue;
        return { endpoint, reason: code ? `${code}: ${(error as Error).message}` : String(error) };
      }
    }
  }

  return {
    async send(subscriptions, notification, delivery = {}, onProgress) {
      const payload = encodePayload(notification);
      const report: Report = { delivered: 0, gone: [], failed: [] };
      let done = 0;
      const runOrigin = async (audience: string, queue: Subscription[]) => {
        const origin = { audience, pausedUntil: 0 };
        let next = 0;
        const worker = async () => {
          while (next < queue.length) {
            const subscription = queue[next++] as Subscription;
            const outcome = await deliver(subscription, payload, delivery, origin).catch(
              (error: unknown) => ({ endpoint: subscription.endpoint, reason: String(error) }),
            );
            if (outcome === 'delivered') report.delivered++;
            else if (outcome === 'gone') report.gone.push(subscription.endpoint);
            else report.failed.push(outcome);
            onProgress?.(++done, subscriptions.length);
          }
        };
        await Promise.all(Array.from({ length: Math.min(concurrency, queue.length) }, worker));
      };
      const groups = groupByOrigin(subscriptions);
      await Promise.all([...groups].map(([audience, queue]) => runOrigin(audience, queue)));
      return report;
    },
    async close() {
      closing.abort();
      if (!options.dispatcher) await dispatcher.close();
    },
  };
}

function groupByOrigin(subscriptions: readonly Subscription[]): Map<string, Subscription[]> {
  const groups = new Map<string, Subscription[]>();
  for (const subscription of subscriptions) {
    let origin = 'invalid:';
    try {
      origin = new URL(subscription.endpoint).origin;
    } catch {}
    const group = groups.get(origin);
    if (group) group.push(subscription);
    else groups.set(origin, [subscription]);
  }
  return groups;
}

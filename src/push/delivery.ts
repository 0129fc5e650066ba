import { STATUS_CODES } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Dispatcher } from 'undici';
import { createPoster, retryAfterMs } from './response.ts';

export interface Failure {
  endpoint: string;
  status?: number;
  reason: string;
}

/** What became of one push: delivered, gone (404/410: remove the subscription), or a failure. */
export type Outcome = Failure | 'delivered' | 'gone';

/** One request: the push service's origin and path, the encrypted body and its headers. */
export interface Push {
  endpoint: string;
  origin: string;
  path: string;
  body: Buffer;
  headers: Record<string, string>;
}

/** Shared by the requests to one push service: a 429 or 503 pauses them all. */
export interface Pace {
  pausedUntil: number;
}

export interface DeliverySettings {
  dispatcher: Dispatcher;
  timeoutMs: number;
  /** How often a 429/503 is retried. */
  maxRetries: number;
  /** The longest Retry-After honoured; a longer one is a failure. */
  maxRetryAfterMs: number;
  /** Aborted on close(): pauses and requests in flight end at once. */
  signal: AbortSignal;
  /** Requests marked idempotent, so undici multiplexes them on HTTP/2 (see createAgent). */
  idempotent: boolean;
  now: () => number;
}

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

/** Delivers one push: waits out the push service's pause, retries what may be retried, names the reason. */
export function createDelivery(options: DeliverySettings) {
  const { dispatcher, timeoutMs, maxRetries, maxRetryAfterMs, signal, idempotent, now } = options;
  const post = createPoster(dispatcher, timeoutMs, signal);

  return async function deliver(push: Push, pace: Pace): Promise<Outcome> {
    const { endpoint, origin, path, body, headers } = push;
    for (let attempt = 0; ; attempt++) {
      try {
        const wait = pace.pausedUntil - now();
        if (wait > 0) await sleep(wait, undefined, { signal });
        const {
          status,
          retryAfter: header,
          text,
        } = await post({
          origin,
          path,
          method: 'POST',
          headers,
          body,
          // undici's own per-connection timers: a new AbortSignal.timeout (and .any) per message
          // cost about 70 µs of CPU and extra GC at 10,000 messages (bench/RESULTS.md).
          headersTimeout: timeoutMs,
          bodyTimeout: timeoutMs,
          idempotent,
        });
        // RFC 8030 §7.3: 404/410 mean the subscription no longer exists.
        if (status >= 200 && status < 300) return 'delivered';
        if (status === 404 || status === 410) return 'gone';
        const retryAfter = retryAfterMs(header, now());
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
        if (signal.aborted) return { endpoint, reason: 'not sent: shutting down' };
        if (code && TIMEOUT_ERRORS.has(code)) {
          return { endpoint, reason: `no answer within ${timeoutMs / 1000} s` };
        }
        // A kept-alive connection (or HTTP/2 stream) the push service has closed: try once more.
        if (attempt === 0 && code && RETRYABLE_SOCKET_ERRORS.has(code)) continue;
        return { endpoint, reason: code ? `${code}: ${(error as Error).message}` : String(error) };
      }
    }
  };
}

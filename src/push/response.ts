// One POST to a push service and what it answered, through undici's dispatcher with a handler of
// our own: undici's request() gives every response a body stream, an async resource and an abort
// listener, which a push (201, no body wanted) never uses (docs/performance.md).
import type { Dispatcher } from 'undici';

/** What a push service answered: the status, its Retry-After, and the start of a failure's body. */
export interface Answer {
  status: number;
  retryAfter: string | string[] | undefined;
  /** Up to 200 characters of the body of any other answer than 2xx, 404 or 410. */
  text: string;
}

// Enough bytes for 200 characters of UTF-8 (at most 4 bytes each), and a last one cut short.
const REASON_BYTES = 4 * 200 + 3;
// A body nobody reads is read this far (as undici's dump() does), then the connection is closed.
const DISCARD_BYTES = 128 * 1024;

/** Whether the body is read: for a failure's reason. RFC 8030 §7.3: 404/410 mean gone. */
const isFailure = (status: number) => status >= 300 && status !== 404 && status !== 410;

/**
 * POSTs with undici's dispatcher. `signal` ends every POST in flight at once (the pusher's close()).
 * A failure's body is read for at most `ms`: bodyTimeout only limits the pause between chunks, so
 * an endless or trickling body would otherwise hold the request.
 */
export function createPoster(dispatcher: Dispatcher, ms: number, signal: AbortSignal) {
  const live = new Set<Dispatcher.DispatchController>();
  // One listener for every request of this poster, not one per request.
  signal.addEventListener('abort', () => {
    for (const controller of live) controller.abort(signal.reason);
  });
  return (options: Dispatcher.DispatchOptions): Promise<Answer> =>
    new Promise((resolve, reject) => {
      dispatcher.dispatch(options, new Exchange(resolve, reject, live, ms, signal));
    });
}

/** One request's handler: keeps the status, Retry-After and a failure's first bytes. */
class Exchange implements Dispatcher.DispatchHandler {
  private status = 0;
  private retryAfter: string | string[] | undefined;
  private chunks: Buffer[] | undefined;
  private bytes = 0;
  private timer: NodeJS.Timeout | undefined;
  private controller: Dispatcher.DispatchController | undefined;
  private settled = false;

  private readonly resolve: (answer: Answer) => void;
  private readonly reject: (error: Error) => void;
  private readonly live: Set<Dispatcher.DispatchController>;
  private readonly ms: number;
  private readonly signal: AbortSignal;

  constructor(
    resolve: (answer: Answer) => void,
    reject: (error: Error) => void,
    live: Set<Dispatcher.DispatchController>,
    ms: number,
    signal: AbortSignal,
  ) {
    this.resolve = resolve;
    this.reject = reject;
    this.live = live;
    this.ms = ms;
    this.signal = signal;
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    // Called again if undici retries the request on a new connection.
    if (this.controller) this.live.delete(this.controller);
    this.controller = controller;
    if (this.signal.aborted) controller.abort(this.signal.reason);
    else this.live.add(controller);
  }

  onResponseStart(
    controller: Dispatcher.DispatchController,
    status: number,
    headers: Record<string, string | string[] | undefined>,
  ): void {
    // 1xx: informational, the answer follows.
    if (status < 200) return;
    this.status = status;
    if (!isFailure(status)) return;
    this.retryAfter = headers['retry-after'];
    this.chunks = [];
    this.timer = setTimeout(() => this.finish(controller), this.ms);
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    this.bytes += chunk.length;
    this.chunks?.push(chunk);
    if (this.bytes >= (this.chunks ? REASON_BYTES : DISCARD_BYTES)) this.finish(controller);
  }

  onResponseEnd(): void {
    this.finish();
  }

  onResponseError(_controller: unknown, error: Error): void {
    this.end();
    if (this.settled) return;
    this.settled = true;
    this.reject(error);
  }

  /** Answers with what arrived; with a controller, the rest is not read (the connection closes). */
  private finish(controller?: Dispatcher.DispatchController): void {
    if (this.settled) return;
    this.settled = true;
    this.end();
    const text = this.chunks ? Buffer.concat(this.chunks).toString('utf8').trim() : '';
    this.resolve({ status: this.status, retryAfter: this.retryAfter, text: text.slice(0, 200) });
    controller?.abort(new Error('the rest of the answer is not needed'));
  }

  private end(): void {
    clearTimeout(this.timer);
    if (this.controller) this.live.delete(this.controller);
  }
}

/** RFC 9110 §10.2.3: Retry-After is delay-seconds or an HTTP date. */
export function retryAfterMs(
  header: string | string[] | undefined,
  nowMs: number,
): number | undefined {
  const value = Array.isArray(header) ? header[0] : header;
  if (!value) return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value) * 1000;
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - nowMs);
}

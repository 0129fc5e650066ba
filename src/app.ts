import type { IncomingMessage, ServerResponse } from 'node:http';
import type { HostRule } from './config.ts';
import { HttpError } from './errors.ts';
import { BODY_LIMIT, readJson, SECURITY_HEADERS, sendJson } from './http/http.ts';
import type { RateLimiter } from './http/rate-limit.ts';
import type { StaticFiles } from './http/static.ts';
import { type Admission, ownerOnly } from './pairing/admission.ts';
import type { Pusher } from './push/pusher.ts';
import { deliver, hostOf } from './send/deliver.ts';
import type { Notification } from './send/notification.ts';
import type { SubscriptionStore } from './store/store.ts';
import { parseSubscription } from './store/subscription.ts';

export interface AppDeps {
  store: SubscriptionStore;
  pusher: Pusher;
  files: StaticFiles;
  publicKey: string;
  allowlist: readonly HostRule[];
  limiter: RateLimiter;
  log: (line: string) => void;
  /** GET /ca.crt (ca-route.ts): answers true when handled. */
  caRoute?: (req: IncomingMessage, res: ServerResponse, pathname: string) => Promise<boolean>;
  /** Who may subscribe (pairing); without it only the server's own browser can. */
  admission?: Admission;
  /** Extra routes, such as the send API: answer true when handled. */
  extraRoutes?: (req: IncomingMessage, res: ServerResponse, pathname: string) => Promise<boolean>;
  /** The origins this server is opened at (pairing/link.ts ownOrigins), the first one first. */
  origins: () => readonly [string, ...string[]];
}

const WELCOME: Notification = {
  title: 'Notifications are on',
  body: 'This browser will now receive notifications from your server.',
  url: '/',
  tag: 'welcome',
};
const TEST: Notification = {
  title: 'Test notification',
  body: 'If you can read this, push works end to end.',
  url: '/',
  tag: 'test',
};

/** The request listener: routes, and the one place where errors become responses. */
export function createApp(deps: AppDeps) {
  const { store, files, log } = deps;
  const admission = deps.admission ?? ownerOnly(store);
  const sending = { ...deps, firstOrigin: () => deps.origins()[0] };

  async function route(req: IncomingMessage, res: ServerResponse, pathname: string): Promise<void> {
    const method = req.method ?? 'GET';
    if (pathname === '/healthz') {
      // For load balancers: no rate limit and no log line, however often it is asked.
      allow(method, ['GET', 'HEAD']);
      const health = store.health();
      return sendJson(res, health.ok ? 200 : 503, health);
    }
    if (pathname === '/api/vapid-public-key') {
      allow(method, ['GET', 'HEAD']);
      return sendJson(res, 200, { publicKey: deps.publicKey });
    }
    if (pathname === '/api/subscriptions') {
      allow(method, ['POST', 'DELETE']);
      limit(req);
      return method === 'POST' ? subscribe(req, res) : unsubscribe(req, res);
    }
    if (pathname === '/api/subscriptions/test') {
      allow(method, ['POST']);
      limit(req);
      return sendTest(req, res);
    }
    if (await deps.caRoute?.(req, res, pathname)) return;
    if (await deps.extraRoutes?.(req, res, pathname)) return;
    if (pathname.startsWith('/api/') || !files.has(pathname)) {
      throw new HttpError(404, 'not found');
    }
    allow(method, ['GET', 'HEAD']);
    return files.serve(pathname, res, method === 'HEAD');
  }

  async function subscribe(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const pass = await admission.check(req);
    const parsed = parseSubscription(await readJson(req, BODY_LIMIT), deps.allowlist);
    // A subscription the store already has keeps the time it was first added (store.add); its
    // origin is where it subscribed this time.
    const origin = subscriberOrigin(req, deps.origins());
    const subscription = { ...parsed, addedAt: new Date().toISOString(), origin };
    const outcome = await pass.add(subscription);
    const host = hostOf(subscription.endpoint);
    // Only for the log line: a count the database cannot give now does not undo the stored one.
    const stored = await store.size().catch(() => '?');
    log(`subscription ${outcome}: ${host} (${stored} stored)`);
    const summary = await deliver(sending, [subscription], WELCOME);
    const welcome = { delivered: summary.delivered === 1, removed: summary.removed === 1 };
    for (const failure of summary.failed) {
      log(`welcome push to ${host} failed: ${failure.status ?? ''} ${failure.reason}`.trim());
    }
    if (welcome.removed) log(`welcome push to ${host}: the push service says it is gone; removed`);
    sendJson(res, outcome === 'created' ? 201 : 200, {
      subscription: outcome,
      welcome: { ...welcome, ...(summary.failed[0] ? { error: summary.failed[0] } : {}) },
    });
  }

  async function unsubscribe(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const endpoint = endpointOf(await readJson(req, BODY_LIMIT));
    if ((await store.remove([endpoint])) > 0) log(`subscription removed: ${hostOf(endpoint)}`);
    sendJson(res, 204);
  }

  async function sendTest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const endpoint = endpointOf(await readJson(req, BODY_LIMIT));
    const subscription = await store.get(endpoint);
    if (!subscription) {
      throw new HttpError(404, 'this browser is not subscribed on the server: click Subscribe');
    }
    sendJson(res, 200, await deliver(sending, [subscription], TEST));
  }

  function limit(req: IncomingMessage): void {
    const wait = deps.limiter.take(req.socket.remoteAddress ?? 'unknown');
    if (wait > 0) {
      throw new HttpError(429, `too many requests; try again in ${wait} s`, {
        'Retry-After': String(wait),
      });
    }
  }

  return async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    for (const [name, value] of Object.entries(SECURITY_HEADERS)) res.setHeader(name, value);
    try {
      const { pathname } = new URL(req.url ?? '/', 'http://localhost');
      await route(req, res, pathname);
    } catch (error) {
      if (res.headersSent) {
        res.destroy();
      } else if (error === req.errored) {
        // Reading the request failed: the client hung up or a timeout cut it off. No one to
        // answer, and not our fault: logging a stack here would let slow clients flood the log.
        res.destroy();
      } else if (error instanceof HttpError && (error.status < 500 || error.status === 503)) {
        // 503: the database is away (logged once by the store when it went), not a bug.
        // Unread request bodies (413) are not worth draining: close the connection instead.
        const close: Record<string, string> = error.status === 413 ? { Connection: 'close' } : {};
        sendJson(res, error.status, { error: error.message }, { ...error.headers, ...close });
      } else {
        // Our failure (a bug, or a save that failed): the details are for the log, not the client.
        log(`internal error: ${describe(error)}`);
        sendJson(res, 500, { error: 'internal error' });
      }
    }
  };
}

function allow(method: string, methods: string[]): void {
  if (!methods.includes(method)) {
    throw new HttpError(405, `use ${methods.join(' or ')}`, { Allow: methods.join(', ') });
  }
}

/**
 * Where the page that subscribed was opened: its Origin header when that is one of this server's
 * own origins, else the first of them (a script's request, or a name the server does not know).
 */
function subscriberOrigin(req: IncomingMessage, own: readonly [string, ...string[]]): string {
  const header = req.headers.origin;
  return header && own.includes(header) ? header : own[0];
}

function endpointOf(body: unknown): string {
  const endpoint = (body as { endpoint?: unknown } | null)?.endpoint;
  if (typeof endpoint !== 'string' || endpoint === '') {
    throw new HttpError(400, 'the body must be {"endpoint": "<subscription endpoint>"}');
  }
  return endpoint;
}

function describe(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause = error.cause instanceof Error ? `\n  cause: ${error.cause.message}` : '';
  return `${error.stack ?? error.message}${cause}`;
}

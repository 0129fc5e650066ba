import { createECDH, randomBytes, randomUUID } from 'node:crypto';
import { once, setMaxListeners } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import {
  constants,
  createSecureServer,
  type Http2ServerRequest,
  type Http2ServerResponse,
} from 'node:http2';
import type { AddressInfo, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { generate } from 'selfsigned';
import { decryptAes128gcm } from './aes128gcm.ts';
import { type PushMessage, PushRefusal, type ReceiverKeys, readPush } from './push-request.ts';

export { decryptAes128gcm };

/** What `PushManager.subscribe()` would have returned, minted by this service. */
export interface MintedSubscription {
  endpoint: string;
  expirationTime: null;
  keys: { p256dh: string; auth: string };
}
/** A message accepted with 201: payload, ttl, urgency?, topic?, claims, vapidPublicKey, authorization. */
export interface Received extends PushMessage {
  endpoint: string;
  /** '1.1' or '2.0': the protocol the request came over. */
  httpVersion: string;
}
/** A request answered with an error status. */
export interface Rejected {
  endpoint: string;
  status: number;
  reason: string;
}
/** How to answer instead of 201: a status, no answer at all, or a reset connection. */
export type Behaviour =
  | { status: number; retryAfter?: number; body?: string }
  | { stall: true }
  | { reset: true };
/** A running test push service; see startPushService. */
export interface PushService {
  origin: string;
  host: string;
  ca: string;
  caFile: string;
  received: Received[];
  rejected: Rejected[];
  readonly requests: number;
  /** Requests being handled now, and the most there ever were at once. */
  readonly inFlight: number;
  readonly maxInFlight: number;
  /** TCP connections accepted so far. */
  readonly connections: number;
  /** The protocols requests came over ('1.1', '2.0'), each once. */
  readonly protocols: string[];
  subscribe(): MintedSubscription;
  behave(target: string, behaviour: Behaviour | null, times?: number): void;
  waitFor(count: number, timeoutMs?: number): Promise<Received[]>;
  decrypt(endpoint: string, body: Buffer): string;
  close(): Promise<void>;
}

/**
 * A self-signed certificate for a push service on loopback (and for the host names in `names`),
 * with its PEM written to `caFile` for NODE_EXTRA_CA_CERTS; `dir` is the caller's to remove.
 */
export async function makeCertificate(names: readonly string[] = []) {
  const altNames = [
    { type: 7, ip: '127.0.0.1' },
    { type: 7, ip: '::1' },
    { type: 2, value: 'localhost' },
    ...names.map((value) => ({ type: 2, value }) as const),
  ] as const;
  // A unique subject: OpenSSL picks a trusted self-signed CA by subject name, so two services
  // named alike could not both be trusted by one client (undici `ca: [a, b]`).
  const commonName = `test push service ${randomUUID()}`;
  const pems = await generate([{ name: 'commonName', value: commonName }], {
    keyType: 'ec',
    algorithm: 'sha256',
    extensions: [{ name: 'subjectAltName', altNames: [...altNames] }],
  });
  const dir = await mkdtemp(join(tmpdir(), 'push-service-'));
  const caFile = join(dir, 'ca.pem');
  await writeFile(caFile, pems.cert);
  return { pems, dir, caFile };
}

/**
 * Starts an HTTPS fake RFC 8030 push service that verifies VAPID and decrypts what it accepts. It
 * speaks HTTP/2 to a client that offers it (ALPN) and HTTP/1.1 to the others, as push services do.
 */
export async function startPushService(
  options: { latencyMs?: number; host?: string } = {},
): Promise<PushService> {
  const { latencyMs = 0, host = '127.0.0.1' } = options;
  const { pems, dir, caFile } = await makeCertificate();

  const subscriptions = new Map<string, ReceiverKeys>();
  const behaviours = new Map<string, { behaviour: Behaviour; remaining: number }>();
  const waiters = new Set<() => void>();
  const closing = new AbortController();
  // One listener per latency wait in flight: many at once is expected, not a leak.
  setMaxListeners(0, closing.signal);
  const received: Received[] = [];
  const rejected: Rejected[] = [];
  let requests = 0;
  let inFlight = 0;
  let maxInFlight = 0;
  let connections = 0;
  const protocols = new Set<string>();
  const sockets = new Set<Socket>();

  const tls = { key: pems.private, cert: pems.cert, allowHTTP1: true };
  const server = createSecureServer(tls, (req, res) => {
    handle(req, res).catch((error: unknown) => {
      if (closing.signal.aborted) return; // the latency sleep was cut short by close()
      rejected.push({ endpoint: origin + (req.url ?? ''), status: 500, reason: String(error) });
      if (!res.headersSent) res.writeHead(500).end();
    });
  });
  server.on('connection', (socket: Socket) => {
    connections++;
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  server.listen(0, host);
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  const hostPort = host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
  const origin = `https://${hostPort}`;

  /** The behaviour for this endpoint (its own before '*'), counting one use. */
  function takeBehaviour(endpoint: string): Behaviour | undefined {
    for (const target of [endpoint, '*']) {
      const entry = behaviours.get(target);
      if (!entry) continue;
      if (--entry.remaining <= 0) behaviours.delete(target);
      return entry.behaviour;
    }
    return undefined;
  }

  function answer(
    res: Http2ServerResponse,
    rejection: Rejected,
    headers = {},
    body?: string,
  ): void {
    rejected.push(rejection);
    const type = body === undefined ? 'application/json' : 'text/plain';
    res.writeHead(rejection.status, { 'content-type': type, ...headers });
    res.end(body ?? JSON.stringify({ error: rejection.reason }));
  }

  async function handle(req: Http2ServerRequest, res: Http2ServerResponse): Promise<void> {
    requests++;
    protocols.add(req.httpVersion);
    inFlight++;
    maxInFlight = Math.max(maxInFlight, inFlight);
    // 'close' fires once the response is sent or its socket destroyed (reset, stall, close()).
    res.once('close', () => {
      inFlight--;
    });
    if (latencyMs > 0) await sleep(latencyMs, undefined, { signal: closing.signal });
    const endpoint = origin + new URL(req.url ?? '/', origin).pathname;
    const keys = subscriptions.get(endpoint);
    let message: PushMessage;
    try {
      if (!keys) throw new PushRefusal(404, 'no such subscription');
      message = await readPush(req, origin, keys);
    } catch (error) {
      if (!(error instanceof PushRefusal)) throw error;
      return answer(res, { endpoint, status: error.status, reason: error.message });
    }
    const behaviour = takeBehaviour(endpoint);
    if (behaviour && 'stall' in behaviour) return; // never answered; close() destroys the socket
    // HTTP/2 resets the one stream (RST_STREAM), HTTP/1.1 the connection it came on.
    if (behaviour && 'reset' in behaviour) {
      if (req.httpVersion === '2.0') return void req.stream.close(constants.NGHTTP2_INTERNAL_ERROR);
      return void req.socket.destroy();
    }
    if (behaviour) {
      const { status, retryAfter, body } = behaviour;
      const headers = retryAfter === undefined ? {} : { 'retry-after': String(retryAfter) };
      return answer(res, { endpoint, status, reason: `behaviour ${status}` }, headers, body);
    }
    received.push({ endpoint, httpVersion: req.httpVersion, ...message });
    for (const wake of waiters) wake();
    // RFC 8030 §5: 201 Created, with the push message resource in Location.
    res.writeHead(201, { location: `${origin}/message/${randomUUID()}` }).end();
  }

  return {
    origin,
    host: hostPort,
    ca: pems.cert,
    caFile,
    received,
    rejected,
    get requests() {
      return requests;
    },
    get inFlight() {
      return inFlight;
    },
    get maxInFlight() {
      return maxInFlight;
    },
    get connections() {
      return connections;
    },
    get protocols() {
      return [...protocols];
    },
    subscribe() {
      const ecdh = createECDH('prime256v1');
      const publicKey = ecdh.generateKeys();
      const auth = randomBytes(16);
      const endpoint = `${origin}/push/${randomBytes(16).toString('base64url')}`;
      subscriptions.set(endpoint, { privateKey: ecdh.getPrivateKey(), publicKey, auth });
      const keys = { p256dh: publicKey.toString('base64url'), auth: auth.toString('base64url') };
      return { endpoint, expirationTime: null, keys };
    },
    behave(target, behaviour, times = Infinity) {
      if (!(times > 0)) throw new RangeError(`times must be positive, got ${times}`);
      if (behaviour === null) behaviours.delete(target);
      else behaviours.set(target, { behaviour, remaining: times });
    },
    waitFor(count, timeoutMs = 5000) {
      return new Promise((resolve, reject) => {
        const check = (): void => {
          if (received.length < count) return;
          clearTimeout(timer);
          waiters.delete(check);
          resolve(received);
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          const last = rejected.slice(-5).map((r) => `${r.status} ${r.reason}`);
          const got = `got ${received.length}; last rejections: ${last.join('; ') || 'none'}`;
          reject(
            new Error(`push service: expected ${count} messages within ${timeoutMs} ms, ${got}`),
          );
        }, timeoutMs);
        waiters.add(check);
        check();
      });
    },
    decrypt(endpoint, body) {
      const keys = subscriptions.get(endpoint);
      if (!keys) throw new Error(`push service: ${endpoint} was not minted here`);
      return decryptAes128gcm(body, keys.privateKey, keys.publicKey, keys.auth).toString('utf8');
    },
    async close() {
      if (closing.signal.aborted) return;
      closing.abort();
      const closed = once(server, 'close');
      server.close();
      for (const socket of sockets) socket.destroy(); // stalled requests and idle sockets alike
      await closed;
      await rm(dir, { recursive: true, force: true });
    },
  };
}

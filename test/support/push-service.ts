import { createECDH, randomBytes, randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { generate } from 'selfsigned';
import { decryptAes128gcm } from './aes128gcm.ts';
import { type VapidClaims, VapidError, verifyVapid } from './vapid.ts';

export { decryptAes128gcm };

/** What `PushManager.subscribe()` would have returned, minted by this service. */
export interface MintedSubscription {
  endpoint: string;
  expirationTime: null;
  keys: { p256dh: string; auth: string };
}
/** A message accepted with 201, decrypted and with its verified VAPID claims. */
export interface Received {
  endpoint: string;
  payload: string;
  ttl: number;
  urgency?: string;
  topic?: string;
  claims: VapidClaims;
  vapidPublicKey: string;
  authorization: string;
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
  subscribe(): MintedSubscription;
  behave(target: string, behaviour: Behaviour | null, times?: number): void;
  waitFor(count: number, timeoutMs?: number): Promise<Received[]>;
  decrypt(endpoint: string, body: Buffer): string;
  close(): Promise<void>;
}

const BODY_LIMIT = 8192;
const messageOf = (error: unknown): string =>
  error instanceof Error ? error.message : String(error);
// Node joins repeated custom headers with ", " already; only set-cookie arrives as an array.
const header = (req: IncomingMessage, name: string): string | undefined => {
  const value = req.headers[name];
  return Array.isArray(value) ? value.join(', ') : value;
};

/** An error answered to the sender with this status. */
class Refusal extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += chunk.length;
    if (size <= BODY_LIMIT) chunks.push(chunk);
  }
  if (size > BODY_LIMIT) throw new Refusal(413, `body of ${size} bytes is over ${BODY_LIMIT}`);
  return Buffer.concat(chunks);
}

/** Starts an HTTPS fake RFC 8030 push service that verifies VAPID and decrypts what it accepts. */
export async function startPushService(
  options: { latencyMs?: number; host?: string } = {},
): Promise<PushService> {
  const { latencyMs = 0, host = '127.0.0.1' } = options;
  const pems = await generate([{ name: 'commonName', value: 'localhost' }], {
    keyType: 'ec',
    algorithm: 'sha256',
    extensions: [
      {
        name: 'subjectAltName',
        altNames: [
          { type: 7, ip: '127.0.0.1' },
          { type: 7, ip: '::1' },
          { type: 2, value: 'localhost' },
        ],
      },
    ],
  });
  const dir = await mkdtemp(join(tmpdir(), 'push-service-'));
  const caFile = join(dir, 'ca.pem');
  await writeFile(caFile, pems.cert);

  const subscriptions = new Map<string, { privateKey: Buffer; publicKey: Buffer; auth: Buffer }>();
  const behaviours = new Map<string, { behaviour: Behaviour; remaining: number }>();
  const waiters = new Set<() => void>();
  const closing = new AbortController();
  const received: Received[] = [];
  const rejected: Rejected[] = [];
  let requests = 0;

  const server: Server = createServer({ key: pems.private, cert: pems.cert }, (req, res) => {
    handle(req, res).catch((error: unknown) => {
      if (closing.signal.aborted) return;
      rejected.push({ endpoint: origin + (req.url ?? ''), status: 500, reason: String(error) });
      if (!res.headersSent) res.writeHead(500).end();
    });
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

  function refuse(
    res: ServerResponse,
    endpoint: string,
    status: number,
    reason: string,
    headers: Record<string, string> = {},
    body?: string,
  ): void {
    rejected.push({ endpoint, status, reason });
    res.writeHead(status, {
      'content-type': body === undefined ? 'application/json' : 'text/plain',
      ...headers,
    });
    res.end(body ?? JSON.stringify({ error: reason }));
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    requests++;
    if (latencyMs > 0) await sleep(latencyMs, undefined, { signal: closing.signal });
    const endpoint = origin + new URL(req.url ?? '/', origin).pathname;
    try {
      const keys = subscriptions.get(endpoint);
      if (!keys) throw new Refusal(404, 'no such subscription');
      if (req.method !== 'POST') throw new Refusal(405, 'push messages are POSTed (RFC 8030 §5)');
      const ttlHeader = header(req, 'ttl');
      if (ttlHeader === undefined || !/^\d+$/.test(ttlHeader))
        throw new Refusal(400, 'TTL header missing or not an integer (RFC 8030 §5.2)');
      const urgency = header(req, 'urgency');
      if (urgency !== undefined && !['very-low', 'low', 'normal', 'high'].includes(urgency))
        throw new Refusal(400, `bad Urgency ${urgency} (RFC 8030 §5.3)`);
      const topic = header(req, 'topic');
      if (topic !== undefined && !/^[A-Za-z0-9_-]{1,32}$/.test(topic))
        throw new Refusal(400, 'Topic must be at most 32 base64url characters (RFC 8030 §5.4)');
      const authorization = header(req, 'authorization') ?? '';
      const { claims, k } = verifyVapid(authorization, origin);
      const body = await readBody(req);
      if (body.length > 0 && header(req, 'content-encoding') !== 'aes128gcm')
        throw new Refusal(400, 'Content-Encoding must be aes128gcm (RFC 8291 §4)');
      let payload = '';
      try {
        if (body.length > 0)
          payload = decryptAes128gcm(body, keys.privateKey, keys.publicKey, keys.auth).toString(
            'utf8',
          );
      } catch (error) {
        throw new Refusal(400, `cannot decrypt: ${messageOf(error)}`);
      }
      const behaviour = takeBehaviour(endpoint);
      if (behaviour && 'stall' in behaviour) return; // never answered; close() destroys the socket
      if (behaviour && 'reset' in behaviour) return void req.socket.destroy();
      if (behaviour) {
        const headers: Record<string, string> =
          behaviour.retryAfter === undefined ? {} : { 'retry-after': String(behaviour.retryAfter) };
        return refuse(
          res,
          endpoint,
          behaviour.status,
          `behaviour ${behaviour.status}`,
          headers,
          behaviour.body,
        );
      }
      received.push({
        endpoint,
        payload,
        ttl: Number(ttlHeader),
        claims,
        vapidPublicKey: k,
        authorization,
        ...(urgency === undefined ? {} : { urgency }),
        ...(topic === undefined ? {} : { topic }),
      });
      for (const wake of waiters) wake();
      // RFC 8030 §5: 201 Created with the push message resource in Location.
      res.writeHead(201, { location: `${origin}/message/${randomUUID()}` }).end();
    } catch (error) {
      if (!(error instanceof Refusal || error instanceof VapidError)) throw error;
      refuse(res, endpoint, error.status, error.message);
    }
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
    subscribe() {
      const ecdh = createECDH('prime256v1');
      const publicKey = ecdh.generateKeys();
      const auth = randomBytes(16);
      const endpoint = `${origin}/push/${randomBytes(16).toString('base64url')}`;
      subscriptions.set(endpoint, { privateKey: ecdh.getPrivateKey(), publicKey, auth });
      return {
        endpoint,
        expirationTime: null,
        keys: { p256dh: publicKey.toString('base64url'), auth: auth.toString('base64url') },
      };
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
          const why =
            rejected
              .slice(-5)
              .map((r) => `${r.status} ${r.reason}`)
              .join('; ') || 'none';
          reject(
            new Error(
              `push service: expected ${count} messages within ${timeoutMs} ms, got ${received.length} (last rejections: ${why})`,
            ),
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
      server.closeAllConnections(); // includes stalled requests and idle keep-alive sockets
      await closed;
      await rm(dir, { recursive: true, force: true });
    },
  };
}

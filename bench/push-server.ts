// The benchmark's push service, run as its own process (forked with IPC by bench/run.ts): answers
// 201 after an optional delay over HTTP/2 or HTTP/1.1 (whichever the client negotiates), counts
// messages per endpoint and fully checks only a sample, so its own CPU stays low. Endpoints are
// `<origin>/push/<index>`. It also measures how busy the machine was during a send: its own CPU
// and the sender's (told its pid) from the first request to the answer of the last.
import { rmSync } from 'node:fs';
import type { ServerResponse } from 'node:http';
import { createSecureServer, type Http2ServerResponse } from 'node:http2';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { readPush } from '../test/support/push-request.ts';
import { makeCertificate } from '../test/support/push-service.ts';
import { type BusyWindow, createBusyWatch } from './busy.ts';

/** A subscription's receiving keys (base64url), sent for the sampled endpoints only. */
export interface SampleKeys {
  index: number;
  privateKey: string;
  publicKey: string;
  auth: string;
}

export type ToPushServer =
  | { type: 'reset'; size: number; latencyMs: number; payload: string; sample: SampleKeys[] }
  | { type: 'watch'; pid: number; requests: number }
  | { type: 'tally'; targets: number }
  | { type: 'close' };

/** What arrived since the last reset, for endpoints 0..targets-1. */
export interface Tally {
  exactlyOnce: number;
  missing: number;
  duplicated: number;
  unexpected: number;
  verified: number;
  sampled: number;
  problems: string[];
  /** When the first request arrived (performance.timeOrigin + now(), ms), if one did. */
  firstAt?: number;
  /** Connections and requests by protocol ('h2', 'http/1.1'), as negotiated by ALPN. */
  protocols: Record<string, { connections: number; requests: number }>;
  /** This push service's CPU µs from the reset to the tally. */
  cpuUs: number;
  /** How busy the machine was during the watched sender's send (bench/busy.ts). */
  window?: BusyWindow;
}

export type FromPushServer =
  | { type: 'ready'; origin: string; caFile: string }
  | { type: 'reset' }
  | { type: 'watch' }
  | { type: 'tally'; tally: Tally };

const PREFIX = '/push/';

const { pems, dir, caFile } = await makeCertificate();

let counts = new Uint32Array(0);
let unexpected = 0;
let latencyMs = 0;
let payload = '';
let sample = new Map<number, { privateKey: Buffer; publicKey: Buffer; auth: Buffer }>();
let verified = 0;
let firstAt: number | undefined;
const problems: string[] = [];
let protocols: Tally['protocols'] = {};
let cpuAtReset = process.cpuUsage();
const busy = createBusyWatch();
const protocol = (name: string) => {
  protocols[name] ??= { connections: 0, requests: 0 };
  return protocols[name];
};

const options = { key: pems.private, cert: pems.cert, allowHTTP1: true };
const server = createSecureServer(options, (req, res) => {
  firstAt ??= performance.timeOrigin + performance.now();
  busy.requested();
  protocol(req.httpVersion === '2.0' ? 'h2' : 'http/1.1').requests++;
  const index = indexOf(req.url);
  if (index === undefined) unexpected++;
  else counts[index] = (counts[index] ?? 0) + 1;
  const keys = index === undefined ? undefined : sample.get(index);
  if (keys) {
    // Off the hot path: only sampled requests are verified (VAPID JWT) and decrypted.
    readPush(req, origin, keys).then(
      (message) => {
        if (carries(message.payload, payload)) verified++;
        else problems.push(`push/${index}: payload ${JSON.stringify(message.payload)}`);
        answer(res);
      },
      (error: unknown) => {
        problems.push(`push/${index}: ${(error as Error).message}`);
        res.writeHead(400).end();
      },
    );
  } else {
    req.resume();
    req.on('end', () => answer(res));
  }
});
// A client that offers no ALPN (node:https, as web-push uses it) gets HTTP/1.1.
server.on('secureConnection', (socket: TLSSocket) => {
  protocol(socket.alpnProtocol || 'http/1.1').connections++;
});
// HTTP/1.1 connections of an HTTP/2 server have no keep-alive timeout: kept-alive sockets stay
// usable however long a sender pauses.
server.listen(0, '127.0.0.1');
await new Promise((resolve) => server.once('listening', resolve));
const origin = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;

function answer(res: ServerResponse | Http2ServerResponse): void {
  const end = () => {
    res.writeHead(201).end();
    busy.answered();
  };
  if (latencyMs > 0) setTimeout(end, latencyMs);
  else end();
}

/**
 * Whether a decrypted payload is the message sent: the tutorial's JSON as is, or a declarative
 * push message (src/send/declarative.ts, what `npm run send` sends) with its title and body.
 */
function carries(received: string, expected: string): boolean {
  if (received === expected) return true;
  try {
    const { title, body } = JSON.parse(expected) as { title?: unknown; body?: unknown };
    const { notification } = JSON.parse(received) as { notification?: Record<string, unknown> };
    return notification?.title === title && notification?.body === body;
  } catch {
    return false;
  }
}

function indexOf(url: string): number | undefined {
  if (!url.startsWith(PREFIX)) return undefined;
  const index = Number(url.slice(PREFIX.length));
  return Number.isInteger(index) && index >= 0 && index < counts.length ? index : undefined;
}

function tally(targets: number): Tally {
  const result = { exactlyOnce: 0, missing: 0, duplicated: 0, unexpected };
  counts.forEach((count, index) => {
    if (index >= targets) result.unexpected += count;
    else if (count === 1) result.exactlyOnce++;
    else if (count === 0) result.missing++;
    else result.duplicated++;
  });
  const arrival = firstAt === undefined ? {} : { firstAt };
  const checked = { verified, sampled: sample.size, problems: problems.slice(0, 5) };
  const { user, system } = process.cpuUsage(cpuAtReset);
  const window = busy.window();
  const watched = window ? { window } : {};
  return { ...result, ...checked, ...arrival, protocols, cpuUs: user + system, ...watched };
}

const send = (message: FromPushServer) => process.send?.(message);
process.on('message', (message: ToPushServer) => {
  if (message.type === 'reset') {
    counts = new Uint32Array(message.size);
    ({ latencyMs, payload } = message);
    unexpected = verified = problems.length = 0;
    firstAt = undefined;
    protocols = {};
    busy.stop();
    cpuAtReset = process.cpuUsage();
    sample = new Map(
      message.sample.map(({ index, ...keys }) => [
        index,
        {
          privateKey: Buffer.from(keys.privateKey, 'base64url'),
          publicKey: Buffer.from(keys.publicKey, 'base64url'),
          auth: Buffer.from(keys.auth, 'base64url'),
        },
      ]),
    );
    send({ type: 'reset' });
  } else if (message.type === 'watch') {
    busy.watch(message.pid, message.requests);
    send({ type: 'watch' });
  } else if (message.type === 'tally') {
    send({ type: 'tally', tally: tally(message.targets) });
  } else {
    process.disconnect?.();
  }
});
// Stop with the runner, whatever happens to it (Ctrl-C reaches the whole process group).
const stop = () => {
  rmSync(dir, { recursive: true, force: true });
  process.exit(0);
};
process.on('disconnect', stop);
process.on('SIGINT', stop);
send({ type: 'ready', origin, caFile });

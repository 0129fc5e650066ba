import { randomBytes, randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { rm } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { type Channel, type GoneReason, startPushSocket } from './firefox-push-socket.ts';
import { type CheckedPush, checkPush, PushRefusal } from './push-request.ts';
import { makeCertificate, type Rejected } from './push-service.ts';

export type { Channel, GoneReason };

/** A message accepted (201) and forwarded to Firefox, with what Firefox answered about it. */
export interface Forwarded extends CheckedPush {
  version: string;
  endpoint: string;
  channelID: string;
  /** 100 decrypted and delivered to the worker, 101 decryption failed, 102 other error. */
  ack?: number;
  /** 301-303: the worker's push handler threw or rejected. */
  nack?: number;
}

/** A running Firefox push service; see startFirefoxPushService. */
export interface FirefoxPushService {
  /** For Firefox's dom.push.serverURL. */
  serverURL: string;
  /** The HTTPS side, where the endpoints are. */
  origin: string;
  host: string;
  ca: string;
  caFile: string;
  channel(endpoint: string): Channel | undefined;
  channels(): Channel[];
  gone(endpoint: string): GoneReason | undefined;
  forwarded: Forwarded[];
  rejected: Rejected[];
  resetUaid(): void;
  close(): Promise<void>;
}

/**
 * Starts a push service for a real Firefox, as autopush would be: Firefox registers channels over
 * the WebSocket side; the HTTPS side takes RFC 8030 messages for them, checks TTL, encoding and
 * VAPID (`k` must be the key the channel was made with), answers 410 for a channel that is gone,
 * and forwards the still-encrypted body to Firefox, which decrypts it and acks.
 */
export async function startFirefoxPushService(): Promise<FirefoxPushService> {
  const { pems, dir, caFile } = await makeCertificate();
  const forwarded: Forwarded[] = [];
  const rejected: Rejected[] = [];

  const server = createServer({ key: pems.private, cert: pems.cert }, (req, res) => {
    handle(req, res).catch((error: unknown) => {
      const refusal =
        error instanceof PushRefusal ? error : new PushRefusal(500, `internal: ${String(error)}`);
      rejected.push({ endpoint: endpointOf(req), status: refusal.status, reason: refusal.message });
      res.writeHead(refusal.status, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: refusal.message }));
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  const host = `127.0.0.1:${port}`;
  const origin = `https://${host}`;
  const endpointOf = (req: IncomingMessage): string =>
    origin + new URL(req.url ?? '/', origin).pathname;

  const socket = await startPushSocket({
    newEndpoint: () => `${origin}/wpush/v2/${randomBytes(24).toString('base64url')}`,
    onReport({ kind, version, code }) {
      const message = forwarded.find((m) => m.version === version);
      if (message) message[kind] = code;
    },
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const endpoint = endpointOf(req);
    const channel = socket.channel(endpoint);
    if (!channel) {
      const reason = socket.gone(endpoint);
      // autopush: 410 Gone for a channel that was unregistered or whose uaid was reset.
      throw reason
        ? new PushRefusal(410, `channel ${reason}`)
        : new PushRefusal(404, 'no such channel');
    }
    const checked = await checkPush(req, origin);
    if (channel.key && !Buffer.from(checked.vapidPublicKey, 'base64url').equals(channel.key)) {
      throw new PushRefusal(401, 'k is not the applicationServerKey of this subscription');
    }
    const version = randomUUID();
    forwarded.push({ ...checked, version, endpoint, channelID: channel.channelID });
    socket.notify(channel.channelID, version, checked.body);
    // RFC 8030 §5: 201 Created, with the push message resource in Location.
    res.writeHead(201, { location: `${origin}/m/${version}` }).end();
  }

  return {
    serverURL: socket.serverURL,
    origin,
    host,
    ca: pems.cert,
    caFile,
    channel: socket.channel,
    channels: socket.channels,
    gone: socket.gone,
    forwarded,
    rejected,
    resetUaid: socket.resetUaid,
    async close() {
      await socket.close();
      const closed = once(server, 'close');
      server.close();
      server.closeAllConnections();
      await closed;
      await rm(dir, { recursive: true, force: true });
    },
  };
}

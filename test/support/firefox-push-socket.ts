import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { type RawData, WebSocket, WebSocketServer } from 'ws';

/** A channel Firefox registered: the endpoint it was given and its applicationServerKey. */
export interface Channel {
  channelID: string;
  endpoint: string;
  key?: Buffer;
}
/** Why a channel no longer takes messages: Firefox unregistered it, or a uaid reset dropped it. */
export type GoneReason = 'unregistered' | 'dropped';
/** What Firefox said about a message: `ack` 100/101/102, or `nack` 301-303 (the worker failed). */
export type Report = { kind: 'ack' | 'nack'; version: string; code: number };

/** The WebSocket side of a Firefox push service (the protocol of dom.push.serverURL). */
export interface PushSocket {
  /** For dom.push.serverURL. */
  serverURL: string;
  channel(endpoint: string): Channel | undefined;
  channels(): Channel[];
  gone(endpoint: string): GoneReason | undefined;
  /** Sends (or, while Firefox is away, queues) a message for `channelID`; `body` is aes128gcm. */
  notify(channelID: string, version: string, body: Buffer): void;
  /** Forgets Firefox's uaid and drops the socket: Firefox reconnects and drops every subscription. */
  resetUaid(): void;
  close(): Promise<void>;
}

const text = (message: unknown, key: string): string | undefined => {
  const value = typeof message === 'object' && message ? Reflect.get(message, key) : undefined;
  return typeof value === 'string' ? value : undefined;
};

/** Starts a WebSocket server speaking Firefox's `push-notification` protocol on 127.0.0.1. */
export async function startPushSocket(options: {
  /** A fresh endpoint on the HTTPS side for a new channel. */
  newEndpoint: () => string;
  onReport: (report: Report) => void;
}): Promise<PushSocket> {
  const server = new WebSocketServer({
    host: '127.0.0.1',
    port: 0,
    handleProtocols: (protocols) =>
      protocols.has('push-notification') ? 'push-notification' : false,
  });
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;

  let uaid: string | undefined;
  let current: WebSocket | undefined;
  const channels = new Map<string, Channel>();
  const gone = new Map<string, GoneReason>();
  const queued: string[] = [];

  const flush = (): void => {
    while (current?.readyState === WebSocket.OPEN && queued.length > 0) {
      current.send(queued.shift() as string);
    }
  };
  const dropAll = (): void => {
    for (const { endpoint } of channels.values()) gone.set(endpoint, 'dropped');
    channels.clear();
    queued.length = 0;
  };

  /** Handles one message from Firefox and returns the reply, if it gets one. */
  function answer(ws: WebSocket, message: unknown): object | undefined {
    const channelID = text(message, 'channelID') ?? '';
    switch (text(message, 'messageType')) {
      case undefined:
        return {}; // a ping
      case 'hello':
        // Another uaid (or none) means Firefox's subscriptions are not ours: it must drop them.
        if (!uaid || text(message, 'uaid') !== uaid) {
          dropAll();
          uaid = randomBytes(16).toString('hex');
        }
        current = ws;
        return { messageType: 'hello', uaid, status: 200, use_webpush: true, broadcasts: {} };
      case 'register': {
        const key = text(message, 'key'); // base64url, padded with '=' by Firefox
        // Firefox can send a register twice (one queued during the handshake goes out twice): the
        // same channel keeps its endpoint.
        const endpoint = channels.get(channelID)?.endpoint ?? options.newEndpoint();
        const channel = {
          channelID,
          endpoint,
          ...(key ? { key: Buffer.from(key, 'base64url') } : {}),
        };
        channels.set(channelID, channel);
        return { messageType: 'register', channelID, status: 200, pushEndpoint: endpoint };
      }
      case 'unregister': {
        const channel = channels.get(channelID);
        if (channel) gone.set(channel.endpoint, 'unregistered');
        channels.delete(channelID);
        return { messageType: 'unregister', channelID, status: 200 };
      }
      case 'ack': {
        const updates = Reflect.get(message as object, 'updates');
        for (const update of Array.isArray(updates) ? updates : []) report('ack', update);
        return undefined;
      }
      case 'nack':
        report('nack', message);
        return undefined;
    }
    return undefined;
  }

  function report(kind: Report['kind'], from: unknown): void {
    const version = text(from, 'version');
    const code = typeof from === 'object' && from ? Reflect.get(from, 'code') : undefined;
    if (version && typeof code === 'number') options.onReport({ kind, version, code });
  }

  server.on('connection', (ws) => {
    ws.on('message', (data: RawData) => {
      let message: unknown;
      try {
        message = JSON.parse(data.toString());
      } catch {
        return ws.terminate();
      }
      const reply = answer(ws, message);
      if (reply) ws.send(JSON.stringify(reply));
      flush();
    });
    ws.on('close', () => {
      if (current === ws) current = undefined;
    });
  });

  return {
    serverURL: `ws://127.0.0.1:${port}/`,
    channel: (endpoint) => [...channels.values()].find((c) => c.endpoint === endpoint),
    channels: () => [...channels.values()],
    gone: (endpoint) => gone.get(endpoint),
    notify(channelID, version, body) {
      const data = body.length > 0 ? body.toString('base64url') : undefined;
      const headers = data ? { encoding: 'aes128gcm' } : undefined;
      queued.push(
        JSON.stringify({ messageType: 'notification', channelID, version, data, headers }),
      );
      flush();
    },
    resetUaid() {
      dropAll();
      uaid = undefined;
      current?.terminate();
    },
    async close() {
      for (const ws of server.clients) ws.terminate();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

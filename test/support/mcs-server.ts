import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { createServer, type TLSSocket } from 'node:tls';
import { bytesField, decodeFields, readVarint, text, varint } from './protobuf.ts';

// Chromium's google_apis/gcm/base/mcs_util.h (tags) and protocol/mcs.proto (fields).
const MCS_VERSION = 41;
const TAG = { heartbeatPing: 0, heartbeatAck: 1, loginRequest: 2, loginResponse: 3, data: 8 };
const LOGIN = { id: 1, user: 3, authToken: 5 };
const STANZA = { id: 2, from: 3, category: 5, appData: 7, persistentId: 9, rawData: 21 };

/** A LoginRequest Chromium sent: `user` is its android_id, `authToken` its security token. */
export interface McsLogin {
  id: string;
  user: string;
  authToken: string;
}

/** A push for Chromium: `from` its sender, `category` and `subtype` its app, `body` aes128gcm. */
export interface DataMessage {
  persistentId: string;
  from: string;
  category: string;
  subtype: string;
  body: Buffer;
}

/** The MCS side of the FCM stand-in: the long-lived TLS connection Chromium's GCM client keeps. */
export interface McsServer {
  /** For Chromium's --gcm-mcs-endpoint. */
  endpoint: string;
  logins: McsLogin[];
  /** Sends `message` to the device `androidId` now, or as soon as it logs in. */
  send(androidId: string, message: DataMessage): void;
  close(): Promise<void>;
}

/** One MCS frame: tag byte, varint length, message. */
const frame = (tag: number, message: Buffer): Buffer =>
  Buffer.concat([Buffer.from([tag]), varint(message.length), message]);

const appData = (key: string, value: string): Buffer =>
  bytesField(STANZA.appData, Buffer.concat([bytesField(1, key), bytesField(2, value)]));

/** The DataMessageStanza FCM writes for a push (Chromium reads the app id from `subtype`). */
const dataMessageStanza = (message: DataMessage): Buffer =>
  Buffer.concat([
    bytesField(STANZA.id, message.persistentId),
    bytesField(STANZA.from, message.from),
    bytesField(STANZA.category, message.category),
    appData('subtype', message.subtype),
    ...(message.body.length > 0 ? [appData('content-encoding', 'aes128gcm')] : []),
    bytesField(STANZA.persistentId, message.persistentId),
    bytesField(STANZA.rawData, message.body),
  ]);

/**
 * Starts an MCS endpoint on 127.0.0.1 over TLS with `tls` (Chromium trusts it with
 * --ignore-certificate-errors): it takes the version byte and a LoginRequest, answering with its
 * own version byte and a LoginResponse when `authorise` accepts the credentials (else it hangs up),
 * acks heartbeats, and writes DataMessageStanzas to the logged-in device they are for.
 */
export async function startMcsServer(options: {
  tls: { key: string; cert: string };
  authorise(login: McsLogin): boolean;
}): Promise<McsServer> {
  const logins: McsLogin[] = [];
  const devices = new Map<string, TLSSocket>();
  const queued = new Map<string, Buffer[]>();
  const sockets = new Set<TLSSocket>();

  const flush = (androidId: string): void => {
    const socket = devices.get(androidId);
    if (!socket) return;
    for (const stanza of queued.get(androidId) ?? []) socket.write(frame(TAG.data, stanza));
    queued.delete(androidId);
  };

  function handle(socket: TLSSocket, tag: number, message: Buffer): void {
    if (tag === TAG.heartbeatPing) {
      socket.write(frame(TAG.heartbeatAck, Buffer.alloc(0)));
    } else if (tag === TAG.loginRequest) {
      const fields = decodeFields(message);
      const login = {
        id: text(fields, LOGIN.id) ?? '',
        user: text(fields, LOGIN.user) ?? '',
        authToken: text(fields, LOGIN.authToken) ?? '',
      };
      logins.push(login);
      if (!options.authorise(login)) return void socket.destroy();
      // The version byte opens the server's side of the stream; the response echoes the id.
      socket.write(Buffer.from([MCS_VERSION]));
      socket.write(frame(TAG.loginResponse, bytesField(1, login.id)));
      devices.set(login.user, socket);
      socket.once('close', () => {
        if (devices.get(login.user) === socket) devices.delete(login.user);
      });
      flush(login.user);
    }
    // Anything else (acks of what we sent, stream acks) needs no answer from a stand-in.
  }

  const server = createServer(options.tls, (socket) => {
    let pending = Buffer.alloc(0);
    let versionRead = false;
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    socket.on('data', (chunk: Buffer) => {
      pending = Buffer.concat([pending, chunk]);
      try {
        for (;;) {
          if (!versionRead) {
            if (pending.length < 1) return;
            versionRead = true; // Chromium's is 41 (connection_handler_impl.cc)
            pending = pending.subarray(1);
          }
          const size = pending.length > 0 ? readVarint(pending, 1) : undefined;
          if (!size) return;
          const [length, start] = size;
          const end = start + Number(length);
          if (pending.length < end) return;
          const tag = pending[0] as number;
          const message = pending.subarray(start, end);
          pending = pending.subarray(end);
          handle(socket, tag, message);
        }
      } catch {
        socket.destroy();
      }
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;

  return {
    endpoint: `https://127.0.0.1:${port}`,
    logins,
    send(androidId, message) {
      queued.set(androidId, [...(queued.get(androidId) ?? []), dataMessageStanza(message)]);
      flush(androidId);
    },
    async close() {
      const closed = once(server, 'close');
      server.close();
      for (const socket of sockets) socket.destroy();
      await closed;
    },
  };
}

import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { decodeFields, fixed64Field, integer, varintField } from './protobuf.ts';

/** A browser that checked in: what it logs in to MCS and registers with. */
export interface Device {
  androidId: string;
  securityToken: string;
}

/** A registration Chromium made (one per push subscription, and one for itself). */
export interface FcmRegistration {
  token: string;
  androidId: string;
  /** The form Chromium posted: `app`, `X-subtype` (the app id), `sender`, `scope`... */
  form: Readonly<Record<string, string>>;
  /** Set once Chromium asked for it to be deleted (`delete=true`). */
  deleted: boolean;
}

/** The check-in and registration side of the FCM stand-in (plain HTTP on 127.0.0.1). */
export interface FcmRegistry {
  /** For Chromium's --gcm-checkin-url and --gcm-registration-url. */
  checkinUrl: string;
  registrationUrl: string;
  devices: Device[];
  registrations: FcmRegistration[];
  /** Every registration form accepted, in order: registrations and deletions alike. */
  forms: Readonly<Record<string, string>>[];
  /** Registration requests refused (no or wrong AidLogin credentials). */
  refused: string[];
  /** Whether these are the credentials of a device that checked in here. */
  knows(androidId: string, securityToken: string): boolean;
  close(): Promise<void>;
}

// Chromium's google_apis/gcm/protocol/checkin.proto: AndroidCheckinRequest and its response.
const CHECKIN_REQUEST = { androidId: 2, securityToken: 13 };
const CHECKIN_RESPONSE = { statsOk: 1, androidId: 7, securityToken: 8 };

const randomId = (): bigint => randomBytes(8).readBigUInt64BE() >> 1n || 1n;
const sameApp = (a: Record<string, string>, b: Record<string, string>): boolean =>
  (a['X-subtype'] ?? a.app) === (b['X-subtype'] ?? b.app);

/**
 * Starts the check-in endpoint (a protobuf AndroidCheckinResponse: a new android_id and security
 * token, or the same ones for a device that checks in again) and the registration endpoint (form
 * POSTs authorised with `AidLogin <android_id>:<security_token>`, answered `token=<token>`; a
 * `delete=true` marks the device's registration for that app deleted).
 */
export async function startFcmRegistry(): Promise<FcmRegistry> {
  const devices: Device[] = [];
  const registrations: FcmRegistration[] = [];
  const forms: Record<string, string>[] = [];
  const refused: string[] = [];
  const knows = (androidId: string, securityToken: string) =>
    devices.some((d) => d.androidId === androidId && d.securityToken === securityToken);

  function checkin(body: Buffer): Buffer {
    const fields = decodeFields(body);
    const sent = {
      androidId: String(integer(fields, CHECKIN_REQUEST.androidId) ?? ''),
      securityToken: String(integer(fields, CHECKIN_REQUEST.securityToken) ?? ''),
    };
    let device = knows(sent.androidId, sent.securityToken) ? sent : undefined;
    if (!device) {
      device = { androidId: String(randomId()), securityToken: String(randomId()) };
      devices.push(device);
    }
    return Buffer.concat([
      varintField(CHECKIN_RESPONSE.statsOk, 1),
      fixed64Field(CHECKIN_RESPONSE.androidId, BigInt(device.androidId)),
      fixed64Field(CHECKIN_RESPONSE.securityToken, BigInt(device.securityToken)),
    ]);
  }

  function register(authorization: string, body: Buffer): string {
    const [androidId = '', securityToken = ''] = /^AidLogin (\d+):(\d+)$/
      .exec(authorization)
      ?.slice(1) ?? ['', ''];
    const form = Object.fromEntries(new URLSearchParams(body.toString('utf8')));
    if (!knows(androidId, securityToken)) {
      refused.push(authorization);
      return 'Error=AUTHENTICATION_FAILED';
    }
    forms.push(form);
    const live = registrations.find(
      (r) => r.androidId === androidId && !r.deleted && sameApp(r.form, form),
    );
    // InstanceID's delete handler only looks for "token=" in the answer (Chromium's
    // instance_id_delete_token_request_handler.cc); its sender is "*".
    if (form.delete === 'true') {
      if (live) live.deleted = true;
      return `token=${live?.token ?? ''}`;
    }
    if (live && live.form.sender === form.sender) return `token=${live.token}`;
    const token = randomBytes(32).toString('base64url');
    registrations.push({ token, androidId, form, deleted: false });
    return `token=${token}`;
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk);
    const body = Buffer.concat(chunks);
    const path = new URL(req.url ?? '/', 'http://127.0.0.1').pathname;
    if (req.method === 'POST' && path === '/checkin') {
      res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end(checkin(body));
    } else if (req.method === 'POST' && path === '/register') {
      const answer = register(req.headers.authorization ?? '', body);
      const status = answer.startsWith('Error=') ? 401 : 200;
      res.writeHead(status, { 'content-type': 'text/plain' }).end(answer);
    } else {
      res.writeHead(404).end();
    }
  }

  const server = createServer((req, res) => {
    handle(req, res).catch(() => res.writeHead(400).end());
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;

  return {
    checkinUrl: `http://127.0.0.1:${port}/checkin`,
    registrationUrl: `http://127.0.0.1:${port}/register`,
    devices,
    registrations,
    forms,
    refused,
    knows,
    async close() {
      const closed = once(server, 'close');
      server.close();
      server.closeAllConnections();
      await closed;
    },
  };
}

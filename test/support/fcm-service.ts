import { randomInt, randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { rm } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer, type Server } from 'node:https';
import { type FcmRegistration, type FcmRegistry, startFcmRegistry } from './fcm-registry.ts';
import { type McsServer, startMcsServer } from './mcs-server.ts';
import { type CheckedPush, checkPush, PushRefusal } from './push-request.ts';
import { makeCertificate, type Rejected } from './push-service.ts';

export type { FcmRegistration };

/**
 * The host of the endpoints Chromium makes on any channel but Stable, Debian's build included
 * (components/push_messaging/push_messaging_utils.cc, GetGcmEndpointForChannel).
 */
export const FCM_HOST = 'jmt17.google.com';

/** A push accepted (201) and written to Chromium's MCS connection as a DataMessageStanza. */
export interface Forwarded extends CheckedPush {
  endpoint: string;
  persistentId: string;
}

/** A running FCM stand-in; see startFcmService. */
export interface FcmService {
  /** The flags that point Chromium's GCM client here (check-in, registration, MCS). */
  chromiumArgs: string[];
  host: string;
  origin: string;
  /** The loopback address the endpoint side listens on, port 443: map `host` to it. */
  address: string;
  ca: string;
  caFile: string;
  registry: FcmRegistry;
  mcs: McsServer;
  /** The registration a subscription endpoint names, deleted or not. */
  registration(endpoint: string): FcmRegistration | undefined;
  forwarded: Forwarded[];
  rejected: Rejected[];
  close(): Promise<void>;
}

/** Listens on port 443 of a loopback address of its own (127.x.y.z), so runs side by side never clash. */
async function listenOnLoopback(server: Server): Promise<string> {
  for (let attempt = 1; ; attempt++) {
    const address = `127.${randomInt(1, 255)}.${randomInt(0, 256)}.${randomInt(1, 255)}`;
    server.listen(443, address);
    try {
      await once(server, 'listening');
      return address;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EADDRINUSE' || attempt === 5) throw error;
    }
  }
}

/**
 * Starts a stand-in for FCM that a real Chromium uses as its push service: it checks Chromium in,
 * registers its subscriptions, keeps its MCS connection, and takes RFC 8030 pushes at
 * https://jmt17.google.com/fcm/send/<token> (port 443 on a loopback address; listening there needs
 * root). Each push is checked as FCM would (TTL, Content-Encoding, VAPID with `k` the key the
 * subscription was made with) and written still encrypted to the browser that owns the token;
 * a token Chromium deleted gets 410, an unknown one 404.
 */
export async function startFcmService(): Promise<FcmService> {
  const { pems, dir, caFile } = await makeCertificate([FCM_HOST]);
  const origin = `https://${FCM_HOST}`;
  const forwarded: Forwarded[] = [];
  const rejected: Rejected[] = [];
  const registry = await startFcmRegistry();
  const tls = { key: pems.private, cert: pems.cert };
  const mcs = await startMcsServer({
    tls,
    authorise: ({ user, authToken }) => registry.knows(user, authToken),
  });
  const registration = (endpoint: string) =>
    registry.registrations.find((r) => `${origin}/fcm/send/${r.token}` === endpoint);

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const endpoint = origin + new URL(req.url ?? '/', origin).pathname;
    const found = registration(endpoint);
    if (!found) throw new PushRefusal(404, 'no such registration');
    if (found.deleted) throw new PushRefusal(410, 'the browser unregistered this token');
    const checked = await checkPush(req, origin);
    const sender = Buffer.from(found.form.sender ?? '', 'base64url');
    if (!Buffer.from(checked.vapidPublicKey, 'base64url').equals(sender)) {
      throw new PushRefusal(403, 'k is not the applicationServerKey of this subscription');
    }
    const persistentId = `0:${Date.now()}%${randomUUID()}`;
    forwarded.push({ ...checked, endpoint, persistentId });
    // Addressed as Chromium registered it; the body as POSTed, still encrypted.
    mcs.send(found.androidId, {
      persistentId,
      from: found.form.sender ?? '',
      category: found.form.app ?? '',
      subtype: found.form['X-subtype'] ?? '',
      body: checked.body,
    });
    // RFC 8030 §5: 201 Created, with the push message resource in Location.
    res.writeHead(201, { location: `${origin}/m/${persistentId}` }).end();
  }

  const server = createServer(tls, (req, res) => {
    handle(req, res).catch((error: unknown) => {
      const refusal =
        error instanceof PushRefusal ? error : new PushRefusal(500, `internal: ${String(error)}`);
      const endpoint = origin + (req.url ?? '');
      rejected.push({ endpoint, status: refusal.status, reason: refusal.message });
      res.writeHead(refusal.status, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: refusal.message }));
    });
  });
  const closeAll = async () => {
    await Promise.all([mcs.close(), registry.close()]);
    await rm(dir, { recursive: true, force: true });
  };
  const address = await listenOnLoopback(server).catch(async (error: unknown) => {
    await closeAll();
    throw error;
  });

  return {
    chromiumArgs: [
      `--gcm-checkin-url=${registry.checkinUrl}`,
      `--gcm-registration-url=${registry.registrationUrl}`,
      `--gcm-mcs-endpoint=${mcs.endpoint}`,
      // Chromium checks the MCS certificate against Google's names; this stand-in has none.
      '--ignore-certificate-errors',
    ],
    host: FCM_HOST,
    origin,
    address,
    ca: pems.cert,
    caFile,
    registry,
    mcs,
    registration,
    forwarded,
    rejected,
    async close() {
      const closed = once(server, 'close');
      server.close();
      server.closeAllConnections();
      await closed;
      await closeAll();
    },
  };
}

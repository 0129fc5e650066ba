import { once } from 'node:events';
import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createApp } from './app.ts';
import { ROOT, staleBuild } from './build.ts';
import { type Config, loadConfig } from './config.ts';
import { ConfigError } from './errors.ts';
import { createDevicesApi } from './http/devices-api.ts';
import { createRateLimiter } from './http/rate-limit.ts';
import { createSendApi } from './http/send-api.ts';
import { createStatic } from './http/static.ts';
import { loadSendToken } from './http/token.ts';
import { loadOrCreateKeys, permissionWarning } from './keys.ts';
import { createAdmission } from './pairing/admission.ts';
import { createPairingApi } from './pairing/api.ts';
import { startupLines } from './pairing/banner.ts';
import { lanOrigin, ownOrigins } from './pairing/link.ts';
import { openSpentTokens } from './pairing/spent-tokens.ts';
import { databaseSpentTokens } from './pairing/spent-tokens-db.ts';
import { createPairing } from './pairing/tokens.ts';
import { createConfiguredPusher } from './push/pusher.ts';
import { urlHost } from './send/origin.ts';
import type { SendQueue } from './send/queue.ts';
import { removeLeftoverTemps } from './store/file/files.ts';
import { openStorage } from './store/open.ts';
import { eachPage, type SubscriptionStore } from './store/store.ts';
import { storedProblem } from './store/subscription.ts';
import { createCaRoute } from './tls/ca-route.ts';
import { loadTls } from './tls/certificate.ts';
import { lanLines } from './tls/network.ts';
import { reloadableTls } from './tls/reload.ts';
import { checkWritable } from './writable.ts';

const PUBLIC_DIR = join(ROOT, 'public');
// Slow or idle clients must not hold connections: headers within 10 s, the whole request within
// 20 s, checked every second (Node's default check runs only every 30 s).
const TIMEOUTS = {
  headersTimeout: 10_000,
  requestTimeout: 20_000,
  connectionsCheckingInterval: 1_000,
};
const MAX_CONNECTIONS = 256;
// Wrong send tokens allowed per client address and minute before 429.
const FAILED_AUTH_PER_MINUTE = 10;
const SHUTDOWN_DEADLINE_MS = 5_000;

export interface RunningServer {
  httpsUrl: string;
  httpUrls: string[];
  /** Reads the certificate again (SIGHUP) and serves it to new connections; keeps the old one on failure. */
  reloadCertificate(): Promise<void>;
  close(): Promise<void>;
}

/** Loads keys, certificate and store, then listens over HTTPS (and plain HTTP on loopback). */
export async function startServer(
  config: Config,
  log: (line: string) => void,
  options: { terminal?: boolean } = {},
): Promise<RunningServer> {
  await checkWritable(config);
  const { keys, created } = await loadOrCreateKeys(config);
  if (created) {
    log(`Created VAPID keys in ${config.vapidFile} (mode 600), subject ${keys.subject}.`);
    log('  Set your own subject: npm run keys -- --subject mailto:you@example.com');
  }
  const certificate = await loadTls(config, log);
  const secrets = [
    config.vapidFile,
    ...certificate.keyFiles,
    config.sendTokenFile,
    config.pairingKeyFile,
  ];
  for (const file of secrets) {
    const warning = await permissionWarning(file);
    if (warning) log(warning);
  }
  const { store, database } = await openStorage(config, log, { watch: true });
  if (!database) await removeLeftoverTemps(config.subscriptionFile, log);
  const pusher = createConfiguredPusher(config, keys);
  // The ports as configured until the listeners say which they got.
  let httpsPort = config.port;
  let httpPort = config.httpPort;
  // Read at each subscribe and send: the LAN addresses may change while the server runs.
  const origins = () =>
    ownOrigins({ host: config.host, httpsPort, httpPort, tlsNames: config.tlsNames });
  const firstOrigin = () => origins()[0];
  // With a database this server works the batches of every server's sends.
  let queue: SendQueue | undefined;
  if (database) {
    const { startSendQueue } = await import('./send/queue.ts');
    const leaseSeconds = config.sendLeaseSeconds;
    queue = await startSendQueue({
      store,
      pusher,
      firstOrigin,
      database,
      leaseSeconds,
      log,
      logBatches: true,
    }).catch(async (error: unknown) => {
      await Promise.all([store.close(), pusher.close()]);
      throw error;
    });
  }
  const token = await loadSendToken(config);
  const failures = createRateLimiter(FAILED_AUTH_PER_MINUTE);
  const { key, cert } = certificate;
  const https = createHttpsServer({ ...TIMEOUTS, handshakeTimeout: 10_000, key, cert });
  const tls = reloadableTls(https, certificate, () => loadTls(config, log), log);
  const pairing = createPairing({ keyFile: config.pairingKeyFile });
  const spent = database
    ? databaseSpentTokens(database)
    : await openSpentTokens(`${config.pairingKeyFile}.spent`);
  const origin = () => lanOrigin(config.host, httpsPort);
  const batch = config.sendBatch;
  const sendApi = createSendApi({
    store,
    pusher,
    firstOrigin,
    batch,
    shared: queue,
    token,
    failures,
    log,
  });
  const pairingApi = createPairingApi({ pairing, origin, certDir: config.certDir });
  const devicesApi = createDevicesApi({ store, token, failures, log });
  const app = createApp({
    store,
    pusher,
    files: await createStatic(PUBLIC_DIR),
    publicKey: keys.publicKey,
    allowlist: config.pushAllowedHosts,
    limiter: createRateLimiter(config.rateLimit),
    log,
    caRoute: createCaRoute(() => tls.current().caPem),
    admission: createAdmission({ store, pairing, spent, failures, log }),
    extraRoutes: async (req, res, pathname) =>
      (await sendApi(req, res, pathname)) ||
      (await pairingApi(req, res, pathname)) ||
      devicesApi(req, res, pathname),
    origins,
  });
  https.on('request', app);

  const servers: Server[] = [];
  const listen = async (server: Server, port: number, host: string) => {
    Object.assign(server, { keepAliveTimeout: 5_000, maxConnections: MAX_CONNECTIONS });
    server.listen(port, host);
    await once(server, 'listening');
    servers.push(server);
    return (server.address() as AddressInfo).port;
  };
  const close = async () => {
    await Promise.all(servers.map((s) => closeGracefully(s)));
    // Batches in hand are finished (or their leases run out for another server to take).
    await queue?.close();
    await store.close();
    await pusher.close();
  };

  try {
    httpsPort = await listen(https, config.port, config.host);
    const httpsUrl = `https://${urlHost(config.host)}:${httpsPort}`;
    const httpUrls: string[] = [];
    if (config.httpPort !== 0) {
      // Plain HTTP only on loopback: browsers treat it as a secure context, the LAN cannot reach it.
      const port = await listen(createHttpServer(TIMEOUTS, app), config.httpPort, '127.0.0.1');
      httpPort = port;
      httpUrls.push(`http://localhost:${port}`, `http://127.0.0.1:${port}`);
      await listen(createHttpServer(TIMEOUTS, app), port, '::1').catch(
        (error: NodeJS.ErrnoException) => {
          if (error.code !== 'EADDRNOTAVAIL' && error.code !== 'EAFNOSUPPORT') throw error;
        },
      );
    }
    log(`${await store.size()} subscription(s) in ${store.where}`);
    // The database takes only what passed today's checks (POST, npm run import).
    const outdated = database ? 0 : await countOutdated(store);
    if (outdated > 0) {
      log(
        `${outdated} stored subscription(s) predate the stricter endpoint and key checks: kept, and still sent to.`,
      );
    }
    if (httpUrls[0]) log(`Open ${httpUrls[0]} in Chrome, Edge, Firefox or Safari on this machine.`);
    const issuer = certificate.caPem
      ? `the local CA ${join(config.certDir, 'ca.pem')}`
      : 'TLS_CERT_FILE';
    log(`Open ${httpsUrl} over HTTPS (certificate from ${issuer}: see the README).`);
    for (const line of lanLines(config.host, httpsPort, cert)) log(line);
    log(
      token
        ? 'Send API on: POST /api/send with "Authorization: Bearer <token>" (SEND_TOKEN or send-token).'
        : 'Send API off: run npm run token to enable POST /api/send.',
    );
    const terminal = options.terminal ?? false;
    const { certDir } = config;
    for (const line of await startupLines({ lan: origin(), pairing, terminal, certDir })) log(line);
    return { httpsUrl, httpUrls, reloadCertificate: tls.reload, close };
  } catch (error) {
    await close();
    const { code, port } = error as { code?: string; port?: number };
    if (code === 'EADDRINUSE') throw new ConfigError(`port ${port} is already in use`);
    if (code === 'EACCES') throw new ConfigError(`no permission to listen on port ${port}`);
    throw error;
  }
}

/** How many stored subscriptions predate the stricter checks. */
async function countOutdated(store: SubscriptionStore): Promise<number> {
  let outdated = 0;
  for await (const page of eachPage(store)) {
    outdated += page.filter((s) => storedProblem(s) !== undefined).length;
  }
  return outdated;
}

/** Stops accepting, lets requests in flight finish, then cuts what is left at the deadline. */
async function closeGracefully(server: Server): Promise<void> {
  const closed = new Promise((resolve) => server.close(resolve));
  server.closeIdleConnections();
  // A keep-alive connection turns idle when its response in flight is sent: close it then, or
  // it would stay open (and could bring new requests) until the deadline.
  const sweep = setInterval(() => server.closeIdleConnections(), 100);
  const deadline = setTimeout(() => server.closeAllConnections(), SHUTDOWN_DEADLINE_MS);
  await closed;
  clearInterval(sweep);
  clearTimeout(deadline);
}

async function main(): Promise<void> {
  const log = (line: string) => console.log(line);
  const stale = staleBuild();
  if (stale) {
    console.error(`error: ${stale}`);
    process.exitCode = 1;
    return;
  }
  try {
    const server = await startServer(loadConfig(), log, { terminal: process.stdout.isTTY });
    let stopping = false;
    const stop = async (signal: string) => {
      // A second signal must not kill the process mid-write: the deadline already bounds the wait.
      if (stopping) {
        log(`${signal}: already finishing (at most ${SHUTDOWN_DEADLINE_MS / 1000} s)`);
        return;
      }
      stopping = true;
      log(`${signal}: finishing requests in flight, then exiting`);
      await server.close();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
    // certbot's deploy hook (or kill -HUP) after renewing TLS_CERT_FILE; see the README.
    process.on('SIGHUP', () => {
      log('SIGHUP: reading the certificate again');
      void server.reloadCertificate();
    });
  } catch (error) {
    // Expected failures (a broken file, a port in use, a read-only directory) get one line.
    const systemError = error instanceof Error && 'syscall' in error;
    if (!(error instanceof ConfigError) && !systemError) throw error;
    console.error(`error: ${(error as Error).message}`);
    process.exitCode = 1;
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await main();

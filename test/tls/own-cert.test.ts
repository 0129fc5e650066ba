import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { connect, type TLSSocket } from 'node:tls';
import { Client, request } from 'undici';
import { loadConfig } from '../../src/config.ts';
import { ConfigError } from '../../src/errors.ts';
import { loadTls } from '../../src/tls/certificate.ts';
import { testAuthority } from '../support/certs.ts';
import {
  runServer,
  type ServerProcess,
  startServerProcess,
  tempDir,
} from '../support/processes.ts';

const DAY = 86_400_000;
let root: string;
let authority: Awaited<ReturnType<typeof testAuthority>>;
const servers: ServerProcess[] = [];
const clients: Client[] = [];

before(async () => {
  root = await tempDir('own-cert-test-');
  authority = await testAuthority();
});

after(async () => {
  await Promise.all(clients.map((client) => client.destroy()));
  await Promise.all(servers.map((server) => server.stop('SIGKILL')));
  await rm(root, { recursive: true, force: true });
});

let count = 0;
/** Writes a pair where certbot would (mode 0644, as the operator left it); returns the env. */
async function ownFiles(pair: { cert: string; key: string }) {
  const dir = join(root, `own-${++count}`);
  await mkdir(dir);
  const env = { TLS_CERT_FILE: join(dir, 'fullchain.pem'), TLS_KEY_FILE: join(dir, 'privkey.pem') };
  await writeFile(env.TLS_CERT_FILE, pair.cert, { mode: 0o644 });
  await writeFile(env.TLS_KEY_FILE, pair.key, { mode: 0o644 });
  return { dir, env };
}

/** Bytes, mode and modification time: all of what "left alone" means. */
async function snapshot(files: string[]) {
  return Promise.all(
    files.map(async (file) => {
      const info = await stat(file);
      return { file, bytes: await readFile(file, 'utf8'), mode: info.mode, mtime: info.mtimeMs };
    }),
  );
}

async function load(env: Record<string, string>, now = Date.now()) {
  const lines: string[] = [];
  const certDir = join(root, `certs-${++count}`);
  const tls = await loadTls(loadConfig({ ...env, CERT_DIR: certDir }), (l) => lines.push(l), {
    now,
  });
  return { tls, lines, certDir };
}

test('uses TLS_CERT_FILE and TLS_KEY_FILE as they are, even expired: nothing made, nothing written or chmod-ed', async () => {
  const { env } = await ownFiles(await authority.leaf(2, Date.now() - 10 * DAY));
  const files = [env.TLS_CERT_FILE, env.TLS_KEY_FILE];
  const before = await snapshot(files);
  const { tls, lines, certDir } = await load(env);
  assert.equal(tls.cert, before[0]?.bytes);
  assert.equal(tls.key, before[1]?.bytes);
  assert.equal(tls.caPem, undefined, 'no local CA to serve');
  assert.deepEqual(tls.keyFiles, []);
  assert.match(
    lines[0] ?? '',
    /^warning: .*fullchain\.pem expired on \d{4}-\d\d-\d\d: renew it, then send SIGHUP/,
  );
  assert.match(
    lines[1] ?? '',
    /^Using .*fullchain\.pem \(TLS_CERT_FILE\) for localhost, 127\.0\.0\.1, until /,
  );
  await assert.rejects(stat(certDir), { code: 'ENOENT' }, 'certs/ was not even made');
  assert.deepEqual(await snapshot(files), before);
});

test('warns in one line when the certificate expires within 14 days, and not before', async () => {
  const { env } = await ownFiles(await authority.leaf(90));
  const expires = Date.parse(new X509Certificate(await readFile(env.TLS_CERT_FILE)).validTo);
  const soon = await load(env, expires - 13 * DAY);
  assert.match(
    soon.lines[0] ?? '',
    /^warning: .* expires on \d{4}-\d\d-\d\d, in 13 day\(s\): renew it, then send SIGHUP$/,
  );
  const later = await load(env, expires - 15 * DAY);
  assert.deepEqual(
    later.lines.filter((line) => line.startsWith('warning')),
    [],
  );
});

test("a key that is not the certificate's, or a file that cannot be read, is a one-line error", async () => {
  const { env } = await ownFiles(await authority.leaf());
  const other = await authority.leaf();
  const { env: mismatched } = await ownFiles({
    cert: other.cert,
    key: (await authority.leaf()).key,
  });
  const cases: [Record<string, string>, RegExp][] = [
    [
      mismatched,
      /privkey\.pem \(TLS_KEY_FILE\) is not the private key of .*fullchain\.pem \(TLS_CERT_FILE\)$/,
    ],
    [
      { ...env, TLS_KEY_FILE: join(root, 'missing.pem') },
      /^cannot read .*missing\.pem \(ENOENT\)$/,
    ],
    // Root reads any file whatever its mode: a directory is unreadable as a file for everyone.
    [{ ...env, TLS_CERT_FILE: root }, /^cannot read .* \(EISDIR\)$/],
    [
      { ...env, TLS_CERT_FILE: env.TLS_KEY_FILE },
      /fullchain\.pem|privkey\.pem \(TLS_CERT_FILE\) is not a PEM certificate$/,
    ],
  ];
  for (const [files, message] of cases) {
    await assert.rejects(load(files), (error: unknown) => {
      assert.ok(error instanceof ConfigError);
      assert.match(error.message, message);
      return true;
    });
  }
  const dir = await tempDir('own-cert-start-');
  try {
    const result = await runServer({ dir, env: { PATH: process.env.PATH, ...mismatched } });
    assert.equal(result.code, 1);
    assert.match(
      result.stderr,
      /^error: .*privkey\.pem \(TLS_KEY_FILE\) is not the private key of .*\n$/,
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

/** A TLS connection to the server trusting only the test CA. */
async function tlsTo(port: number): Promise<TLSSocket> {
  const socket = connect({ host: '127.0.0.1', port, servername: 'localhost', ca: authority.ca });
  await new Promise<void>((resolve, reject) => {
    socket.once('secureConnect', resolve).once('error', reject);
  });
  return socket;
}

async function servedFingerprint(port: number): Promise<string> {
  const socket = await tlsTo(port);
  const fingerprint = socket.getPeerX509Certificate()?.fingerprint256 ?? '';
  socket.destroy();
  return fingerprint;
}

async function waitForLine(server: ServerProcess, pattern: RegExp, after: number): Promise<string> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const line = server
      .output()
      .slice(after)
      .split('\n')
      .find((l) => pattern.test(l));
    if (line) return line;
    if (Date.now() > deadline) throw new Error(`no ${pattern} in:\n${server.output()}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

test('SIGHUP swaps the certificate for new connections, keeps open ones working, and keeps the old one when the new files are broken', async () => {
  const first = await authority.leaf();
  const { dir, env } = await ownFiles(first);
  const server = await startServerProcess({ dir, env: { PATH: process.env.PATH, ...env } });
  servers.push(server);
  const port = Number(new URL(server.httpsUrl).port);
  const fingerprint = (pem: string) => new X509Certificate(pem).fingerprint256;
  assert.equal(await servedFingerprint(port), fingerprint(first.cert));

  // One kept-alive connection from before the swap, made by hand so the test sees its socket.
  let opened = 0;
  let kept: TLSSocket | undefined;
  const client = new Client(`https://localhost:${port}`, {
    connect: (_options, callback) => {
      opened++;
      tlsTo(port).then(
        (socket) => {
          kept = socket;
          callback(null, socket);
        },
        (error) => callback(error, null),
      );
    },
  });
  clients.push(client);
  const get = async (path: string, dispatcher?: Client) => {
    const response = await request(`https://localhost:${port}${path}`, { dispatcher });
    await response.body.text();
    return response.statusCode;
  };
  assert.equal(await get('/api/vapid-public-key', client), 200);

  const second = await authority.leaf();
  await writeFile(env.TLS_CERT_FILE, second.cert);
  await writeFile(env.TLS_KEY_FILE, second.key);
  const files = [env.TLS_CERT_FILE, env.TLS_KEY_FILE];
  const written = await snapshot(files);
  let mark = server.output().length;
  server.child.kill('SIGHUP');
  await waitForLine(server, /^SIGHUP: new connections get the certificate just read\.$/, mark);
  assert.equal(await servedFingerprint(port), fingerprint(second.cert));
  assert.equal(
    await get('/api/vapid-public-key', client),
    200,
    'the open connection still answers',
  );
  assert.equal(opened, 1, 'on the same connection');
  assert.equal(kept?.getPeerX509Certificate()?.fingerprint256, fingerprint(first.cert));

  // A renewal gone wrong: a certificate whose key is not beside it.
  await writeFile(env.TLS_CERT_FILE, (await authority.leaf()).cert);
  const broken = await snapshot(files);
  mark = server.output().length;
  server.child.kill('SIGHUP');
  const line = await waitForLine(server, /^SIGHUP: kept the current certificate: /, mark);
  assert.match(line, /privkey\.pem \(TLS_KEY_FILE\) is not the private key of /);
  assert.equal(await servedFingerprint(port), fingerprint(second.cert));
  assert.equal(await get('/api/vapid-public-key', client), 200);
  assert.equal(server.child.exitCode, null, 'still running');
  assert.deepEqual(await snapshot(files), broken, 'the broken files are left as they are');
  assert.notDeepEqual(written, broken);

  const caCrt = await request(`${server.httpUrl}/ca.crt`);
  assert.equal(caCrt.statusCode, 404, 'no local CA to download with TLS_CERT_FILE');
  assert.deepEqual(await caCrt.body.json(), {
    error: 'no local CA: this server uses TLS_CERT_FILE',
  });
  await assert.rejects(stat(join(dir, 'certs')), { code: 'ENOENT' });
  assert.equal(await server.stop(), 0);
});

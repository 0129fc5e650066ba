import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import selfsigned from 'selfsigned';
import { loadConfig } from '../../src/config.ts';
import { ConfigError } from '../../src/errors.ts';
import { loadTls, type TlsOptions } from '../../src/tls/certificate.ts';
import { lanAddresses } from '../../src/tls/network.ts';
import { day } from '../../src/tls/pem.ts';
import { verifyWith } from '../support/certs.ts';
import { runServer, startServerProcess, tempDir } from '../support/processes.ts';

let root: string;
let count = 0;
const freshDir = () => join(root, `certs-${++count}`);
const DAY = 86_400_000;
const MACHINE: TlsOptions = { hostName: 'testhost', addresses: ['192.168.1.20', 'fd00::20'] };

before(async () => {
  root = await tempDir('tls-test-');
});

after(async () => {
  await rm(root, { recursive: true, force: true });
});

/** Runs loadTls on `dir` as a start would, and returns what it printed too. */
async function start(dir: string, options: TlsOptions = {}, env: Record<string, string> = {}) {
  const lines: string[] = [];
  const config = loadConfig({ CERT_DIR: dir, ...env });
  const tls = await loadTls(config, (line) => lines.push(line), { ...MACHINE, ...options });
  return { ...tls, lines, leaf: new X509Certificate(tls.cert) };
}

const ca = async (dir: string) => readFile(join(dir, 'ca.pem'), 'utf8');
const names = (leaf: X509Certificate) => (leaf.subjectAltName ?? '').split(', ');

test('issues cert.pem and key.pem (mode 0600) from the CA for loopback, the host name, the LAN and TLS_NAMES', async () => {
  const dir = freshDir();
  const tls = await start(dir, {}, { TLS_NAMES: 'router.lan,box.home.arpa' });
  assert.deepEqual(names(tls.leaf), [
    'DNS:localhost',
    'DNS:testhost',
    'DNS:testhost.local',
    'DNS:router.lan',
    'DNS:box.home.arpa',
    'IP Address:127.0.0.1',
    'IP Address:0:0:0:0:0:0:0:1',
    'IP Address:192.168.1.20',
    'IP Address:FD00:0:0:0:0:0:0:20',
  ]);
  for (const file of ['key.pem', 'cert.pem', 'ca.pem', 'ca-key.pem']) {
    assert.equal((await stat(join(dir, file))).mode & 0o777, 0o600, file);
  }
  assert.equal(await readFile(join(dir, 'cert.pem'), 'utf8'), tls.cert);
  assert.equal(await readFile(join(dir, 'key.pem'), 'utf8'), tls.key);
  assert.equal(tls.caPem, await ca(dir));
  assert.deepEqual(tls.keyFiles, [join(dir, 'key.pem'), join(dir, 'ca-key.pem')]);
  const authority = new X509Certificate(await ca(dir));
  assert.ok(tls.leaf.checkIssued(authority) && tls.leaf.verify(authority.publicKey));
  assert.equal(tls.leaf.ca, false);
  assert.deepEqual(tls.leaf.keyUsage, ['1.3.6.1.5.5.7.3.1'], 'extKeyUsage serverAuth only');
  const days = (Date.parse(tls.leaf.validTo) - Date.parse(tls.leaf.validFrom)) / DAY;
  assert.ok(days <= 397 && days > 390, `valid for ${days} days`);
  assert.match(
    tls.lines[0] ?? '',
    /^Made a local certificate authority: .*ca\.pem \(SHA-256 [0-9A-F:]{95}\)/,
  );
  assert.match(
    tls.lines[1] ?? '',
    /^Made .*cert\.pem for localhost, testhost, .*fd00::20 \(until \d{4}-\d\d-\d\d\)\.$/,
  );
  assert.equal(tls.lines.length, 2);
});

test('the certificate verifies with a client trusting only ca.pem, for localhost, 127.0.0.1 and the LAN address', async () => {
  const tls = await start(freshDir());
  for (const name of ['localhost', '127.0.0.1', '::1', 'testhost.local', '192.168.1.20']) {
    assert.equal(await verifyWith(tls.caPem as string, tls, name), 'ok', name);
  }
});

test('keeps the certificate on the next start when nothing changed, and says nothing', async () => {
  const dir = freshDir();
  const first = await start(dir);
  const second = await start(dir, { now: Date.now() + 300 * DAY });
  assert.deepEqual(second.lines, []);
  assert.equal(second.cert, first.cert);
  assert.equal(second.key, first.key);
});

test('re-issues from the same CA when the machine has a new address or name, saying why', async () => {
  const dir = freshDir();
  const first = await start(dir);
  const caBefore = await ca(dir);
  const fingerprint = new X509Certificate(caBefore).fingerprint256;
  const moved = await start(dir, { addresses: ['10.0.0.7'] });
  const until = day(Date.parse(moved.leaf.validTo));
  assert.deepEqual(moved.lines, [
    `Re-issued ${join(dir, 'cert.pem')} for localhost, testhost, testhost.local, 127.0.0.1, ::1, 10.0.0.7 (until ${until}): the old one did not cover 10.0.0.7.`,
  ]);
  assert.notEqual(moved.key, first.key);
  const named = await start(dir, { addresses: ['10.0.0.7'] }, { TLS_NAMES: 'nas.lan' });
  assert.match(named.lines[0] ?? '', /: the old one did not cover nas\.lan\.$/);
  assert.ok(names(named.leaf).includes('DNS:nas.lan'));
  assert.equal(await ca(dir), caBefore, 'ca.pem unchanged');
  assert.equal(new X509Certificate(await ca(dir)).fingerprint256, fingerprint);
  assert.ok(named.leaf.checkIssued(new X509Certificate(caBefore)));
  assert.equal(await verifyWith(caBefore, named, '10.0.0.7'), 'ok');
});

test('leaves out a public address or a name the CA was not made for, and says so at every start', async () => {
  const dir = freshDir();
  await start(dir);
  const env = { TLS_NAMES: 'push.example.com' };
  const addresses = ['192.168.1.20', '203.0.113.5', '2001:db8::5'];
  const lines = [
    `Not in ${join(dir, 'cert.pem')}: push.example.com, 203.0.113.5, 2001:db8::5 (${join(dir, 'ca.pem')} certifies only local names and private addresses: see TLS_NAMES in the README).`,
  ];
  const first = await start(dir, { addresses }, env);
  assert.deepEqual(first.lines, lines, 'and no re-issue: everything the CA permits is covered');
  assert.ok(!names(first.leaf).some((name) => /example|203\.0|2001/i.test(name)));
  // A CA made with TLS_NAMES set permits those names (and only those) besides the local ones.
  const fresh = await start(freshDir(), { addresses }, env);
  assert.match(
    fresh.lines.find((line) => line.startsWith('Not in')) ?? '',
    /^Not in .*: 203\.0\.113\.5, 2001:db8::5 \(/,
  );
  assert.ok(names(fresh.leaf).includes('DNS:push.example.com'));
  assert.ok(!names(fresh.leaf).some((name) => /203\.0|2001/i.test(name)));
});

test('re-issues a certificate that expires within 30 days', async () => {
  const dir = freshDir();
  const first = await start(dir);
  const later = Date.parse(first.leaf.validTo) - 29 * DAY;
  const renewed = await start(dir, { now: later });
  assert.match(renewed.lines[0] ?? '', /: the old one expires on \d{4}-\d\d-\d\d\.$/);
  assert.ok(Date.parse(renewed.leaf.validTo) > later + 390 * DAY);
});

test('re-issues a certificate from another CA', async () => {
  const dir = freshDir();
  await start(dir);
  const foreign = await start(freshDir());
  await writeFile(join(dir, 'cert.pem'), foreign.cert);
  await writeFile(join(dir, 'key.pem'), foreign.key);
  const reissued = await start(dir);
  assert.match(reissued.lines[0] ?? '', /: the old one was not issued by .*ca\.pem\.$/);
  assert.ok(reissued.leaf.checkIssued(new X509Certificate(await ca(dir))));
});

test('moves an old install (a self-signed cert.pem, no ca.pem) to the local CA, saying so in one line', async () => {
  const dir = freshDir();
  await mkdir(dir);
  // What the server made before the local CA: a self-signed leaf for localhost.
  const old = await selfsigned.generate([{ name: 'commonName', value: 'localhost' }], {
    keyType: 'ec',
    algorithm: 'sha256',
    extensions: [{ name: 'basicConstraints', cA: false }],
  });
  await writeFile(join(dir, 'cert.pem'), old.cert);
  await writeFile(join(dir, 'key.pem'), old.private, { mode: 0o600 });
  const moved = await start(dir);
  const line = moved.lines.filter((l) => /^Moved to a local CA: /.test(l));
  assert.equal(line.length, 1, moved.lines.join('\n'));
  assert.match(line[0] ?? '', /cert\.pem was self-signed; made .*ca\.pem \(SHA-256 /);
  assert.ok(moved.leaf.checkIssued(new X509Certificate(await ca(dir))));
  assert.equal((await stat(join(dir, 'cert.pem'))).mode & 0o777, 0o600);
});

test('a cert.pem that is not a certificate is a ConfigError naming it, and is left alone', async () => {
  const dir = freshDir();
  await start(dir);
  const certFile = join(dir, 'cert.pem');
  await writeFile(certFile, 'not a certificate\n');
  await assert.rejects(start(dir), (error: unknown) => {
    assert.ok(error instanceof ConfigError);
    assert.ok(error.message.includes(certFile), error.message);
    return true;
  });
  assert.equal(await readFile(certFile, 'utf8'), 'not a certificate\n');
});

// The idle server's memory: the X.509 libraries (~14 MiB) load only when something is made, and
// then in the certificate maker (test/startup.test.ts shows which process loads what).
test('a server start that only checks the certificates never loads @peculiar/x509 or selfsigned', async () => {
  const dir = await tempDir('tls-lazy-');
  // A resolve hook in the server and the maker it starts (NODE_OPTIONS reaches both) that refuses
  // those modules: loading one fails the start.
  const hook = `export async function resolve(specifier, context, next) {
    if (/@peculiar|selfsigned|\\/x509\\.js$/.test(specifier)) throw new Error('loaded ' + specifier);
    return next(specifier, context);
  }`;
  const register = `import { register } from 'node:module';
    register('data:text/javascript,' + encodeURIComponent(${JSON.stringify(hook)}));`;
  const env = {
    PATH: process.env.PATH,
    NODE_OPTIONS: `--import=data:text/javascript,${encodeURIComponent(register)}`,
  };
  try {
    const first = await runServer({ dir, env });
    assert.equal(first.code, 1, 'making the certificates needs them, so the hook works');
    assert.match(first.stderr, /loaded .*x509/);
    // Certificates for this machine, as a start without the hook makes them.
    await start(join(dir, 'certs'), { hostName: hostname(), addresses: lanAddresses() });
    const server = await startServerProcess({ dir, env });
    assert.equal(await server.stop(), 0, server.output());
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

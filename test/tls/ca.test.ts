import assert from 'node:assert/strict';
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { AsnConvert } from '@peculiar/asn1-schema';
import { NameConstraints } from '@peculiar/asn1-x509';
import * as x509 from '@peculiar/x509';
import { ConfigError } from '../../src/errors.ts';
import { type LocalCa, loadOrCreateCa } from '../../src/tls/ca.ts';
import { makeLeaf } from '../../src/tls/x509.ts';
import { verifyWith, withoutNameConstraints } from '../support/certs.ts';
import { tempDir } from '../support/processes.ts';

let root: string;
let count = 0;
let ca: LocalCa;
const freshDir = () => join(root, `ca-${++count}`);
const OPTIONS = { hostName: 'testhost', extraNames: ['testhost', 'router.lan', 'box.example'] };
const PERMITTED_IPS = [
  '127.0.0.0/8',
  '::1/128',
  '10.0.0.0/8',
  '172.16.0.0/12',
  '192.168.0.0/16',
  '169.254.0.0/16',
  'fc00::/7',
  'fe80::/10',
];
const DAY = 86_400_000;

before(async () => {
  root = await tempDir('ca-test-');
  ({ ca } = await loadOrCreateCa(join(root, 'shared'), { ...OPTIONS, now: Date.now() }));
});

after(async () => {
  await rm(root, { recursive: true, force: true });
});

/** A certificate that the CA's key signs for these names, whatever its constraints say. */
function leafFor(names: string[]) {
  const ips = names.filter((name) => /^[\d.]+$|:/.test(name));
  const dnsNames = names.filter((name) => !ips.includes(name));
  return makeLeaf({ ca: { cert: ca.pem, key: ca.key }, dnsNames, ips, now: Date.now(), days: 30 });
}

test('makes ca.pem and ca-key.pem (mode 0600): an EC P-256 CA for about 10 years, pathlen 0', async () => {
  for (const file of [ca.certFile, ca.keyFile])
    assert.equal((await stat(file)).mode & 0o777, 0o600);
  assert.equal(await readFile(ca.certFile, 'utf8'), ca.pem);
  const key = createPrivateKey(await readFile(ca.keyFile, 'utf8'));
  assert.equal(key.asymmetricKeyDetails?.namedCurve, 'prime256v1');
  const cert = new X509Certificate(ca.pem);
  assert.equal(cert.ca, true);
  assert.ok(cert.checkPrivateKey(key));
  assert.ok(cert.verify(cert.publicKey), 'self-signed');
  assert.match(cert.subject, /CN=Simple Web Push local CA \(testhost\)/);
  const years = (Date.parse(cert.validTo) - Date.now()) / (365 * DAY);
  assert.ok(years > 9.9 && years < 10.1, `valid for ${years} years`);

  const parsed = new x509.X509Certificate(ca.pem);
  assert.equal(parsed.signatureAlgorithm.name, 'ECDSA');
  assert.equal((parsed.signatureAlgorithm as { hash?: { name: string } }).hash?.name, 'SHA-256');
  const basic = parsed.getExtension(x509.BasicConstraintsExtension);
  assert.deepEqual([basic?.critical, basic?.ca, basic?.pathLength], [true, true, 0]);
  const usage = parsed.getExtension(x509.KeyUsagesExtension);
  assert.equal(usage?.critical, true);
  assert.equal(usage?.usages, x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign);
});

test('carries critical name constraints permitting only local names and private addresses', () => {
  const extension = new x509.X509Certificate(ca.pem).getExtension('2.5.29.30');
  assert.ok(extension, 'a nameConstraints extension');
  assert.equal(extension.critical, true);
  const constraints = AsnConvert.parse(extension.value, NameConstraints);
  assert.equal(constraints.excludedSubtrees, undefined);
  const bases = [...(constraints.permittedSubtrees ?? [])].map((subtree) => subtree.base);
  assert.deepEqual(
    bases.filter((base) => base.dNSName !== undefined).map((base) => base.dNSName),
    // router.lan is under lan already; box.example is a TLS_NAMES name of the operator's.
    ['localhost', 'local', 'lan', 'home.arpa', 'internal', 'testhost', 'box.example'],
  );
  assert.deepEqual(
    bases.filter((base) => base.iPAddress !== undefined).map((base) => base.iPAddress),
    PERMITTED_IPS,
  );
});

test('a leaf for localhost, a .local name and a LAN address verifies with a client trusting only ca.pem', async () => {
  const names = ['localhost', 'testhost', 'pi.local', 'box.example', '127.0.0.1', '192.168.1.20'];
  const leaf = await leafFor(names);
  for (const name of names) assert.equal(await verifyWith(ca.pem, leaf, name), 'ok', name);
  assert.match(
    await verifyWith(ca.pem, leaf, 'other.local'),
    /does not match certificate's altnames/,
  );
});

test('a leaf that ca-key.pem signs for example.com is refused, and accepted from the same CA without its constraints', async () => {
  const twin = await withoutNameConstraints(ca.pem, ca.key);
  for (const names of [['example.com'], ['localhost', 'example.com'], ['localhost', '8.8.8.8']]) {
    const leaf = await leafFor(names);
    const name = names.at(-1) as string;
    assert.match(await verifyWith(ca.pem, leaf, name), /permitted subtree violation/, `${names}`);
    assert.equal(await verifyWith(twin, leaf, name), 'ok', `${names} without the constraints`);
  }
});

test('permits() decides every name as OpenSSL does', async () => {
  const cases: [string, boolean][] = [
    ['localhost', true],
    ['local', true],
    ['pi.local', true],
    ['a.b.home.arpa', true],
    ['x.internal', true],
    ['testhost', true],
    ['box.example', true],
    ['www.box.example', true],
    ['example.com', false],
    ['notlocal', false],
    ['local.example.com', false],
    ['example', false],
    ['127.9.9.9', true],
    ['10.77.0.1', true],
    ['172.31.255.255', true],
    ['172.32.0.1', false],
    ['192.168.1.20', true],
    ['192.0.2.2', false],
    ['8.8.8.8', false],
    ['::1', true],
    ['fd00::2', true],
    ['fe80::1', true],
    ['2001:db8::1', false],
  ];
  const twin = await withoutNameConstraints(ca.pem, ca.key);
  for (const [name, permitted] of cases) {
    assert.equal(ca.permits(name), permitted, name);
    // Cross-check with OpenSSL: a leaf for localhost and this name, under ca.pem and its twin.
    const leaf = await leafFor(name === 'localhost' ? [name] : ['localhost', name]);
    assert.equal((await verifyWith(ca.pem, leaf, name)) === 'ok', permitted, `OpenSSL on ${name}`);
    assert.equal(await verifyWith(twin, leaf, name), 'ok', `${name} without the constraints`);
  }
});

test('a CA without name constraints permits every name', async () => {
  const dir = freshDir();
  await loadOrCreateCa(dir, { ...OPTIONS, now: Date.now() });
  await writeFile(join(dir, 'ca.pem'), await withoutNameConstraints(ca.pem, ca.key));
  await writeFile(join(dir, 'ca-key.pem'), ca.key);
  const { ca: loaded, created } = await loadOrCreateCa(dir, { ...OPTIONS, now: Date.now() });
  assert.equal(created, false);
  for (const name of ['example.com', '8.8.8.8', '2001:db8::1']) assert.ok(loaded.permits(name));
});

test('loads the same CA on the next start and never replaces it', async () => {
  const again = await loadOrCreateCa(join(root, 'shared'), { ...OPTIONS, now: Date.now() + DAY });
  assert.equal(again.created, false);
  assert.equal(again.ca.pem, ca.pem);
  assert.equal(again.ca.cert.fingerprint256, ca.cert.fingerprint256);
});

test('a CA whose key is missing, foreign or broken is a ConfigError, and nothing is written', async () => {
  const other = await loadOrCreateCa(freshDir(), { ...OPTIONS, now: Date.now() });
  const cases: [string, Record<string, string>, RegExp][] = [
    ['missing key', { 'ca.pem': ca.pem }, /ca-key\.pem is missing beside .*ca\.pem/],
    ['missing certificate', { 'ca-key.pem': ca.key }, /ca\.pem is missing beside .*ca-key\.pem/],
    ['foreign key', { 'ca.pem': ca.pem, 'ca-key.pem': other.ca.key }, /is not the private key/],
    ['broken certificate', { 'ca.pem': 'x\n', 'ca-key.pem': ca.key }, /is not a PEM certificate/],
  ];
  for (const [what, files, message] of cases) {
    const dir = freshDir();
    await loadOrCreateCa(dir, { ...OPTIONS, now: Date.now() });
    await Promise.all(['ca.pem', 'ca-key.pem'].map((name) => rm(join(dir, name))));
    for (const [name, text] of Object.entries(files)) await writeFile(join(dir, name), text);
    await assert.rejects(loadOrCreateCa(dir, { ...OPTIONS, now: Date.now() }), (error: unknown) => {
      assert.ok(error instanceof ConfigError, what);
      assert.match(error.message, message, what);
      return true;
    });
    for (const name of ['ca.pem', 'ca-key.pem']) {
      const text = await readFile(join(dir, name), 'utf8').catch(() => undefined);
      assert.equal(text, files[name], `${what}: ${name} unchanged`);
    }
  }
});

import assert from 'node:assert/strict';
import { createHash, createPrivateKey, X509Certificate } from 'node:crypto';
import { readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import selfsigned from 'selfsigned';
import { ConfigError } from '../src/errors.ts';
import { loadOrCreateCertificate } from '../src/tls.ts';
import { tempDir } from './support/processes.ts';

let root: string;
let count = 0;
const freshDir = () => join(root, `certs-${++count}`);

// DER of the OIDs 1.2.840.10045.4.3.2 (ecdsa-with-SHA256) and 1.2.840.10045.4.1 (ecdsa-with-SHA1).
const ECDSA_SHA256 = Buffer.from('06082a8648ce3d040302', 'hex');
const ECDSA_SHA1 = Buffer.from('06072a8648ce3d0401', 'hex');

before(async () => {
  root = await tempDir('tls-test-');
});

after(async () => {
  await rm(root, { recursive: true, force: true });
});

test('creates a key (mode 0600) and a certificate for localhost, 127.0.0.1 and ::1', async () => {
  const dir = freshDir();
  const certificate = await loadOrCreateCertificate(dir);
  assert.equal(certificate.created, true);
  assert.equal(certificate.keyFile, join(dir, 'key.pem'));
  assert.equal(certificate.certFile, join(dir, 'cert.pem'));
  assert.equal((await stat(certificate.keyFile)).mode & 0o777, 0o600);
  assert.equal(await readFile(certificate.keyFile, 'utf8'), certificate.key);
  assert.equal(await readFile(certificate.certFile, 'utf8'), certificate.cert);

  const x509 = new X509Certificate(certificate.cert);
  const names = (x509.subjectAltName ?? '').split(', ');
  assert.ok(names.includes('DNS:localhost'), x509.subjectAltName);
  assert.ok(names.includes('IP Address:127.0.0.1'), x509.subjectAltName);
  assert.ok(names.includes('IP Address:0:0:0:0:0:0:0:1'), x509.subjectAltName);
  assert.ok(x509.checkPrivateKey(createPrivateKey(certificate.key)));
});

test('signs the certificate with SHA-256 and makes it valid for about a year', async () => {
  const { cert } = await loadOrCreateCertificate(freshDir());
  const x509 = new X509Certificate(cert);
  assert.ok(x509.raw.includes(ECDSA_SHA256));
  assert.ok(!x509.raw.includes(ECDSA_SHA1));
  assert.ok(x509.verify(x509.publicKey), 'self-signed');
  const days = (Date.parse(x509.validTo) - Date.now()) / 86_400_000;
  assert.ok(days > 360 && days < 370, `valid for ${days} days`);
  assert.equal(x509.ca, false);
});

test('reports the base64 SHA-256 of the certificate public key for the SPKI list', async () => {
  const { cert, spki } = await loadOrCreateCertificate(freshDir());
  const der = new X509Certificate(cert).publicKey.export({ type: 'spki', format: 'der' });
  assert.equal(spki, createHash('sha256').update(der).digest('base64'));
});

test('reuses the key and certificate on the next start', async () => {
  const dir = freshDir();
  const first = await loadOrCreateCertificate(dir);
  const second = await loadOrCreateCertificate(dir);
  assert.equal(second.created, false);
  assert.equal(second.key, first.key);
  assert.equal(second.cert, first.cert);
  assert.equal(second.spki, first.spki);
});

test('replaces a certificate that expires within a day', async () => {
  const dir = freshDir();
  await loadOrCreateCertificate(dir);
  const expiring = await selfsigned.generate([{ name: 'commonName', value: 'localhost' }], {
    keyType: 'ec',
    algorithm: 'sha256',
    notAfterDate: new Date(Date.now() + 60 * 60 * 1000),
  });
  await writeFile(join(dir, 'key.pem'), expiring.private);
  await writeFile(join(dir, 'cert.pem'), expiring.cert);
  const renewed = await loadOrCreateCertificate(dir);
  assert.equal(renewed.created, true);
  assert.notEqual(renewed.cert, expiring.cert);
  assert.ok(Date.parse(new X509Certificate(renewed.cert).validTo) > Date.now() + 300 * 86_400_000);
});

test('a cert.pem that is not a certificate is a ConfigError naming it, and is left alone', async () => {
  const dir = freshDir();
  const { certFile } = await loadOrCreateCertificate(dir);
  await writeFile(certFile, 'not a certificate\n');
  await assert.rejects(loadOrCreateCertificate(dir), (error: unknown) => {
    assert.ok(error instanceof ConfigError);
    assert.ok(error.message.includes(certFile), error.message);
    return true;
  });
  assert.equal(await readFile(certFile, 'utf8'), 'not a certificate\n');
});

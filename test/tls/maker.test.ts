import assert from 'node:assert/strict';
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { test } from 'node:test';
import { createMaker, makeApart } from '../../src/tls/maker.ts';

const now = Date.now();
const CA_JOB = {
  make: 'ca',
  ca: {
    commonName: 'Maker test CA',
    dnsNames: ['localhost'],
    ipRanges: ['127.0.0.0/8'],
    now,
    days: 30,
  },
} as const;

test('one maker makes a CA, then a P-256 certificate that it signs, and exits when closed', async () => {
  const maker = createMaker();
  const ca = await maker.make(CA_JOB);
  const leaf = await maker.make({
    make: 'leaf',
    leaf: { ca, dnsNames: ['localhost'], ips: ['127.0.0.1'], now, days: 10 },
  });
  await maker.close();
  const authority = new X509Certificate(ca.cert);
  const cert = new X509Certificate(leaf.cert);
  assert.ok(authority.ca && authority.checkPrivateKey(createPrivateKey(ca.key)));
  assert.ok(cert.checkIssued(authority) && cert.verify(authority.publicKey));
  assert.ok(cert.checkPrivateKey(createPrivateKey(leaf.key)));
  assert.equal(createPrivateKey(leaf.key).asymmetricKeyDetails?.namedCurve, 'prime256v1');
  assert.equal(cert.subjectAltName, 'DNS:localhost, IP Address:127.0.0.1');
});

test('a job the maker cannot do fails with its exit status instead of waiting for an answer', async () => {
  const ca = await makeApart(CA_JOB);
  const broken = { ca: { cert: ca.cert, key: 'not a key' }, dnsNames: ['localhost'], ips: [] };
  await assert.rejects(
    makeApart({ make: 'leaf', leaf: { ...broken, now, days: 10 } }),
    /^Error: the certificate maker failed \(exit 1\)$/,
  );
});

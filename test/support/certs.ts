import { createPrivateKey } from 'node:crypto';
import { once } from 'node:events';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { checkServerIdentity, connect } from 'node:tls';
import * as x509 from '@peculiar/x509';
import { makeCa, makeLeaf } from '../../src/tls/x509.ts';

const EC = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };

/**
 * The same CA (subject, key, serial, validity, every other extension) without its name
 * constraints: what a leaf would verify against if the constraints did nothing.
 */
export async function withoutNameConstraints(caPem: string, caKeyPem: string): Promise<string> {
  const ca = new x509.X509Certificate(caPem);
  const der = createPrivateKey(caKeyPem).export({ type: 'pkcs8', format: 'der' });
  const privateKey = await crypto.subtle.importKey('pkcs8', der, EC, false, ['sign']);
  const publicKey = await ca.publicKey.export(EC, ['verify']);
  const twin = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: ca.serialNumber,
    name: ca.subject,
    notBefore: ca.notBefore,
    notAfter: ca.notAfter,
    keys: { privateKey, publicKey },
    signingAlgorithm: EC,
    extensions: ca.extensions.filter((extension) => extension.type !== '2.5.29.30'),
  });
  return twin.toString('pem');
}

/**
 * Serves `pair` over HTTPS on 127.0.0.1 and connects Node's TLS client to it, trusting only
 * `ca` and checking `name` (a host name sent as SNI, or an IP address): "ok" or the error.
 */
export async function verifyWith(
  ca: string,
  pair: { key: string; cert: string },
  name: string,
): Promise<string> {
  const server = createServer(pair, (_req, res) => res.end('ok'));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  try {
    const { port } = server.address() as AddressInfo;
    const isAddress = /^[\d.]+$|:/.test(name);
    const socket = connect({
      host: '127.0.0.1',
      port,
      ca,
      ...(isAddress ? {} : { servername: name }),
      // The default check, but against `name` whatever address the socket went to.
      checkServerIdentity: (_host, cert) => checkServerIdentity(name, cert),
    });
    return await new Promise<string>((resolve) => {
      socket.once('secureConnect', () => resolve('ok'));
      socket.once('error', (error) => resolve(error.message));
    }).finally(() => socket.destroy());
  } finally {
    server.close();
  }
}

/** A test CA of the local kind and the leaves it signs: certificates "of your own" for tests. */
export async function testAuthority() {
  const ca = await makeCa({
    commonName: 'Test CA',
    dnsNames: ['localhost'],
    ipRanges: ['127.0.0.0/8'],
    now: Date.now(),
    days: 30,
  });
  return {
    ca: ca.cert,
    /** A localhost leaf valid from `now` for `days` (in the past, for an expired one). */
    leaf: (days = 90, now = Date.now()) =>
      makeLeaf({ ca, dnsNames: ['localhost'], ips: ['127.0.0.1'], now, days }),
  };
}

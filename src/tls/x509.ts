// Makes certificates: the CA with @peculiar/x509, because only it can write name constraints
// (selfsigned 5 drops extensions it does not know), and the server's certificate with selfsigned,
// which the CA signs. The server loads this module in its certificate maker only (maker.ts).
import { KeyObject } from 'node:crypto';
import { AsnConvert } from '@peculiar/asn1-schema';
import { GeneralName, GeneralSubtree, GeneralSubtrees, NameConstraints } from '@peculiar/asn1-x509';
import * as x509 from '@peculiar/x509';
import { generate } from 'selfsigned';

/** A certificate and its private key, both PEM. */
export interface Pem {
  readonly cert: string;
  readonly key: string;
}

const EC = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
const HOUR = 60 * 60 * 1000;
const DAY = 24 * HOUR;
const crypto = globalThis.crypto;
// selfsigned's subjectAltName types: the GeneralName tags of RFC 5280 §4.2.1.6.
const [DNS, IP] = [2, 7] as const;

/** What the CA is for: its name, the names and address ranges it may certify, its life. */
export interface CaOptions {
  commonName: string;
  dnsNames: readonly string[];
  ipRanges: readonly string[];
  now: number;
  days: number;
}

/** The server's certificate: the CA that signs it, the names and addresses, its life. */
export interface LeafOptions {
  ca: Pem;
  dnsNames: readonly string[];
  ips: readonly string[];
  now: number;
  days: number;
}

/**
 * A CA that may sign server certificates only (pathlen 0), and only for the permitted names and
 * address ranges (RFC 5280 §4.2.1.10, critical, so a client that cannot check it must refuse).
 */
export async function makeCa(options: CaOptions): Promise<Pem> {
  const keys = await crypto.subtle.generateKey(EC, true, ['sign', 'verify']);
  const permitted = [
    ...options.dnsNames.map((dNSName) => new GeneralName({ dNSName })),
    ...options.ipRanges.map((iPAddress) => new GeneralName({ iPAddress })),
  ];
  const constraints = new NameConstraints({
    permittedSubtrees: new GeneralSubtrees(permitted.map((base) => new GeneralSubtree({ base }))),
  });
  const notBefore = new Date(options.now - HOUR);
  const cert = await x509.X509CertificateGenerator.createSelfSigned(
    {
      serialNumber: serial(),
      name: [{ CN: [options.commonName] }, { O: ['simple-web-push-server'] }],
      notBefore,
      notAfter: new Date(notBefore.getTime() + options.days * DAY),
      keys,
      signingAlgorithm: EC,
      extensions: [
        new x509.BasicConstraintsExtension(true, 0, true),
        new x509.KeyUsagesExtension(
          x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign,
          true,
        ),
        new x509.Extension('2.5.29.30', true, AsnConvert.serialize(constraints)),
        await x509.SubjectKeyIdentifierExtension.create(keys.publicKey, false, crypto),
      ],
    },
    crypto,
  );
  return { cert: cert.toString('pem'), key: pemKey(keys.privateKey) };
}

/** A server certificate (serverAuth) for `dnsNames` and `ips`, signed by the CA in `ca`. */
export async function makeLeaf(options: LeafOptions): Promise<Pem> {
  const notBefore = new Date(options.now - HOUR);
  const made = await generate(
    // A CN that every verifier accepts under the CA's constraints: OpenSSL checks a CN that
    // looks like a host name against them, Chromium ignores it.
    [
      { name: 'commonName', value: 'localhost' },
      { name: 'organizationName', value: 'simple-web-push-server' },
    ],
    {
      ca: options.ca,
      keyType: 'ec',
      curve: 'P-256',
      algorithm: 'sha256',
      notBeforeDate: notBefore,
      notAfterDate: new Date(notBefore.getTime() + options.days * DAY),
      extensions: [
        { name: 'basicConstraints', cA: false, critical: true },
        { name: 'keyUsage', digitalSignature: true, critical: true },
        { name: 'extKeyUsage', serverAuth: true },
        {
          name: 'subjectAltName',
          altNames: [
            ...options.dnsNames.map((value) => ({ type: DNS, value })),
            ...options.ips.map((ip) => ({ type: IP, ip })),
          ],
        },
      ],
    },
  );
  return { cert: made.cert, key: made.private };
}

/** 16 random bytes, first one 0x40-0x7f: positive and minimally encoded, as RFC 5280 §4.1.2.2 asks. */
function serial(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  bytes[0] = ((bytes[0] ?? 0) & 0x3f) | 0x40;
  return Buffer.from(bytes).toString('hex');
}

function pemKey(key: Parameters<typeof KeyObject.from>[0]): string {
  return KeyObject.from(key).export({ type: 'pkcs8', format: 'pem' }) as string;
}

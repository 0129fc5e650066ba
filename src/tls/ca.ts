import type { X509Certificate } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { ConfigError } from '../errors.ts';
import { readIfExists, writeFileAtomic } from '../store/file/files.ts';
import { type Make, makeApart } from './maker.ts';
import { permittedBy } from './name-constraints.ts';
import { day, keyMatches, parseCertificate } from './pem.ts';

/**
 * The DNS names the local CA may certify, in RFC 5280's form: each permits itself and every name
 * under it ("local" permits "pi.local"). None of them can be a public web site's name.
 */
export const LOCAL_DNS: readonly string[] = ['localhost', 'local', 'lan', 'home.arpa', 'internal'];
/** The addresses it may certify: loopback, private (RFC 1918, RFC 4193) and link-local. */
export const PRIVATE_RANGES: readonly string[] = [
  '127.0.0.0/8',
  '::1/128',
  '10.0.0.0/8',
  '172.16.0.0/12',
  '192.168.0.0/16',
  '169.254.0.0/16',
  'fc00::/7',
  'fe80::/10',
];
const CA_DAYS = 3650;
const DAY = 24 * 60 * 60 * 1000;

/** certs/ca.pem and certs/ca-key.pem: the authority that phones trust once. */
export interface LocalCa {
  readonly cert: X509Certificate;
  /** ca.pem as it is on disk: what GET /ca.crt serves. */
  readonly pem: string;
  readonly key: string;
  readonly certFile: string;
  readonly keyFile: string;
  /** Whether a DNS name or IP address may be in a certificate this CA signs. */
  permits(name: string): boolean;
}

/**
 * Loads the CA in `certDir`, or makes one (both files, mode 0600) when neither file is there.
 * It is never replaced: a CA that is broken, or half there, is an error that says what to do.
 */
export async function loadOrCreateCa(
  certDir: string,
  options: {
    hostName: string;
    extraNames: readonly string[];
    now: number;
    /** Where the certificate is made: a maker of its own unless the caller has one. */
    make?: Make;
  },
): Promise<{ ca: LocalCa; created: boolean }> {
  const certFile = join(certDir, 'ca.pem');
  const keyFile = join(certDir, 'ca-key.pem');
  const [pem, key] = await Promise.all([readIfExists(certFile), readIfExists(keyFile)]);
  if (pem && key) return { ca: check(pem, key, certFile, keyFile), created: false };
  if (pem || key) {
    const [there, missing] = pem ? [certFile, keyFile] : [keyFile, certFile];
    throw new ConfigError(
      `${missing} is missing beside ${there}: put it back, or remove ${there} too to make a new CA (phones must then trust the new one)`,
    );
  }
  const { make = makeApart } = options;
  const made = await make({
    make: 'ca',
    ca: {
      commonName: `Simple Web Push local CA (${options.hostName || 'this machine'})`,
      dnsNames: [...LOCAL_DNS, ...options.extraNames.filter((name) => !underLocal(name))],
      ipRanges: PRIVATE_RANGES,
      now: options.now,
      days: CA_DAYS,
    },
  });
  await mkdir(certDir, { recursive: true, mode: 0o700 });
  await writeFileAtomic(keyFile, made.key, 0o600);
  await writeFileAtomic(certFile, made.cert, 0o600);
  return { ca: check(made.cert, made.key, certFile, keyFile), created: true };
}

/** A warning line when the CA has expired or will within 30 days; it is never replaced by itself. */
export function caExpiryWarning(ca: LocalCa, now: number): string | undefined {
  const expires = Date.parse(ca.cert.validTo);
  if (expires - now > 30 * DAY) return undefined;
  const when = expires > now ? 'expires' : 'expired';
  return `warning: ${ca.certFile} ${when} on ${day(expires)}; to make a new CA remove ${ca.certFile} and ${ca.keyFile}, restart, and trust the new one on each phone`;
}

function check(pem: string, key: string, certFile: string, keyFile: string): LocalCa {
  const cert = parseCertificate(pem, `${certFile} is not a PEM certificate`);
  if (!cert.ca) throw new ConfigError(`${certFile} is not a CA certificate`);
  if (!keyMatches(cert, key))
    throw new ConfigError(`${keyFile} is not the private key of ${certFile}`);
  return { cert, pem, key, certFile, keyFile, permits: permittedBy(cert) };
}

function underLocal(name: string): boolean {
  return LOCAL_DNS.some((local) => name === local || name.endsWith(`.${local}`));
}

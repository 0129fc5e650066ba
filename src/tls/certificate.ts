import { X509Certificate } from 'node:crypto';
import { isIP } from 'node:net';
import { hostname } from 'node:os';
import { join } from 'node:path';
import type { Config } from '../config.ts';
import { ConfigError } from '../errors.ts';
import { readIfExists, writeFileAtomic } from '../store/file/files.ts';
import { caExpiryWarning, type LocalCa, loadOrCreateCa } from './ca.ts';
import { type Make, withMaker } from './maker.ts';
import { hostNames, lanAddresses } from './network.ts';
import { loadOwnCertificate } from './own-cert.ts';
import { day, keyMatches, parseCertificate } from './pem.ts';

/** What the HTTPS server needs, and what else start-up reports. */
export interface ServerTls {
  readonly key: string;
  readonly cert: string;
  /** certs/ca.pem, for GET /ca.crt; absent with TLS_CERT_FILE. */
  readonly caPem?: string;
  /** Private key files this server made, whose mode start-up checks. */
  readonly keyFiles: readonly string[];
}

/** What the machine looks like; tests pass their own. */
export interface TlsOptions {
  addresses?: readonly string[];
  hostName?: string;
  now?: number;
}

const LEAF_DAYS = 397; // the most that Apple and the CA/Browser Forum accept for a server certificate
const RENEW_DAYS = 30;
const DAY = 24 * 60 * 60 * 1000;

/**
 * The server's certificate: TLS_CERT_FILE/TLS_KEY_FILE as they are, or certs/cert.pem issued by
 * the local CA, made or re-issued when it is missing, expiring, from another CA or missing a
 * current name or address. Says in `log` what it made, and why. Also what SIGHUP runs.
 */
export async function loadTls(
  config: Config,
  log: (line: string) => void,
  options: TlsOptions = {},
): Promise<ServerTls> {
  const now = options.now ?? Date.now();
  if (config.tlsCertFile && config.tlsKeyFile) {
    return {
      ...(await loadOwnCertificate(config.tlsCertFile, config.tlsKeyFile, log, now)),
      keyFiles: [],
    };
  }
  // One maker for the CA and the certificate of a first start, gone before the server listens.
  return withMaker((make) => loadLocal(config, log, { ...options, now }, make));
}

async function loadLocal(
  config: Config,
  log: (line: string) => void,
  options: TlsOptions & { now: number },
  make: Make,
): Promise<ServerTls> {
  const { now } = options;
  const hostName = options.hostName ?? hostname();
  const wanted = wantedNames(hostName, options.addresses ?? lanAddresses(), config.tlsNames);
  const keyFile = join(config.certDir, 'key.pem');
  const certFile = join(config.certDir, 'cert.pem');
  const [key, cert] = await Promise.all([readIfExists(keyFile), readIfExists(certFile)]);
  const leaf = key && cert ? parseLeaf(cert, key, certFile, keyFile) : undefined;
  const [machine = ''] = hostNames(hostName);
  const { ca, created } = await loadOrCreateCa(config.certDir, {
    hostName: machine,
    extraNames: [machine, ...config.tlsNames].filter(Boolean),
    now,
    make,
  });
  if (created) log(caLine(ca, leaf, certFile));
  const warning = caExpiryWarning(ca, now);
  if (warning) log(warning);
  const keyFiles = [keyFile, ca.keyFile];
  const covered = wanted.filter((name) => ca.permits(name));
  const left = wanted.filter((name) => !covered.includes(name));
  if (left.length > 0) {
    log(
      `Not in ${certFile}: ${left.join(', ')} (${ca.certFile} certifies only local names and private addresses: see TLS_NAMES in the README).`,
    );
  }
  const reason = leaf ? staleBecause(leaf, ca, covered, now) : undefined;
  if (leaf && key && cert && !reason) return { key, cert, caPem: ca.pem, keyFiles };

  // Not past the CA's own end: a verifier would refuse the certificate from then on anyway.
  const days = Math.min(LEAF_DAYS, Math.floor((Date.parse(ca.cert.validTo) - now) / DAY));
  const made = await make({
    make: 'leaf',
    leaf: {
      ca: { cert: ca.pem, key: ca.key },
      dnsNames: covered.filter((name) => !isIP(name)),
      ips: covered.filter((name) => isIP(name)),
      now,
      days,
    },
  });
  // Two renames: a crash between them leaves a pair that does not match, which the next start
  // reports in one line (remove both files to make a new pair).
  await writeFileAtomic(keyFile, made.key, 0o600);
  await writeFileAtomic(certFile, made.cert, 0o600);
  const until = day(Date.parse(new X509Certificate(made.cert).validTo));
  const why = reason ? `: ${reason}` : '';
  log(
    `${leaf ? 'Re-issued' : 'Made'} ${certFile} for ${covered.join(', ')} (until ${until})${why}.`,
  );
  return { key: made.key, cert: made.cert, caPem: ca.pem, keyFiles };
}

/** The names and addresses the certificate should cover, DNS names first. */
export function wantedNames(
  hostName: string,
  addresses: readonly string[],
  tlsNames: readonly string[],
): string[] {
  const names = [
    'localhost',
    ...hostNames(hostName),
    ...tlsNames,
    '127.0.0.1',
    '::1',
    ...addresses,
  ];
  return [...new Set(names)];
}

function caLine(ca: LocalCa, leaf: X509Certificate | undefined, certFile: string): string {
  const what = `${ca.certFile} (SHA-256 ${ca.cert.fingerprint256})`;
  if (leaf) {
    const old = leaf.checkIssued(leaf)
      ? 'self-signed'
      : `issued by ${leaf.issuer.replace(/\n/g, ', ')}`;
    return `Moved to a local CA: ${certFile} was ${old}; made ${what} to issue it. Trust ca.pem once on each phone (see the README).`;
  }
  return `Made a local certificate authority: ${what}, until ${day(Date.parse(ca.cert.validTo))}. Trust it once on each phone (see the README).`;
}

function staleBecause(
  leaf: X509Certificate,
  ca: LocalCa,
  covered: readonly string[],
  now: number,
): string | undefined {
  if (!leaf.checkIssued(ca.cert) || !leaf.verify(ca.cert.publicKey)) {
    return `the old one was not issued by ${ca.certFile}`;
  }
  const expires = Date.parse(leaf.validTo);
  if (expires - now < RENEW_DAYS * DAY) {
    return `the old one ${expires > now ? 'expires' : 'expired'} on ${day(expires)}`;
  }
  const missing = covered.filter((name) =>
    isIP(name)
      ? leaf.checkIP(name) === undefined
      : leaf.checkHost(name, { subject: 'never', wildcards: false }) === undefined,
  );
  if (missing.length > 0) return `the old one did not cover ${missing.join(', ')}`;
  return undefined;
}

function parseLeaf(cert: string, key: string, certFile: string, keyFile: string): X509Certificate {
  const x509 = parseCertificate(
    cert,
    `${certFile} is not a PEM certificate; remove ${certFile} to make a new one`,
  );
  if (!keyMatches(x509, key)) {
    throw new ConfigError(
      `${keyFile} is not the private key of cert.pem beside it; remove both to make a new pair`,
    );
  }
  return x509;
}

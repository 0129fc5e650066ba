import { createHash, createPrivateKey, X509Certificate } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { ConfigError } from './errors.ts';
import { readIfExists, writeFileAtomic } from './files.ts';

export interface Certificate {
  readonly key: string;
  readonly cert: string;
  readonly keyFile: string;
  readonly certFile: string;
  /** base64 SHA-256 of the public key, for Chromium's --ignore-certificate-errors-spki-list. */
  readonly spki: string;
  readonly created: boolean;
}

const DAY = 24 * 60 * 60 * 1000;

/** Loads certs/key.pem + cert.pem, or makes a self-signed pair for this machine when missing or expired. */
export async function loadOrCreateCertificate(certDir: string): Promise<Certificate> {
  const keyFile = join(certDir, 'key.pem');
  const certFile = join(certDir, 'cert.pem');
  const [key, cert] = await Promise.all([readIfExists(keyFile), readIfExists(certFile)]);
  if (key && cert) {
    const x509 = parse(cert, certFile);
    checkKey(x509, key, keyFile);
    if (Date.parse(x509.validTo) > Date.now() + DAY) {
      return { key, cert, keyFile, certFile, spki: spkiHash(x509), created: false };
    }
  }
  const made = await generateCertificate();
  await mkdir(certDir, { recursive: true, mode: 0o700 });
  await writeFileAtomic(keyFile, made.private, 0o600);
  await writeFileAtomic(certFile, made.cert, 0o644);
  const spki = spkiHash(parse(made.cert, certFile));
  return { key: made.private, cert: made.cert, keyFile, certFile, spki, created: true };
}

/** The names the certificate covers: loopback, plus this machine's name for phones on the LAN. */
export function certificateNames(): string[] {
  const name = hostname().toLowerCase();
  const local = name.includes('.') ? [name] : [name, `${name}.local`];
  return ['localhost', ...local.filter((n) => /^[a-z0-9.-]+$/.test(n) && n !== 'localhost')];
}

async function generateCertificate() {
  const names = certificateNames();
  // Loaded only to make a certificate: it and its X.509 code cost ~16 MB of memory at every start.
  const { default: selfsigned } = await import('selfsigned');
  return selfsigned.generate([{ name: 'commonName', value: 'localhost' }], {
    keyType: 'ec',
    algorithm: 'sha256',
    // Apple caps trusted server certificates at 825 days; a year keeps every browser happy.
    notAfterDate: new Date(Date.now() + 365 * DAY),
    extensions: [
      { name: 'basicConstraints', cA: false },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true },
      { name: 'extKeyUsage', serverAuth: true },
      {
        name: 'subjectAltName',
        altNames: [
          ...names.map((value) => ({ type: 2 as const, value })),
          { type: 7 as const, ip: '127.0.0.1' },
          { type: 7 as const, ip: '::1' },
        ],
      },
    ],
  });
}

function parse(cert: string, file: string): X509Certificate {
  try {
    return new X509Certificate(cert);
  } catch {
    throw new ConfigError(`${file} is not a PEM certificate; remove ${file} to make a new one`);
  }
}

/** A broken or foreign key.pem would otherwise fail later inside OpenSSL, with a stack trace. */
function checkKey(x509: X509Certificate, key: string, keyFile: string): void {
  let matches = false;
  try {
    matches = x509.checkPrivateKey(createPrivateKey(key));
  } catch {}
  if (!matches) {
    throw new ConfigError(
      `${keyFile} is not the private key of cert.pem beside it; remove both to make a new pair`,
    );
  }
}

function spkiHash(x509: X509Certificate): string {
  const der = x509.publicKey.export({ type: 'spki', format: 'der' });
  return createHash('sha256').update(der).digest('base64');
}

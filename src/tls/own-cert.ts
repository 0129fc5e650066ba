import { ConfigError } from '../errors.ts';
import { readIfExists } from '../store/file/files.ts';
import { day, keyMatches, parseCertificate } from './pem.ts';

const WARN_DAYS = 14;
const DAY = 24 * 60 * 60 * 1000;

/**
 * The operator's own certificate (TLS_CERT_FILE, TLS_KEY_FILE; certbot's fullchain.pem and
 * privkey.pem, say). Only read: never written, replaced or chmod-ed, even when expired.
 * A file that cannot be read, or a key that is not the certificate's, is a ConfigError.
 */
export async function loadOwnCertificate(
  certFile: string,
  keyFile: string,
  log: (line: string) => void,
  now: number,
): Promise<{ key: string; cert: string }> {
  const [cert, key] = await Promise.all([read(certFile), read(keyFile)]);
  const x509 = parseCertificate(cert, `${certFile} (TLS_CERT_FILE) is not a PEM certificate`);
  if (!keyMatches(x509, key)) {
    throw new ConfigError(
      `${keyFile} (TLS_KEY_FILE) is not the private key of ${certFile} (TLS_CERT_FILE)`,
    );
  }
  const expires = Date.parse(x509.validTo);
  if (expires <= now) {
    log(`warning: ${certFile} expired on ${day(expires)}: renew it, then send SIGHUP to reload it`);
  } else if (expires - now < WARN_DAYS * DAY) {
    const days = Math.floor((expires - now) / DAY);
    log(
      `warning: ${certFile} expires on ${day(expires)}, in ${days} day(s): renew it, then send SIGHUP`,
    );
  }
  const names = (x509.subjectAltName ?? '').replace(/(DNS|IP Address):/g, '');
  log(
    `Using ${certFile} (TLS_CERT_FILE) for ${names || x509.subject.replace(/\n/g, ', ')}, until ${day(expires)}.`,
  );
  return { key, cert };
}

async function read(file: string): Promise<string> {
  const text = await readIfExists(file);
  if (text === undefined) throw new ConfigError(`cannot read ${file} (ENOENT)`);
  return text;
}

import { X509Certificate } from 'node:crypto';
import { isIP, isIPv4 } from 'node:net';
import { networkInterfaces } from 'node:os';

/**
 * This machine's addresses that other devices on the LAN can reach: not loopback (internal) and
 * not link-local (169.254/16, fe80::/10), which change on every boot and no phone is given.
 */
export function lanAddresses(interfaces = networkInterfaces()): string[] {
  const found = new Set<string>();
  for (const entries of Object.values(interfaces)) {
    for (const { address, internal } of entries ?? []) {
      if (internal || /^169\.254\./.test(address) || /^fe[89ab][0-9a-f]:/i.test(address)) continue;
      found.add(address);
    }
  }
  // IPv4 first: it is what a person types, and what a phone on a home network has.
  return [...found].sort((a, b) => Number(isIPv4(b)) - Number(isIPv4(a)));
}

/** Whether a socket's remote address is this machine itself: 127.0.0.0/8, ::1 or ::ffff:127.x. */
export function isLoopback(address: string | undefined): boolean {
  if (!address) return false;
  return /^(::ffff:)?127\.\d+\.\d+\.\d+$/i.test(address) || address === '::1';
}

/**
 * This machine's name as given, and `<first label>.local`, the name mDNS (Bonjour, Avahi) answers
 * to; nothing when the name is not a usable DNS name.
 */
export function hostNames(hostName: string): string[] {
  const name = hostName.toLowerCase();
  const label = '[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?';
  if (name === 'localhost' || !new RegExp(`^${label}(\\.${label})*$`).test(name)) return [];
  return [...new Set([name, `${name.split('.')[0]}.local`])];
}

/**
 * The LAN URLs of an HTTPS server listening on `host`: every LAN address for 0.0.0.0 (IPv4 only)
 * and ::, the address itself for a LAN address, none for loopback or a name.
 */
export function lanUrls(host: string, port: number, addresses = lanAddresses()): string[] {
  const reachable =
    host === '0.0.0.0'
      ? addresses.filter((address) => isIPv4(address))
      : host === '::'
        ? addresses
        : addresses.filter((address) => address === host);
  return reachable.map(
    (address) => `https://${isIPv4(address) ? address : `[${address}]`}:${port}`,
  );
}

/** Start-up lines naming each LAN URL (and whether `cert` covers it), or how to open the LAN. */
export function lanLines(
  host: string,
  port: number,
  cert: string,
  addresses = lanAddresses(),
): string[] {
  const urls = lanUrls(host, port, addresses);
  if (urls.length === 0) {
    const loopback = host === 'localhost' || (isIP(host) !== 0 && isLoopback(host));
    return loopback ? ['LAN: off; to open it from a phone, start with HOST=0.0.0.0'] : [];
  }
  const x509 = new X509Certificate(cert);
  return urls.map((url) => {
    const address = new URL(url).hostname.replace(/^\[|\]$/g, '');
    const covered = x509.checkIP(address) !== undefined;
    return `LAN: ${url}${covered ? '' : ' (not in the certificate: a phone will refuse it)'}`;
  });
}

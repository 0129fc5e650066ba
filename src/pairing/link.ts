import { X509Certificate } from 'node:crypto';
import { isIP } from 'node:net';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { firstOrigin, urlHost } from '../send/origin.ts';
import { readIfExists } from '../store/file/files.ts';
import { hostNames, isLoopback, lanAddresses, lanUrls } from '../tls/network.ts';

/** Where a phone reaches the server, or why it cannot: HOST is loopback, or no LAN address. */
export type LanOrigin =
  | { readonly origin: string }
  | { readonly problem: 'loopback-only' | 'no-address'; readonly message: string };

/** The HTTPS origin a phone on the LAN opens, for the server listening on `host`:`port`. */
export function lanOrigin(host: string, port: number, addresses = lanAddresses()): LanOrigin {
  const bare = host.replace(/^\[|\]$/g, '');
  if (bare.toLowerCase() === 'localhost' || isLoopback(bare)) {
    return {
      problem: 'loopback-only',
      message: `the server listens on ${host} only, which a phone cannot reach: restart it with HOST=0.0.0.0 npm start`,
    };
  }
  // A name (HOST=myserver.lan) or one address is what the phone opens; 0.0.0.0 and :: mean
  // every address, of which the first LAN one.
  if (bare !== '0.0.0.0' && bare !== '::') {
    return { origin: `https://${isIP(bare) === 6 ? `[${bare}]` : bare}:${port}` };
  }
  const [origin] = lanUrls(bare, port, addresses);
  if (origin) return { origin };
  return {
    problem: 'no-address',
    message:
      'this machine has no address on a local network: connect it to Wi-Fi or Ethernet, then make a new link',
  };
}

/** Where the server listens: its HTTPS address and the ports it got (0 for HTTP when it is off). */
export interface Listening {
  host: string;
  httpsPort: number;
  httpPort: number;
  /** Extra names its certificate covers (TLS_NAMES). */
  tlsNames: readonly string[];
}

/**
 * The origins a browser may open this server at, the first (send/origin.ts firstOrigin) first:
 * the loopback HTTP URLs, the HTTPS URL and, when the LAN can reach it, its LAN URLs and the
 * names its certificate covers (this machine's name, `<name>.local`, TLS_NAMES).
 */
export function ownOrigins(
  { host, httpsPort, httpPort, tlsNames }: Listening,
  addresses = lanAddresses(),
  machine = hostname(),
): [string, ...string[]] {
  const http = httpPort === 0 ? [] : ['localhost', '127.0.0.1', '[::1]'];
  const onLan = !('problem' in lanOrigin(host, httpsPort, addresses));
  const names = onLan ? [...hostNames(machine), ...tlsNames] : [];
  const urls = [
    ...http.map((name) => `http://${name}:${httpPort}`),
    `https://${urlHost(host)}:${httpsPort}`,
    ...lanUrls(host.replace(/^\[|\]$/g, ''), httpsPort, addresses),
    ...names.map((name) => `https://${name}:${httpsPort}`),
  ];
  // As browsers send them in the Origin header: lower case, no default port.
  const first = new URL(firstOrigin(host, httpsPort, httpPort)).origin;
  const others = urls.map((url) => new URL(url).origin).filter((origin) => origin !== first);
  return [first, ...new Set(others)];
}

/** The link a phone opens to pair: the token rides in the fragment, which no server log sees. */
export function pairingUrl(origin: string, token: string): string {
  return `${origin}/#pair=${token}`;
}

/** Where a phone downloads the local certificate authority. */
export function caUrl(origin: string): string {
  return `${origin}/ca.crt`;
}

/** The SHA-256 fingerprint (AA:BB:…) of certs/ca.pem, or undefined while there is no CA. */
export async function caFingerprint(certDir: string): Promise<string | undefined> {
  const pem = await readIfExists(join(certDir, 'ca.pem'));
  try {
    return pem ? new X509Certificate(pem).fingerprint256 : undefined;
  } catch {
    return undefined; // a broken ca.pem is reported where it is loaded, at start-up
  }
}

/** A listening address as it goes in a URL: the wildcards become localhost, IPv6 gets brackets. */
export function urlHost(host: string): string {
  if (host === '0.0.0.0' || host === '::') return 'localhost';
  return host.includes(':') ? `[${host}]` : host;
}

/**
 * The origin the server names first at start-up: plain HTTP on localhost, or HTTPS when that is
 * off. Links of a subscription stored without its own origin point here.
 */
export function firstOrigin(host: string, httpsPort: number, httpPort: number): string {
  return httpPort !== 0 ? `http://localhost:${httpPort}` : `https://${urlHost(host)}:${httpsPort}`;
}

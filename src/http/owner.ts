// Who owns the server: its own machine, and whoever holds the send token.
import type { IncomingMessage } from 'node:http';
import { HttpError } from '../errors.ts';
import { isLoopback } from '../tls/network.ts';
import { type RateLimiter, tooMany } from './rate-limit.ts';
import { bearerOf, tokenMatches } from './token.ts';

/**
 * The request comes from this machine's own browser: a loopback socket and a loopback Host
 * header. The Host check stops DNS rebinding: a web page whose name was re-pointed at 127.0.0.1
 * reaches a loopback socket, but its requests carry its own name.
 */
export function fromOwner(req: IncomingMessage): boolean {
  const host = req.headers.host ?? '';
  return (
    isLoopback(req.socket.remoteAddress) && /^(localhost|127\.0\.0\.1|\[::1\])(:\d+)?$/i.test(host)
  );
}

/**
 * The server's own page calling its own origin from this machine. Browsers say so in
 * `Sec-Fetch-Site`, which no page can set: another site's page (a forged form post) says
 * `cross-site`, and scripts send nothing, so they still need the send token.
 */
export function fromOwnersPage(req: IncomingMessage): boolean {
  return fromOwner(req) && req.headers['sec-fetch-site'] === 'same-origin';
}

/**
 * Whether the request carries `Authorization: Bearer <send token>`. A client past its limit of
 * wrong tokens gets 429 first; a wrong token, and a missing one when `missingCounts`, counts
 * toward that limit (429 once it is reached).
 */
export function hasSendToken(
  req: IncomingMessage,
  token: string | undefined,
  failures: RateLimiter,
  { missingCounts }: { missingCounts: boolean },
): boolean {
  const client = req.socket.remoteAddress ?? 'unknown';
  const blocked = failures.waitFor(client);
  if (blocked > 0) throw tooMany(blocked);
  const given = bearerOf(req);
  if (given !== undefined && token !== undefined && tokenMatches(given, token)) return true;
  if (given !== undefined || missingCounts) {
    const wait = failures.take(client);
    if (wait > 0) throw tooMany(wait);
  }
  return false;
}

/**
 * The owner's routes: this machine (fromOwner), or `Authorization: Bearer <send token>` from
 * elsewhere; 403 for anyone else. Wrong tokens count toward `failures` (429 past the limit).
 */
export function requireOwner(
  req: IncomingMessage,
  token: string | undefined,
  failures: RateLimiter,
): void {
  if (fromOwner(req) || hasSendToken(req, token, failures, { missingCounts: false })) return;
  throw new HttpError(
    403,
    'only the server’s owner can see and change its devices: open the page on the server itself (http://localhost), or send "Authorization: Bearer <send token>"',
  );
}

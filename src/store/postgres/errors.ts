// What went wrong with the database, for a person and for a client: where it is (never who or
// with what password), whether an error means it is away, and the 503 that says so.
import pg from 'pg';
import { ConfigError, HttpError } from '../../errors.ts';

/** What a client is told to wait before trying again while the database is away. */
export const RETRY_AFTER_S = 5;

/** `database "app" on db.example.com:5432` from a postgres:// URL, leaving out who and how. */
export function describeDatabase(url: string): string {
  const parsed = new URL(url);
  const socket = parsed.searchParams.get('host');
  const host = socket ?? `${parsed.hostname || 'localhost'}:${parsed.port || '5432'}`;
  const name = decodeURIComponent(parsed.pathname.slice(1)) || decodeURIComponent(parsed.username);
  return `database "${name || 'postgres'}" on ${host}`;
}

/**
 * Whether `error` means the database could not be asked: no connection, a connection lost or
 * timed out, or the server refusing work while it shuts down or starts. An answer to a bad
 * statement (a DatabaseError of any other class) is a bug, not an outage.
 */
export function isUnreachable(error: unknown): boolean {
  if (error instanceof pg.DatabaseError) {
    // SQLSTATE class 08 (connection exception), 57P01-57P03 (shutdown, crash, starting up),
    // 53300 (too many connections).
    return /^(08|57P0[1-3]|53300)/.test(error.code ?? '');
  }
  // Anything else pg rejects with is about the connection (refused, reset, timed out,
  // terminated); a TypeError or RangeError is a bad value given, and an error of ours is ours.
  const ours = error instanceof HttpError || error instanceof ConfigError;
  const programming = error instanceof TypeError || error instanceof RangeError;
  return error instanceof Error && !ours && !programming;
}

/** A 503 with Retry-After for an error that means the database is away; other errors as they are. */
export function unavailableIfLost(error: unknown): unknown {
  return isUnreachable(error) ? unavailable(error) : error;
}

/** The 503 with Retry-After for a lost database. */
export function unavailable(cause: unknown): HttpError {
  return new HttpError(
    503,
    `the database is not reachable; try again in ${RETRY_AFTER_S} seconds`,
    { 'Retry-After': String(RETRY_AFTER_S) },
    { cause },
  );
}

/** The error's message for a log line, with the URL's password left out should it appear. */
export function reasonOf(error: unknown, url: string): string {
  const message =
    error instanceof Error ? error.message || String(error.cause ?? '') : String(error);
  const code = (error as { code?: unknown }).code;
  const text =
    typeof code === 'string' && !message.includes(code) ? `${code}: ${message}` : message;
  const password = decodeURIComponent(new URL(url).password);
  return password ? text.split(password).join('***') : text;
}

// A subscription as a row of web_push.subscriptions, and back: the same fields in the same order
// as the file store holds them, so an export reads as subscription.json does.
import { createHash } from 'node:crypto';
import type { LastResult } from '../device-fields.ts';
import { storedFields } from '../device-fields.ts';
import { nameKey, uniqueName } from '../names.ts';
import type { Subscription } from '../subscription.ts';
import type { Query } from './database.ts';

export interface Row {
  endpoint: string;
  expiration_time: number | null;
  p256dh: string;
  auth: string;
  name: string | null;
  added_at: string | null;
  last_result: LastResult | null;
  origin: string | null;
}

export const TABLE = 'web_push.subscriptions';
export const COLUMNS =
  'endpoint, expiration_time, p256dh, auth, name, added_at, last_result, origin';
/** The columns written, in the order of valuesOf. */
export const WRITTEN = `${COLUMNS}, auth_hash`;

/** A row as the Subscription the file store would hold: device fields read as the file's are. */
export function fromRow(row: Row): Subscription {
  const subscription: Subscription = {
    endpoint: row.endpoint,
    expirationTime: row.expiration_time,
    keys: { p256dh: row.p256dh, auth: row.auth },
  };
  const fields = storedFields({
    name: row.name ?? undefined,
    addedAt: row.added_at ?? undefined,
    lastResult: row.last_result ?? undefined,
    origin: row.origin ?? undefined,
  });
  return fields ? { ...subscription, ...fields } : subscription;
}

/** The values of WRITTEN for `subscription`. */
export function valuesOf(subscription: Subscription): unknown[] {
  const { endpoint, expirationTime, keys, name, addedAt, lastResult, origin } = subscription;
  const result = lastResult ? JSON.stringify(lastResult) : null;
  const device = [name ?? null, addedAt ?? null, result, origin ?? null];
  const hash = hashOf(Buffer.from(keys.auth, 'base64url'));
  return [endpoint, expirationTime, keys.p256dh, keys.auth, ...device, hash];
}

/** SHA-256 of an auth secret: how a paired device is looked up (see migrations.ts). */
export function hashOf(secret: Buffer): Buffer {
  return createHash('sha256').update(secret).digest();
}

/**
 * `wanted`, or `wanted 2`, `wanted 3`...: the first name no other entry than `endpoint`'s has,
 * without regard to case (names.ts). Run in a transaction after `lockName`.
 */
export async function freeName(query: Query, wanted: string, endpoint: string): Promise<string> {
  const key = nameKey(wanted);
  // LIKE with the prefix escaped: served by the lower(name) index.
  const prefix = `${key.replace(/[\\%_]/g, (c) => `\\${c}`)} %`;
  const rows = await query<{ key: string }>(
    `SELECT lower(name) AS key FROM ${TABLE}
     WHERE endpoint <> $1 AND (lower(name) = $2 OR lower(name) LIKE $3)`,
    [endpoint, key, prefix],
  );
  const taken = new Set(rows.map((row) => row.key));
  return uniqueName(wanted, (candidate) => taken.has(candidate));
}

/** Two servers naming devices alike at once take turns: each sees the other's name. */
export async function lockName(query: Query, name: string): Promise<void> {
  await query('SELECT pg_advisory_xact_lock(hashtext($1))', [`web_push.name:${nameKey(name)}`]);
}

// Several servers (and CLIs) on one PostgreSQL database: the secrets they must share, a database
// seeded with subscriptions, and a server started on it.
import { copyFile } from 'node:fs/promises';
import { join } from 'node:path';
import { generateKeys, saveKeys } from '../../src/keys.ts';
import { createPairing } from '../../src/pairing/tokens.ts';
import { openPostgresStorage } from '../../src/store/postgres.ts';
import type { Subscription } from '../../src/store/subscription.ts';
import type { Harness } from './harness.ts';
import type { Cluster } from './postgres.ts';
import type { ServerProcess } from './processes.ts';

const SECRETS = ['vapid.json', 'pairing-key'];

/** A fresh folder holding what every server on one database must share: the VAPID and pairing keys. */
export async function sharedSecrets(harness: Pick<Harness, 'newDir'>): Promise<string> {
  const dir = await harness.newDir();
  await saveKeys(join(dir, 'vapid.json'), generateKeys('mailto:ops@example.com'));
  await createPairing({ keyFile: join(dir, 'pairing-key') }).mint();
  return dir;
}

/** A fresh database of `cluster` holding `subscriptions`, oldest first; resolves to its URL. */
export async function seededDatabase(
  cluster: Cluster,
  subscriptions: readonly Subscription[],
): Promise<string> {
  const url = await cluster.database();
  const { store } = await openPostgresStorage(url, () => {});
  try {
    await store.addAll(subscriptions);
  } finally {
    await store.close();
  }
  return url;
}

/** Starts a server on `database` in a folder of its own, with a copy of the shared secrets. */
export async function serverOn(
  harness: Pick<Harness, 'newDir' | 'start'>,
  database: string,
  secrets: string,
  env: Record<string, string> = {},
): Promise<ServerProcess> {
  const dir = await harness.newDir();
  for (const name of SECRETS) await copyFile(join(secrets, name), join(dir, name));
  return harness.start({ dir, env: { DATABASE_URL: database, ...env } });
}

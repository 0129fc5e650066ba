import type { Config } from '../config.ts';
import { openStore } from './file.ts';
import type { Database } from './postgres/database.ts';
import type { SubscriptionStore } from './store.ts';

/** The store and, with DATABASE_URL, the database it lives in (for what else is shared there). */
export interface Storage {
  store: SubscriptionStore;
  database?: Database;
}

/**
 * Opens the store the configuration asks for. The PostgreSQL code, and the `pg` package, load
 * only with DATABASE_URL: without it start-up time, memory and the modules loaded stay the same.
 * `watch` (the server) keeps an eye on the database: see connectDatabase.
 */
export async function openStorage(
  config: Config,
  log: (line: string) => void,
  options: { watch?: boolean } = {},
): Promise<Storage> {
  if (config.databaseUrl) {
    const { openPostgresStorage } = await import('./postgres.ts');
    return openPostgresStorage(config.databaseUrl, log, options);
  }
  return { store: await openStore(config.subscriptionFile) };
}

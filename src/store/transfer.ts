// npm run import and npm run export: a subscription.json into the store, and the store out as one.
import type { HostRule } from '../config.ts';
import { ConfigError, HttpError } from '../errors.ts';
import { storedFields } from './device-fields.ts';
import { readIfExists } from './file/files.ts';
import { CLOSE, EMPTY, OPEN, SEPARATOR } from './file/image.ts';
import { eachPage, type SubscriptionStore } from './store.ts';
import { parseSubscription, type Subscription } from './subscription.ts';

/**
 * The subscriptions of a subscription.json, each checked as POST /api/subscriptions checks it
 * (against `rules`, the push-service allowlist), with their device fields. A bad entry is a
 * ConfigError naming its index and what is wrong: then nothing is imported.
 */
export async function readImport(
  file: string,
  rules: readonly HostRule[],
): Promise<Subscription[]> {
  const text = await readIfExists(file);
  if (text === undefined) throw new ConfigError(`${file} does not exist`);
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    throw new ConfigError(`${file} is not valid JSON; nothing was imported`);
  }
  if (!Array.isArray(data)) {
    throw new ConfigError(`${file} must hold a JSON array of subscriptions; nothing was imported`);
  }
  return data.map((entry, index) => {
    try {
      const checked = parseSubscription(entry, rules);
      // What the server itself wrote beside it (addedAt, lastResult) comes along, types checked;
      // the name as a POST checks it.
      const { name: _, ...fields } = storedFields(entry as Record<string, unknown>) ?? {};
      return { ...checked, ...fields };
    } catch (error) {
      if (!(error instanceof HttpError)) throw error;
      throw new ConfigError(
        `${file}: the entry at index ${index}: ${error.message}; nothing was imported`,
      );
    }
  });
}

/**
 * Writes every stored subscription as subscription.json does (one per line, oldest first), a
 * page at a time: the whole store is never in memory. `write` resolves when it may be called
 * again (the stream drained).
 */
export async function writeExport(
  store: SubscriptionStore,
  write: (chunk: Buffer) => Promise<void>,
): Promise<number> {
  let count = 0;
  for await (const page of eachPage(store)) {
    const lines = page.map((subscription) => JSON.stringify(subscription));
    if (lines.length === 0) continue;
    const start = count === 0 ? OPEN : SEPARATOR;
    count += lines.length;
    await write(Buffer.concat([start, Buffer.from(lines.join(SEPARATOR.toString()))]));
  }
  await write(count === 0 ? EMPTY : CLOSE);
  return count;
}

// Reading subscription.json back: its entries by endpoint, and what tells one version of the file
// from another (the send CLI writes it too).
import { stat } from 'node:fs/promises';
import { ConfigError } from '../../errors.ts';
import { parseShape, type Subscription } from '../subscription.ts';
import { readIfExists } from './files.ts';

/** The file's identity and size: a write by anyone (temp file and rename) changes it. */
export async function versionOf(file: string): Promise<string> {
  const info = await stat(file).catch(() => undefined);
  return info ? `${info.ino}:${info.size}:${info.mtimeMs}` : 'missing';
}

/** The stored subscriptions by endpoint, newest last: a missing file is empty, a broken one an error naming it. */
export async function readStore(file: string): Promise<Map<string, Subscription>> {
  const map = new Map<string, Subscription>();
  for (const subscription of parseFile(file, await readIfExists(file))) {
    map.delete(subscription.endpoint);
    map.set(subscription.endpoint, subscription);
  }
  return map;
}

/** The newest entry: the map keeps insertion order, and has no cheaper way to its end. */
export function lastOf(map: Map<string, Subscription>): Subscription | undefined {
  let last: Subscription | undefined;
  for (const subscription of map.values()) last = subscription;
  return last;
}

function parseFile(file: string, text: string | undefined): Subscription[] {
  if (text === undefined || text.trim() === '') return [];
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    throw new ConfigError(
      `${file} is not valid JSON; fix it or move it away (nothing was changed)`,
    );
  }
  if (!Array.isArray(data))
    throw new ConfigError(`${file} must hold a JSON array of subscriptions`);
  return data.map((entry, index) => {
    try {
      return parseShape(entry);
    } catch (error) {
      throw new ConfigError(`${file}: entry ${index + 1}: ${(error as Error).message}`);
    }
  });
}

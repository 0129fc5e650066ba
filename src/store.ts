import { stat } from 'node:fs/promises';
import { ConfigError, HttpError } from './errors.ts';
import { readIfExists, writeFileAtomic } from './files.ts';
import { withLock } from './lock.ts';
import { parseShape, type Subscription } from './subscription.ts';

/** The subscriptions in subscription.json: newest last, one per endpoint, every write on disk before it resolves. */
export interface SubscriptionStore {
  list(): Subscription[];
  latest(): Subscription | undefined;
  get(endpoint: string): Subscription | undefined;
  /** Adds or replaces (and moves to newest) the subscription for its endpoint. */
  add(subscription: Subscription): Promise<'created' | 'updated'>;
  /** Removes the given endpoints; resolves to how many were stored. */
  remove(endpoints: Iterable<string>): Promise<number>;
  /** Resolves when every write asked for so far is on disk. */
  flush(): Promise<void>;
}

type Change = { add: Subscription } | { remove: string };

/** Opens the store: a missing file is empty; an unreadable or broken one is an error naming it. */
export async function openStore(file: string): Promise<SubscriptionStore> {
  let byEndpoint = await readStore(file);
  let version = await versionOf(file);
  let unsaved: Change[] = [];
  // Each subscription's JSON line, encoded once (entries are immutable) and written with writev:
  // rebuilding one 2 MB string per write made each write 2-4x slower at 10,000 (bench/RESULTS.md).
  const lines = new WeakMap<Subscription, Buffer>();
  const lineOf = (subscription: Subscription): Buffer => {
    const cached = lines.get(subscription);
    if (cached) return cached;
    const line = Buffer.from(JSON.stringify(subscription));
    lines.set(subscription, line);
    return line;
  };

  const apply = (map: Map<string, Subscription>, change: Change): boolean => {
    if ('remove' in change) return map.delete(change.remove);
    const existed = map.delete(change.add.endpoint);
    map.set(change.add.endpoint, change.add);
    return existed;
  };

  const save = () =>
    withLock(file, async () => {
      // The send CLI may have changed the file since: start from it, then replay what is unsaved.
      if ((await versionOf(file)) !== version) {
        const fresh = await readStore(file);
        for (const change of unsaved) apply(fresh, change);
        byEndpoint = fresh;
      }
      unsaved = [];
      await writeFileAtomic(file, serialize([...byEndpoint.values()].map(lineOf)), 0o600);
      version = await versionOf(file);
    });

  // Writes are serialized; changes made while one is in flight are coalesced into the next one.
  let inFlight: Promise<void> = Promise.resolve();
  let next: Promise<void> | undefined;
  const change = (c: Change): { existed: boolean; saved: Promise<void> } => {
    const existed = apply(byEndpoint, c);
    unsaved.push(c);
    next ??= inFlight.then(() => {
      next = undefined;
      return save();
    });
    inFlight = next.catch(() => {});
    const saved = next.catch((error: unknown) => {
      throw new HttpError(500, `could not save ${file}`, {}, { cause: error });
    });
    return { existed, saved };
  };

  return {
    list: () => [...byEndpoint.values()],
    latest: () => [...byEndpoint.values()].at(-1),
    get: (endpoint) => byEndpoint.get(endpoint),
    async add(subscription) {
      const { existed, saved } = change({ add: subscription });
      await saved;
      return existed ? 'updated' : 'created';
    },
    async remove(endpoints) {
      const results = [...new Set(endpoints)]
        .filter((endpoint) => byEndpoint.has(endpoint))
        .map((endpoint) => change({ remove: endpoint }));
      await Promise.all(results.map((r) => r.saved));
      return results.length;
    },
    flush: () => inFlight,
  };
}

async function versionOf(file: string): Promise<string> {
  const info = await stat(file).catch(() => undefined);
  return info ? `${info.ino}:${info.size}:${info.mtimeMs}` : 'missing';
}

async function readStore(file: string): Promise<Map<string, Subscription>> {
  const map = new Map<string, Subscription>();
  for (const subscription of parseFile(file, await readIfExists(file))) {
    map.delete(subscription.endpoint);
    map.set(subscription.endpoint, subscription);
  }
  return map;
}

const OPEN = Buffer.from('[\n');
const SEPARATOR = Buffer.from(',\n');
const CLOSE = Buffer.from('\n]\n');

/** One subscription per line: readable, diff-able, and valid JSON. */
function serialize(lines: Buffer[]): Buffer[] {
  if (lines.length === 0) return [Buffer.from('[]\n')];
  const parts: Buffer[] = [OPEN];
  for (const line of lines) {
    if (parts.length > 1) parts.push(SEPARATOR);
    parts.push(line);
  }
  parts.push(CLOSE);
  return parts;
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

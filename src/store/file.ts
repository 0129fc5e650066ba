import { stat } from 'node:fs/promises';
import { ConfigError, HttpError } from '../errors.ts';
import { readIfExists, writeFileAtomic } from './files.ts';
import { createImage, type StoreImage } from './image.ts';
import { withLock } from './lock.ts';
import { parseShape, type Subscription } from './subscription.ts';

/** The subscriptions in subscription.json: newest last, one per endpoint, every write on disk before it resolves. */
export interface SubscriptionStore {
  list(): Subscription[];
  /** How many are stored, without copying the list. */
  size(): number;
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
  // Each subscription's JSON line, encoded once (entries are immutable).
  const lines = new WeakMap<Subscription, Buffer>();
  const lineOf = (subscription: Subscription): Buffer => {
    const cached = lines.get(subscription);
    if (cached) return cached;
    const line = Buffer.from(JSON.stringify(subscription));
    lines.set(subscription, line);
    return line;
  };
  // The file's next content, changed along with the map; built from the map at the first write
  // and after the file changed underneath.
  let image: StoreImage | undefined;
  let newest = lastOf(byEndpoint);

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
        newest = lastOf(byEndpoint);
        image = undefined;
      }
      unsaved = [];
      image ??= createImage(Array.from(byEndpoint.values(), lineOf));
      // Saves run one at a time: no write of what parts() returned before is still in progress.
      await writeFileAtomic(file, image.parts(), 0o600);
      version = await versionOf(file);
    });

  // Writes are serialized; changes made while one is in flight are coalesced into the next one.
  let inFlight: Promise<void> = Promise.resolve();
  let next: Promise<void> | undefined;
  const change = (c: Change): { existed: boolean; saved: Promise<void> } => {
    const old = byEndpoint.get('add' in c ? c.add.endpoint : c.remove);
    const existed = apply(byEndpoint, c);
    // Every stored entry is in the image when there is one, so its line is cached.
    if (old && image && !image.remove(lineOf(old))) image = undefined;
    if ('add' in c) {
      image?.append(lineOf(c.add));
      newest = c.add;
    } else if (old === newest) {
      newest = lastOf(byEndpoint);
    }
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
    size: () => byEndpoint.size,
    latest: () => newest,
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

/** The newest entry: the map keeps insertion order, and has no cheaper way to its end. */
function lastOf(map: Map<string, Subscription>): Subscription | undefined {
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

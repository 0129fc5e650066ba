import { timingSafeEqual } from 'node:crypto';
import { stat } from 'node:fs/promises';
import { ConfigError, HttpError } from '../errors.ts';
import { readIfExists, writeFileAtomic } from './files.ts';
import { createImage, type StoreImage } from './image.ts';
import { withLock } from './lock.ts';
import { createPositions } from './positions.ts';
import { lastOfEach, type SubscriptionStore, sameSubscription } from './store.ts';
import { parseShape, type Subscription } from './subscription.ts';

type Change = { add: Subscription } | { remove: string };

/**
 * The store in subscription.json, kept in memory as a map in file order. Opening it: a missing
 * file is empty; an unreadable or broken one is an error naming it.
 */
export async function openStore(file: string): Promise<SubscriptionStore> {
  let byEndpoint = await readStore(file);
  let version = await versionOf(file);
  let unsaved: Change[] = [];
  let saveError: unknown;
  const positions = createPositions(byEndpoint);
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
        positions.renumber(fresh, byEndpoint);
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
      positions.place(c.add);
      newest = c.add;
    } else if (old === newest) {
      newest = lastOf(byEndpoint);
    }
    unsaved.push(c);
    next ??= inFlight.then(() => {
      next = undefined;
      return save();
    });
    inFlight = next.then(
      () => {
        saveError = undefined;
      },
      (error: unknown) => {
        saveError = error;
      },
    );
    const saved = next.catch((error: unknown) => {
      throw new HttpError(500, `could not save ${file}`, {}, { cause: error });
    });
    return { existed, saved };
  };

  return {
    size: async () => byEndpoint.size,
    latest: async () => newest,
    get: async (endpoint) => byEndpoint.get(endpoint),
    withAuth: async (secret) => [...byEndpoint.values()].filter((s) => authIs(s, secret)),
    spans: async (size) => positions.spans(byEndpoint, size),
    read: async (span) => positions.read(byEndpoint, span),
    async add(subscription) {
      const { existed, saved } = change({ add: subscription });
      await saved;
      return existed ? 'updated' : 'created';
    },
    async addAll(subscriptions) {
      const counts = { created: 0, updated: 0, unchanged: 0 };
      const changes: Promise<void>[] = [];
      for (const subscription of lastOfEach(subscriptions)) {
        const stored = byEndpoint.get(subscription.endpoint);
        if (stored && sameSubscription(stored, subscription)) {
          counts.unchanged++;
          continue;
        }
        const { existed, saved } = change({ add: subscription });
        counts[existed ? 'updated' : 'created']++;
        changes.push(saved);
      }
      // Coalesced into one write of the file.
      await Promise.all(changes);
      return counts;
    },
    async remove(endpoints) {
      const results = [...new Set(endpoints)]
        .filter((endpoint) => byEndpoint.has(endpoint))
        .map((endpoint) => change({ remove: endpoint }));
      await Promise.all(results.map((r) => r.saved));
      return results.length;
    },
    flush: () => inFlight,
    health: () =>
      saveError === undefined
        ? { ok: true, store: 'file' }
        : { ok: false, store: 'file', reason: `could not save ${file}` },
    where: file,
    close: () => inFlight,
  };
}

// The auth secrets of stored subscriptions, decoded once each (entries are immutable).
const authBytes = new WeakMap<Subscription, Buffer>();

/** Whether `subscription`'s auth secret is `secret`: compared in constant time. */
function authIs(subscription: Subscription, secret: Buffer): boolean {
  let bytes = authBytes.get(subscription);
  if (!bytes) {
    bytes = Buffer.from(subscription.keys.auth, 'base64url');
    authBytes.set(subscription, bytes);
  }
  return bytes.length === secret.length && timingSafeEqual(bytes, secret);
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

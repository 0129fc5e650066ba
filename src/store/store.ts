import { HttpError } from '../errors.ts';
import type { DeviceFields, LastResult } from './device-fields.ts';
import { writeFileAtomic } from './files.ts';
import { createImage, type StoreImage } from './image.ts';
import { withLock } from './lock.ts';
import { createNameCount } from './names.ts';
import { lastOf, readStore, versionOf } from './read.ts';
import type { Subscription } from './subscription.ts';
import { createWriteQueue } from './write-queue.ts';

/** The subscriptions in subscription.json: newest last, one per endpoint, every write on disk before it resolves. */
export interface SubscriptionStore {
  list(): Subscription[];
  /** How many are stored, without copying the list. */
  size(): number;
  latest(): Subscription | undefined;
  get(endpoint: string): Subscription | undefined;
  /**
   * Adds or replaces (and moves to newest) the subscription for its endpoint. A replaced entry's
   * name, addedAt and lastResult stay unless given; a name another entry has gets " 2", " 3".
   */
  add(subscription: Subscription): Promise<'created' | 'updated'>;
  /** Removes the given endpoints; resolves to how many were stored. */
  remove(endpoints: Iterable<string>): Promise<number>;
  /** Names the device of a stored endpoint (numbered as in add): the entry, or undefined when none has it. */
  rename(endpoint: string, name: string): Promise<Subscription | undefined>;
  /**
   * Sets the lastResult of every stored endpoint in `results`, where each stands (in memory at
   * once), in one write. That write waits up to RESULTS_DELAY_MS for another change to share it:
   * a POST's welcome push then costs it no write of its own. flush() starts it at once.
   */
  record(results: ReadonlyMap<string, LastResult>): Promise<void>;
  /** Reads the file again if another process (the send CLI) changed it since. */
  refresh(): Promise<void>;
  /** Starts a waiting write now; resolves when every write asked for so far is on disk. */
  flush(): Promise<void>;
}

/** How long a send's results wait for another change to share their write. */
export const RESULTS_DELAY_MS = 1000;

type Patch = Pick<DeviceFields, 'name' | 'lastResult'>;
type Change = { add: Subscription } | { remove: string } | { update: ReadonlyMap<string, Patch> };

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
  const names = createNameCount(() => byEndpoint.values());

  const apply = (map: Map<string, Subscription>, change: Change): void => {
    if ('remove' in change) {
      map.delete(change.remove);
    } else if ('add' in change) {
      map.delete(change.add.endpoint);
      map.set(change.add.endpoint, change.add);
    } else {
      for (const [endpoint, patch] of change.update) {
        const old = map.get(endpoint);
        if (old) map.set(endpoint, patched(old, patch));
      }
    }
  };

  /** Changes entries where they stand: the newest alone is swapped in the image, else it is built again. */
  const update = (patches: ReadonlyMap<string, Patch>) => {
    for (const [endpoint, patch] of patches) {
      const old = byEndpoint.get(endpoint);
      if (!old) continue;
      const entry = patched(old, patch);
      byEndpoint.set(endpoint, entry);
      names.removed(old.name);
      names.added(entry.name);
      // The newest is the image's last line: taken out and appended again, it keeps its place.
      if (old !== newest || patches.size > 1) image = undefined;
      else if (image && !image.remove(lineOf(old))) image = undefined;
      image?.append(lineOf(entry));
      if (old === newest) newest = entry;
    }
  };

  const reload = async () => {
    const fresh = await readStore(file);
    for (const change of unsaved) apply(fresh, change);
    byEndpoint = fresh;
    newest = lastOf(byEndpoint);
    image = undefined;
    names.reset();
  };

  const save = () =>
    withLock(file, async () => {
      // The send CLI may have changed the file since: start from it, then replay what is unsaved.
      if ((await versionOf(file)) !== version) await reload();
      unsaved = [];
      image ??= createImage(Array.from(byEndpoint.values(), lineOf));
      // Saves run one at a time: no write of what parts() returned before is still in progress.
      await writeFileAtomic(file, image.parts(), 0o600);
      version = await versionOf(file);
    });

  // Changes made while a write is in flight or waiting are coalesced into the next one.
  const writes = createWriteQueue(save, RESULTS_DELAY_MS);

  const change = (c: Change, defer = false): Promise<void> => {
    if ('update' in c) {
      update(c.update);
    } else {
      const old = byEndpoint.get('add' in c ? c.add.endpoint : c.remove);
      apply(byEndpoint, c);
      names.removed(old?.name);
      // Every stored entry is in the image when there is one, so its line is cached.
      if (old && image && !image.remove(lineOf(old))) image = undefined;
      if ('add' in c) {
        names.added(c.add.name);
        image?.append(lineOf(c.add));
        newest = c.add;
      } else if (old === newest) {
        newest = lastOf(byEndpoint);
      }
    }
    unsaved.push(c);
    return writes.ask(defer).catch((error: unknown) => {
      throw new HttpError(500, `could not save ${file}`, {}, { cause: error });
    });
  };

  return {
    list: () => [...byEndpoint.values()],
    size: () => byEndpoint.size,
    latest: () => newest,
    get: (endpoint) => byEndpoint.get(endpoint),
    async add(subscription) {
      const old = byEndpoint.get(subscription.endpoint);
      const given = subscription.name;
      const name = given === undefined ? old?.name : names.free(given, old?.name);
      const addedAt = old?.addedAt ?? subscription.addedAt;
      const lastResult = subscription.lastResult ?? old?.lastResult;
      const same =
        name === given &&
        addedAt === subscription.addedAt &&
        lastResult === subscription.lastResult;
      await change({
        add: same
          ? subscription
          : {
              ...subscription,
              ...(name !== undefined ? { name } : {}),
              ...(addedAt !== undefined ? { addedAt } : {}),
              ...(lastResult !== undefined ? { lastResult } : {}),
            },
      });
      return old ? 'updated' : 'created';
    },
    async remove(endpoints) {
      const stored = [...new Set(endpoints)].filter((endpoint) => byEndpoint.has(endpoint));
      await Promise.all(stored.map((endpoint) => change({ remove: endpoint })));
      return stored.length;
    },
    async rename(endpoint, name) {
      if (!byEndpoint.has(endpoint)) return undefined;
      const free = names.free(name, byEndpoint.get(endpoint)?.name);
      await change({ update: new Map([[endpoint, { name: free }]]) });
      return byEndpoint.get(endpoint);
    },
    async record(results) {
      const patches = new Map<string, Patch>();
      for (const [endpoint, lastResult] of results) {
        if (byEndpoint.has(endpoint)) patches.set(endpoint, { lastResult });
      }
      if (patches.size > 0) await change({ update: patches }, true);
    },
    async refresh() {
      if ((await versionOf(file)) === version) return;
      // Under the lock: no write of ours is half done (between taking `unsaved` and its version).
      await withLock(file, async () => {
        const current = await versionOf(file);
        if (current === version) return;
        await reload();
        version = current;
      });
    },
    flush: () => writes.flush(),
  };
}

/**
 * `old` with `patch` applied; a result older than the one it has is left out. Replayed after
 * another process wrote the file, a send's results must not undo a later send's (the CLI's).
 */
function patched(old: Subscription, patch: Patch): Subscription {
  const { lastResult, ...rest } = patch;
  const older = lastResult && old.lastResult && lastResult.at < old.lastResult.at;
  return { ...old, ...rest, ...(lastResult && !older ? { lastResult } : {}) };
}

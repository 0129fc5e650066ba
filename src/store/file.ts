import { timingSafeEqual } from 'node:crypto';
import { HttpError } from '../errors.ts';
import type { DeviceFields } from './device-fields.ts';
import { writeFileAtomic } from './file/files.ts';
import { createImage, type StoreImage } from './file/image.ts';
import { withLock } from './file/lock.ts';
import { createPositions } from './file/positions.ts';
import { lastOf, readStore, versionOf } from './file/read.ts';
import { createWriteQueue } from './file/write-queue.ts';
import { createNameCount } from './names.ts';
import { lastOfEach, type SubscriptionStore, sameSubscription } from './store.ts';
import type { Subscription } from './subscription.ts';

/** How long a send's results wait for another change to share their write. */
export const RESULTS_DELAY_MS = 1000;

type Patch = Pick<DeviceFields, 'name' | 'lastResult'>;
type Change = { add: Subscription } | { remove: string } | { update: ReadonlyMap<string, Patch> };

/**
 * The store in subscription.json, kept in memory as a map in file order, every write on disk
 * before it resolves. Opening it: a missing file is empty; a broken one is an error naming it.
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
      positions.carry(old, entry);
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
    positions.renumber(fresh, byEndpoint);
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
        positions.place(c.add);
        newest = c.add;
      } else if (old === newest) {
        newest = lastOf(byEndpoint);
      }
    }
    unsaved.push(c);
    return writes.ask(defer).then(
      () => {
        saveError = undefined;
      },
      (error: unknown) => {
        saveError = error;
        throw new HttpError(500, `could not save ${file}`, {}, { cause: error });
      },
    );
  };

  return {
    size: async () => byEndpoint.size,
    latest: async () => newest,
    get: async (endpoint) => byEndpoint.get(endpoint),
    withAuth: async (secret) => [...byEndpoint.values()].filter((s) => authIs(s, secret)),
    spans: async (size) => positions.spans(byEndpoint, size),
    read: async (span) => positions.read(byEndpoint, span),
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
    async addAll(subscriptions) {
      const counts = { created: 0, updated: 0, unchanged: 0 };
      const changes: Promise<void>[] = [];
      // Copied as they are (an import): names and results included, none renumbered.
      for (const subscription of lastOfEach(subscriptions)) {
        const stored = byEndpoint.get(subscription.endpoint);
        if (stored && sameSubscription(stored, subscription)) {
          counts.unchanged++;
          continue;
        }
        counts[stored ? 'updated' : 'created']++;
        changes.push(change({ add: subscription }));
      }
      // Coalesced into one write of the file.
      await Promise.all(changes);
      return counts;
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
    health: () =>
      saveError === undefined
        ? { ok: true, store: 'file' }
        : { ok: false, store: 'file', reason: `could not save ${file}` },
    where: file,
    close: () => writes.flush(),
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

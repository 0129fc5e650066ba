// The store contract: every store implementation's test file runs these same tests against it
// (test/store/file.test.ts, test/store/postgres.test.ts).
import assert from 'node:assert/strict';
import { createECDH, randomBytes } from 'node:crypto';
import { describe, test } from 'node:test';
import type { DeviceFields, LastResult } from '../../src/store/device-fields.ts';
import { eachPage, type SubscriptionStore } from '../../src/store/store.ts';
import type { Subscription } from '../../src/store/subscription.ts';
import { int, mulberry32, pick } from '../support/hostile.ts';

/** A fresh, empty store, and a way to open a second one on the same storage. */
export interface StoreUnderTest {
  store: SubscriptionStore;
  reopen(): Promise<SubscriptionStore>;
}

/** A subscription unique by `id`, with fresh keys, and the device `fields` given (in their order). */
export function sample(
  id: string,
  expirationTime: number | null = null,
  fields: DeviceFields = {},
): Subscription {
  return {
    endpoint: `https://fcm.googleapis.com/fcm/send/${id}`,
    expirationTime,
    keys: {
      p256dh: createECDH('prime256v1').generateKeys().toString('base64url'),
      auth: randomBytes(16).toString('base64url'),
    },
    ...fields,
  };
}

const delivered = (at: string): LastResult => ({ at, outcome: 'delivered' });
const FAILED: LastResult = {
  at: '2026-12-06T10:00:00.000Z',
  outcome: 'failed',
  status: 403,
  reason: 'BadJwtToken',
};

/** Every stored subscription, oldest first, read as a send reads them: span by span. */
export async function listAll(store: SubscriptionStore, size = 3): Promise<Subscription[]> {
  const all: Subscription[] = [];
  for await (const page of eachPage(store, size)) all.push(...page);
  return all;
}

const endpoints = (subscriptions: readonly Subscription[]) => subscriptions.map((s) => s.endpoint);

/**
 * Registers the contract's tests for one implementation. `open` makes a fresh, empty store for
 * each test; every store it and `reopen` make is closed at the end of that test.
 */
export function storeContract(name: string, open: () => Promise<StoreUnderTest>, options = {}) {
  describe(`the store contract: ${name}`, options, () => {
    const opened = async (t: { after(fn: () => Promise<void>): void }) => {
      const under = await open();
      const stores = [under.store];
      t.after(async () => {
        await Promise.all(stores.map((store) => store.close()));
      });
      const reopen = async () => {
        const store = await under.reopen();
        stores.push(store);
        return store;
      };
      return { store: under.store, reopen };
    };

    test('an empty store has nothing, no latest, and no spans', async (t) => {
      const { store } = await opened(t);
      assert.equal(await store.size(), 0);
      assert.equal(await store.latest(), undefined);
      assert.deepEqual(await store.spans(10), []);
      assert.equal(await store.get(sample('a').endpoint), undefined);
      assert.equal(store.health().ok, true);
    });

    test('add answers created for a new endpoint and updated for a known one', async (t) => {
      const { store } = await opened(t);
      assert.equal(await store.add(sample('a')), 'created');
      const renewed = sample('a', 1_900_000_000_000);
      assert.equal(await store.add(renewed), 'updated');
      assert.deepEqual(await listAll(store), [renewed]);
      assert.deepEqual(await store.get(renewed.endpoint), renewed);
      assert.equal(await store.size(), 1);
    });

    test('keeps one per endpoint, newest last; a replaced one moves to the end', async (t) => {
      const { store, reopen } = await opened(t);
      const [a, b, c] = [sample('a'), sample('b'), sample('c')];
      for (const s of [a, b, c]) await store.add(s);
      assert.deepEqual(await store.latest(), c);
      await store.add(a);
      assert.deepEqual(endpoints(await listAll(store)), endpoints([b, c, a]));
      assert.deepEqual(await store.latest(), a);
      assert.deepEqual(endpoints(await listAll(await reopen())), endpoints([b, c, a]));
    });

    test('every field comes back exactly as it was stored, to the byte', async (t) => {
      const { store, reopen } = await opened(t);
      // A float no integer type would keep, and null; keys as given, without padding; every
      // device field, and none.
      const entries = [
        sample('x', 1_765_432_109_876.5, {
          name: 'Phone',
          addedAt: '2026-12-01T10:00:00.000Z',
          lastResult: FAILED,
          origin: 'https://192.168.1.20:4443',
        }),
        sample('y'),
        sample('z', 0, {
          addedAt: '2026-12-02T10:00:00.000Z',
          lastResult: delivered('2026-12-03T10:00:00.000Z'),
        }),
      ];
      for (const s of entries) await store.add(s);
      for (const read of [store, await reopen()]) {
        const stored = await listAll(read);
        assert.equal(JSON.stringify(stored), JSON.stringify(entries));
        assert.equal(
          JSON.stringify(await read.get('https://fcm.googleapis.com/fcm/send/x')),
          JSON.stringify(entries[0]),
        );
      }
    });

    test('remove deletes the given endpoints and answers how many were stored', async (t) => {
      const { store } = await opened(t);
      const [a, b, c] = [sample('a'), sample('b'), sample('c')];
      for (const s of [a, b, c]) await store.add(s);
      assert.equal(await store.remove([a.endpoint, c.endpoint, a.endpoint, 'https://unknown/']), 2);
      assert.deepEqual(await listAll(store), [b]);
      assert.equal(await store.get(a.endpoint), undefined);
      assert.equal(await store.remove([a.endpoint]), 0);
      assert.equal(await store.remove([]), 0);
      assert.equal(await store.remove([b.endpoint]), 1);
      assert.equal(await store.latest(), undefined);
      assert.equal(await store.size(), 0);
    });

    test('withAuth finds the subscriptions with that auth secret, and only those', async (t) => {
      const { store } = await opened(t);
      const [a, b] = [sample('a'), sample('b')];
      const twin = { ...sample('twin'), keys: { ...sample('t').keys, auth: a.keys.auth } };
      for (const s of [a, b, twin]) await store.add(s);
      const secret = Buffer.from(a.keys.auth, 'base64url');
      assert.deepEqual(endpoints(await store.withAuth(secret)), endpoints([a, twin]));
      assert.deepEqual(await store.withAuth(randomBytes(16)), []);
    });

    test('spans cover what is stored in keyset order; read gives what is still there', async (t) => {
      const { store } = await opened(t);
      const added = Array.from({ length: 7 }, (_, i) => sample(`span-${i}`));
      for (const s of added) await store.add(s);
      const spans = await store.spans(3);
      assert.deepEqual(
        spans.map((span) => span.count),
        [3, 3, 1],
      );
      assert.equal(spans[0]?.after, 0);
      for (const [i, span] of spans.entries()) {
        assert.ok(span.last > span.after, 'a span ends after it begins');
        if (i > 0) assert.equal(span.after, spans[i - 1]?.last, 'spans follow each other');
      }
      // Changes after the spans were made: a removal, a replacement, an addition.
      await store.remove([added[1]?.endpoint ?? '']);
      await store.add(added[3] as Subscription);
      await store.add(sample('later'));
      const read = await Promise.all(spans.map((span) => store.read(span)));
      assert.deepEqual(read.map(endpoints), [
        endpoints([added[0], added[2]] as Subscription[]),
        endpoints([added[4], added[5]] as Subscription[]),
        endpoints([added[6]] as Subscription[]),
      ]);
      assert.deepEqual(await store.read({ after: 0, last: 0, count: 0 }), []);
    });

    test('addAll adds in order and counts; the same list again changes nothing', async (t) => {
      const { store } = await opened(t);
      const [a, b, c] = [sample('a'), sample('b'), sample('c')];
      await store.add(b);
      const changedB = { ...b, expirationTime: 1_800_000_000_000 };
      assert.deepEqual(await store.addAll([a, changedB, c]), {
        created: 2,
        updated: 1,
        unchanged: 0,
      });
      assert.deepEqual(await listAll(store), [a, changedB, c]);
      assert.deepEqual(await store.addAll([a, changedB, c]), {
        created: 0,
        updated: 0,
        unchanged: 3,
      });
      assert.deepEqual(
        await listAll(store),
        [a, changedB, c],
        'unchanged entries keep their place',
      );
      // Within one list the last entry for an endpoint wins, where it stands.
      const d = sample('d');
      const newA = sample('a', 5);
      assert.deepEqual(await store.addAll([d, a, newA]), { created: 1, updated: 1, unchanged: 0 });
      assert.deepEqual(await listAll(store), [changedB, c, d, newA]);
      assert.deepEqual(await store.addAll([]), { created: 0, updated: 0, unchanged: 0 });
      assert.equal(await store.size(), 4);
    });

    test('a name another entry has is numbered, in any case; its own is kept on an update', async (t) => {
      const { store } = await opened(t);
      await store.add(sample('a', null, { name: 'Phone' }));
      await store.add(sample('b', null, { name: 'PHONE' }));
      await store.add(sample('c', null, { name: 'Phone' }));
      await store.add(sample('a', null, { name: 'Phone' }));
      await store.add(sample('d', null, { name: 'Phone_%' }));
      await store.add(sample('e', null, { name: 'phone_%' }));
      assert.deepEqual(
        (await listAll(store)).map((s) => s.name),
        ['PHONE 2', 'Phone 3', 'Phone', 'Phone_%', 'phone_% 2'],
      );
    });

    test('an updated subscription keeps its name, addedAt and lastResult unless given new ones', async (t) => {
      const { store } = await opened(t);
      const first = sample('a', null, {
        name: 'Laptop',
        addedAt: '2026-12-01T10:00:00.000Z',
        lastResult: delivered('2026-12-02T10:00:00.000Z'),
      });
      await store.add(first);
      const renewed = { ...sample('a'), addedAt: '2026-12-06T10:00:00.000Z' };
      assert.equal(await store.add(renewed), 'updated');
      assert.deepEqual(await store.get(first.endpoint), {
        ...renewed,
        name: 'Laptop',
        addedAt: '2026-12-01T10:00:00.000Z',
        lastResult: first.lastResult,
      });
      await store.add({ ...renewed, name: 'Work laptop', origin: 'http://localhost:8080' });
      assert.equal((await store.get(first.endpoint))?.name, 'Work laptop');
      // The origin is where it subscribed this time.
      await store.add({ ...renewed, origin: 'https://192.168.1.20:4443' });
      assert.equal((await store.get(first.endpoint))?.origin, 'https://192.168.1.20:4443');
    });

    test('rename names a device where it stands, numbered if taken', async (t) => {
      const { store, reopen } = await opened(t);
      const [a, b, c] = [sample('a'), sample('b'), sample('c')];
      for (const s of [a, b, c]) await store.add(s);
      const spans = await store.spans(2);
      assert.equal((await store.rename(b.endpoint, 'Phone'))?.name, 'Phone');
      assert.equal((await store.rename(c.endpoint, 'phone'))?.name, 'phone 2');
      assert.equal((await store.rename(c.endpoint, 'Phone 2'))?.name, 'Phone 2', 'its own name');
      assert.equal(
        await store.rename('https://fcm.googleapis.com/fcm/send/nobody', 'X'),
        undefined,
      );
      for (const read of [store, await reopen()]) {
        const stored = await listAll(read);
        assert.deepEqual(
          stored.map((s) => [s.endpoint, s.name]),
          [
            [a.endpoint, undefined],
            [b.endpoint, 'Phone'],
            [c.endpoint, 'Phone 2'],
          ],
        );
        assert.equal((await read.latest())?.endpoint, c.endpoint, 'the latest is still the latest');
      }
      const read = (await Promise.all(spans.map((span) => store.read(span)))).flat();
      assert.deepEqual(
        read.map((s) => s.name),
        [undefined, 'Phone', 'Phone 2'],
        'spans still hold them',
      );
    });

    test('record sets results where each stands, skips the unknown, and never undoes a later one', async (t) => {
      const { store, reopen } = await opened(t);
      const added = Array.from({ length: 30 }, (_, i) => sample(`r${i}`));
      for (const s of added) await store.add(s);
      const results = new Map<string, LastResult>(
        added.map((s, i) => [s.endpoint, i === 7 ? FAILED : delivered('2026-12-06T10:00:00.000Z')]),
      );
      results.set(
        'https://fcm.googleapis.com/fcm/send/gone',
        delivered('2026-12-06T10:00:00.000Z'),
      );
      await Promise.all([store.record(results), store.flush()]);
      // An older result, replayed late, is left out; a later one is taken.
      await Promise.all([
        store.record(
          new Map([
            [added[7]?.endpoint ?? '', delivered('2026-12-05T10:00:00.000Z')],
            [added[8]?.endpoint ?? '', FAILED],
            [added[9]?.endpoint ?? '', delivered('2026-12-07T10:00:00.000Z')],
          ]),
        ),
        store.flush(),
      ]);
      for (const read of [store, await reopen()]) {
        const stored = await listAll(read, 7);
        assert.deepEqual(
          stored.map((s) => s.endpoint),
          added.map((s) => s.endpoint),
        );
        assert.deepEqual(stored[7]?.lastResult, FAILED);
        assert.deepEqual(stored[8]?.lastResult, FAILED, 'the same time: taken');
        assert.equal(stored[9]?.lastResult?.at, '2026-12-07T10:00:00.000Z');
        assert.ok(
          stored.every((s, i) => i === 7 || i === 8 || s.lastResult?.outcome === 'delivered'),
        );
        assert.equal((await read.latest())?.endpoint, added.at(-1)?.endpoint);
        assert.equal(await read.size(), 30);
      }
    });

    test('addAll copies the device fields as they are', async (t) => {
      const { store } = await opened(t);
      const named = sample('a', null, { name: 'Phone', addedAt: '2026-12-01T10:00:00.000Z' });
      const twin = sample('b', null, { name: 'Phone', lastResult: FAILED });
      assert.deepEqual(await store.addAll([named, twin]), { created: 2, updated: 0, unchanged: 0 });
      assert.equal(JSON.stringify(await listAll(store)), JSON.stringify([named, twin]));
      const renamed = { ...named, name: 'Tablet' };
      assert.deepEqual(await store.addAll([renamed, twin]), {
        created: 0,
        updated: 1,
        unchanged: 1,
      });
    });

    test('50 concurrent adds are all stored', async (t) => {
      const { store, reopen } = await opened(t);
      const added = Array.from({ length: 50 }, (_, i) => sample(`concurrent-${i}`));
      const outcomes = await Promise.all(added.map((s) => store.add(s)));
      assert.ok(outcomes.every((outcome) => outcome === 'created'));
      await store.flush();
      assert.equal(await (await reopen()).size(), 50);
      assert.deepEqual(new Set(endpoints(await listAll(store))), new Set(endpoints(added)));
    });

    test('after many adds, replaces and removes, it holds what a model of the rules holds', async (t) => {
      const { store } = await opened(t);
      const r = mulberry32(0x5704e);
      const names = Array.from({ length: 30 }, (_, i) => `mixed-${i}`);
      const expected = new Map<string, Subscription>();
      for (let round = 0; round < 40; round++) {
        const known = [...expected.values()];
        const choice = r();
        if (choice < 0.6 || known.length === 0) {
          const s = sample(pick(r, names), r() < 0.5 ? null : int(r, 1e12));
          expected.delete(s.endpoint);
          expected.set(s.endpoint, s);
          await store.add(s);
        } else {
          const gone = endpoints(known.filter(() => r() < 0.3));
          for (const endpoint of gone) expected.delete(endpoint);
          assert.equal(await store.remove(gone), gone.length);
        }
        const want = [...expected.values()];
        assert.deepEqual(await listAll(store, 1 + int(r, 5)), want, `round ${round}`);
        assert.deepEqual(await store.latest(), want.at(-1));
        assert.equal(await store.size(), want.length);
      }
    });
  });
}

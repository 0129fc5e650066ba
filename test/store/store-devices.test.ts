import assert from 'node:assert/strict';
import { mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { LastResult } from '../../src/store/device-fields.ts';
import { openStore } from '../../src/store/store.ts';
import type { Subscription } from '../../src/store/subscription.ts';
import { tempDir } from '../support/processes.ts';
import { fcmSubscription } from '../support/subscription.ts';

// The store's device fields: names kept apart, results recorded in place and in one write.
let root: string;
let count = 0;

before(async () => {
  root = await tempDir('store-devices-test-');
});

after(async () => {
  await rm(root, { recursive: true, force: true });
});

async function storeFile(): Promise<string> {
  const dir = join(root, String(++count));
  await mkdir(dir);
  return join(dir, 'subscription.json');
}

const subscription = fcmSubscription;

const onDisk = async (file: string): Promise<Subscription[]> =>
  JSON.parse(await readFile(file, 'utf8'));
const inode = async (file: string) => (await stat(file)).ino;
const delivered = (at: string): LastResult => ({ at, outcome: 'delivered' });

test('a name another entry has is numbered, in any case; its own name is kept on an update', async () => {
  const file = await storeFile();
  const store = await openStore(file);
  await store.add(subscription('a', { name: 'Phone' }));
  await store.add(subscription('b', { name: 'PHONE' }));
  await store.add(subscription('c', { name: 'Phone' }));
  await store.add({ ...subscription('a'), name: 'Phone' });
  assert.deepEqual(
    (await onDisk(file)).map((s) => s.name),
    ['PHONE 2', 'Phone 3', 'Phone'],
  );
});

test('an updated subscription keeps its name, addedAt and lastResult unless given new ones', async () => {
  const file = await storeFile();
  const store = await openStore(file);
  const first = subscription('a', {
    name: 'Laptop',
    addedAt: '2026-12-01T10:00:00.000Z',
    lastResult: delivered('2026-12-02T10:00:00.000Z'),
  });
  await store.add(first);
  const renewed = { ...subscription('a'), addedAt: '2026-12-06T10:00:00.000Z' };
  assert.equal(await store.add(renewed), 'updated');
  assert.deepEqual(store.get(first.endpoint), {
    ...renewed,
    name: 'Laptop',
    addedAt: '2026-12-01T10:00:00.000Z',
    lastResult: first.lastResult,
  });
  await store.add({ ...renewed, name: 'Work laptop' });
  assert.equal(store.get(first.endpoint)?.name, 'Work laptop');
  assert.deepEqual(await onDisk(file), store.list());
});

test('rename names a device where it stands, numbered if taken, and is on disk when it resolves', async () => {
  const file = await storeFile();
  const store = await openStore(file);
  const [a, b, c] = ['a', 'b', 'c'].map((id) => subscription(id));
  for (const s of [a, b, c]) await store.add(s as Subscription);
  assert.equal((await store.rename((b as Subscription).endpoint, 'Phone'))?.name, 'Phone');
  assert.equal((await store.rename((c as Subscription).endpoint, 'phone'))?.name, 'phone 2');
  assert.equal(await store.rename('https://fcm.googleapis.com/fcm/send/nobody', 'X'), undefined);
  const stored = await onDisk(file);
  assert.deepEqual(
    stored.map((s) => [s.endpoint, s.name]),
    [
      [a?.endpoint, undefined],
      [b?.endpoint, 'Phone'],
      [c?.endpoint, 'phone 2'],
    ],
  );
  assert.equal(store.latest()?.endpoint, c?.endpoint, 'the latest is still the latest');
  assert.deepEqual(stored, store.list());
});

test('record sets every result in place, leaves the order and the latest, and skips the unknown', async () => {
  const file = await storeFile();
  const store = await openStore(file);
  const added = Array.from({ length: 1000 }, (_, i) => subscription(`r${i}`));
  await Promise.all(added.map((s) => store.add(s)));
  const failed: LastResult = {
    at: '2026-12-06T10:00:00.000Z',
    outcome: 'failed',
    status: 403,
    reason: 'BadJwtToken',
  };
  const results = new Map<string, LastResult>(
    added.map((s, i) => [s.endpoint, i === 7 ? failed : delivered('2026-12-06T10:00:00.000Z')]),
  );
  results.set('https://fcm.googleapis.com/fcm/send/gone', delivered('2026-12-06T10:00:00.000Z'));
  await Promise.all([store.record(results), store.flush()]);
  const stored = await onDisk(file);
  assert.deepEqual(
    stored.map((s) => s.endpoint),
    added.map((s) => s.endpoint),
  );
  assert.deepEqual(stored[7]?.lastResult, failed);
  assert.ok(stored.every((s, i) => i === 7 || s.lastResult?.outcome === 'delivered'));
  assert.equal(store.latest()?.lastResult?.outcome, 'delivered');
  assert.deepEqual(stored, store.list());
  assert.equal((await openStore(file)).list().length, 1000);
});

test('record waits for another change to share its write, or for flush', async () => {
  const file = await storeFile();
  const store = await openStore(file);
  const [a, b] = [subscription('a'), subscription('b')];
  await store.add(a);
  const before = await inode(file);
  const recorded = store.record(new Map([[a.endpoint, delivered('2026-12-06T10:00:00.000Z')]]));
  assert.equal(store.get(a.endpoint)?.lastResult?.outcome, 'delivered', 'in memory at once');
  await new Promise((resolve) => setTimeout(resolve, 200));
  assert.equal(await inode(file), before, 'not written yet');
  // An add may not wait: its write starts at once, and takes the result with it.
  await store.add(b);
  await recorded;
  const stored = await onDisk(file);
  assert.deepEqual(
    stored.map((s) => s.endpoint),
    [a.endpoint, b.endpoint],
  );
  assert.equal(stored[0]?.lastResult?.outcome, 'delivered');

  const again = await inode(file);
  const second = store.record(new Map([[b.endpoint, delivered('2026-12-06T11:00:00.000Z')]]));
  await store.flush();
  await second;
  assert.notEqual(await inode(file), again, 'flush wrote it');
  assert.equal((await onDisk(file))[1]?.lastResult?.at, '2026-12-06T11:00:00.000Z');
});

test('refresh shows what another process wrote, keeping this store’s unsaved results unless older', async () => {
  const file = await storeFile();
  const server = await openStore(file);
  const [a, b] = [subscription('a'), subscription('b')];
  await server.add(a);
  await server.add(b);
  // Results of the server's own send, waiting for a write to share.
  const mine = server.record(
    new Map([
      [a.endpoint, delivered('2026-12-06T09:00:00.000Z')],
      [b.endpoint, delivered('2026-12-06T12:00:00.000Z')],
    ]),
  );
  // Then the send CLI, with a store of its own on the same file, sends to a.
  const cli = await openStore(file);
  const failed: LastResult = { at: '2026-12-06T10:00:00.000Z', outcome: 'failed', reason: 'x' };
  await Promise.all([cli.record(new Map([[a.endpoint, failed]])), cli.flush()]);
  assert.equal(server.get(a.endpoint)?.lastResult?.at, '2026-12-06T09:00:00.000Z', 'not read yet');
  await server.refresh();
  assert.deepEqual(server.get(a.endpoint)?.lastResult, failed, 'the later result stays');
  assert.equal(server.get(b.endpoint)?.lastResult?.at, '2026-12-06T12:00:00.000Z');
  await server.flush();
  await mine;
  assert.deepEqual(await onDisk(file), server.list());
});

test('a write after another process changed the file replays unsaved renames and results on it', async () => {
  const file = await storeFile();
  const server = await openStore(file);
  const [a, b] = [subscription('a'), subscription('b')];
  await server.add(a);
  const recorded = server.record(new Map([[a.endpoint, delivered('2026-12-06T10:00:00.000Z')]]));
  const cli = await openStore(file);
  await cli.add(b);
  await server.rename(a.endpoint, 'Phone');
  await recorded;
  const stored = await onDisk(file);
  assert.deepEqual(
    stored.map((s) => [s.endpoint, s.name, s.lastResult?.outcome]),
    [
      [a.endpoint, 'Phone', 'delivered'],
      [b.endpoint, undefined, undefined],
    ],
  );
});

test('entries without the device fields load; a device field of the wrong type is refused naming its entry', async () => {
  const file = await storeFile();
  const legacy = [subscription('old')];
  await writeFile(file, JSON.stringify(legacy));
  assert.deepEqual((await openStore(file)).list(), legacy);
  await writeFile(file, JSON.stringify([...legacy, { ...subscription('bad'), name: 42 }]));
  await assert.rejects(openStore(file), /entry 2: "name" must be a string/);
  const result = { at: '2026-12-06T10:00:00.000Z', outcome: 'lost' };
  await writeFile(file, JSON.stringify([{ ...subscription('bad'), lastResult: result }]));
  await assert.rejects(openStore(file), /entry 1: "lastResult" must be delivered, or failed/);
});

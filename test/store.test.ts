import assert from 'node:assert/strict';
import { createECDH, randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { ConfigError } from '../src/errors.ts';
import { openStore } from '../src/store.ts';
import type { Subscription } from '../src/subscription.ts';
import { tempDir } from './support/processes.ts';

let root: string;
let count = 0;

before(async () => {
  root = await tempDir('store-test-');
});

after(async () => {
  await rm(root, { recursive: true, force: true });
});

/** A fresh directory and the store file path inside it. */
async function storeFile(): Promise<{ dir: string; file: string }> {
  const dir = join(root, String(++count));
  await mkdir(dir);
  return { dir, file: join(dir, 'subscription.json') };
}

function subscription(name: string): Subscription {
  return {
    endpoint: `https://fcm.googleapis.com/fcm/send/${name}`,
    expirationTime: null,
    keys: {
      p256dh: createECDH('prime256v1').generateKeys().toString('base64url'),
      auth: randomBytes(16).toString('base64url'),
    },
  };
}

async function onDisk(file: string): Promise<Subscription[]> {
  return JSON.parse(await readFile(file, 'utf8')) as Subscription[];
}

const endpoints = (subscriptions: readonly Subscription[]) => subscriptions.map((s) => s.endpoint);

test('a missing file is an empty store, and opening it creates nothing', async () => {
  const { dir, file } = await storeFile();
  const store = await openStore(file);
  assert.deepEqual(store.list(), []);
  assert.equal(store.latest(), undefined);
  assert.deepEqual(await readdir(dir), []);
});

test('an empty file is an empty store', async () => {
  const { file } = await storeFile();
  await writeFile(file, '');
  assert.deepEqual((await openStore(file)).list(), []);
});

test('add answers created for a new endpoint and updated for a known one', async () => {
  const { file } = await storeFile();
  const store = await openStore(file);
  const first = subscription('a');
  assert.equal(await store.add(first), 'created');
  const renewed = { ...subscription('a'), expirationTime: 1_900_000_000_000 };
  assert.equal(await store.add(renewed), 'updated');
  assert.deepEqual(store.list(), [renewed]);
  assert.deepEqual(await onDisk(file), [renewed]);
});

test('keeps one entry per endpoint, newest last, and moves an updated one to the end', async () => {
  const { file } = await storeFile();
  const store = await openStore(file);
  const [a, b, c] = [subscription('a'), subscription('b'), subscription('c')];
  for (const s of [a, b, c]) await store.add(s);
  assert.equal(store.latest(), c);
  await store.add(a);
  assert.deepEqual(endpoints(store.list()), endpoints([b, c, a]));
  assert.equal(store.latest(), a);
  assert.equal(store.get(b.endpoint), b);
  assert.deepEqual(endpoints(await onDisk(file)), endpoints([b, c, a]));
});

test('a store reopened from the file holds the same subscriptions in order', async () => {
  const { file } = await storeFile();
  const store = await openStore(file);
  for (const name of ['a', 'b', 'c']) await store.add(subscription(name));
  assert.deepEqual((await openStore(file)).list(), store.list());
});

test('remove deletes the given endpoints and answers how many were stored', async () => {
  const { file } = await storeFile();
  const store = await openStore(file);
  const [a, b, c] = [subscription('a'), subscription('b'), subscription('c')];
  for (const s of [a, b, c]) await store.add(s);
  assert.equal(await store.remove([a.endpoint, c.endpoint, a.endpoint, 'https://unknown/']), 2);
  assert.deepEqual(store.list(), [b]);
  assert.equal(store.get(a.endpoint), undefined);
  assert.deepEqual(await onDisk(file), [b]);
  assert.equal(await store.remove([a.endpoint]), 0);
  assert.equal(await store.remove([b.endpoint]), 1);
  assert.deepEqual(await onDisk(file), []);
});

test('writes the file with mode 0600', async () => {
  const { file } = await storeFile();
  await writeFile(file, '[]\n', { mode: 0o644 });
  const store = await openStore(file);
  await store.add(subscription('a'));
  assert.equal((await stat(file)).mode & 0o777, 0o600);
});

test('50 concurrent adds all reach the file', async () => {
  const { file } = await storeFile();
  const store = await openStore(file);
  const added = Array.from({ length: 50 }, (_, i) => subscription(`concurrent-${i}`));
  const outcomes = await Promise.all(added.map((s) => store.add(s)));
  assert.ok(outcomes.every((outcome) => outcome === 'created'));
  assert.deepEqual(endpoints(await onDisk(file)), endpoints(added));
  assert.equal((await openStore(file)).list().length, 50);
});

test('concurrent adds and removes settle to what was asked for last', async () => {
  const { file } = await storeFile();
  const store = await openStore(file);
  const [a, b] = [subscription('a'), subscription('b')];
  await Promise.all([store.add(a), store.add(b), store.remove([a.endpoint])]);
  await store.flush();
  assert.deepEqual(await onDisk(file), [b]);
});

test('leaves no temporary or lock files behind', async () => {
  const { dir, file } = await storeFile();
  const store = await openStore(file);
  await Promise.all(Array.from({ length: 10 }, (_, i) => store.add(subscription(`t${i}`))));
  await store.remove([subscription('t0').endpoint]);
  await store.flush();
  assert.deepEqual(await readdir(dir), ['subscription.json']);
});

const brokenFiles: [string, string, RegExp][] = [
  ['is not JSON', '[{"endpoint": ', /is not valid JSON/],
  ['is not an array', '{"endpoint":"https://fcm.googleapis.com/x"}', /must hold a JSON array/],
  ['holds a bad entry', '[{"endpoint":"https://fcm.googleapis.com/x","keys":{}}]', /entry 1/],
];

for (const [what, content, message] of brokenFiles) {
  test(`refuses to open a file that ${what}, names it, and leaves it as it was`, async () => {
    const { dir, file } = await storeFile();
    await writeFile(file, content);
    await assert.rejects(openStore(file), (error: unknown) => {
      assert.ok(error instanceof ConfigError);
      assert.ok(error.message.includes(file), error.message);
      assert.match(error.message, message);
      return true;
    });
    assert.equal(await readFile(file, 'utf8'), content);
    assert.deepEqual(await readdir(dir), ['subscription.json']);
  });
}

test('refuses an entry whose keys are not valid, naming its position', async () => {
  const { file } = await storeFile();
  const good = subscription('good');
  const bad = { ...subscription('bad'), keys: { ...good.keys, auth: 'c2hvcnQ' } };
  const content = JSON.stringify([good, bad]);
  await writeFile(file, content);
  await assert.rejects(openStore(file), /entry 2: "keys\.auth" must be exactly 16 bytes/);
  assert.equal(await readFile(file, 'utf8'), content);
});

test('a store re-reads a file another process changed before it writes', async () => {
  const { file } = await storeFile();
  const [a, b, c] = [subscription('a'), subscription('b'), subscription('c')];
  const seed = await openStore(file);
  await seed.add(a);
  await seed.add(b);

  // Both open the same file, as the server and the send CLI do.
  const server = await openStore(file);
  const cli = await openStore(file);
  assert.equal(await cli.remove([a.endpoint]), 1);
  assert.equal(await server.add(c), 'created');

  assert.deepEqual(endpoints(await onDisk(file)), endpoints([b, c]));
  assert.deepEqual(endpoints(server.list()), endpoints([b, c]));
});

test('changes from two stores on one file interleave without losing either', async () => {
  const { file } = await storeFile();
  const first = await openStore(file);
  const second = await openStore(file);
  const added = Array.from({ length: 20 }, (_, i) => subscription(`both-${i}`));
  await Promise.all(added.map((s, i) => (i % 2 ? first : second).add(s)));
  const stored = new Set(endpoints(await onDisk(file)));
  assert.deepEqual(stored, new Set(endpoints(added)));
});

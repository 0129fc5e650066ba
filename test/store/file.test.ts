import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdir, readdir, readFile, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { ConfigError } from '../../src/errors.ts';
import { removeLeftoverTemps } from '../../src/store/file/files.ts';
import { type LockHolder, readLock, takeOver, withLock } from '../../src/store/file/lock.ts';
import { openStore } from '../../src/store/file.ts';
import type { Subscription } from '../../src/store/subscription.ts';
import { int, mulberry32, pick, storedByEarlierVersion } from '../support/hostile.ts';
import { tempDir } from '../support/processes.ts';
import { fcmSubscription } from '../support/subscription.ts';
import { listAll, storeContract } from './contract.ts';

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

const subscription = (name: string): Subscription => fcmSubscription(name);

async function onDisk(file: string): Promise<Subscription[]> {
  return JSON.parse(await readFile(file, 'utf8')) as Subscription[];
}

const endpoints = (subscriptions: readonly Subscription[]) => subscriptions.map((s) => s.endpoint);

storeContract('subscription.json', async () => {
  const { file } = await storeFile();
  return { store: await openStore(file), reopen: () => openStore(file) };
});

test('a missing file is an empty store, and opening it creates nothing', async () => {
  const { dir, file } = await storeFile();
  const store = await openStore(file);
  assert.deepEqual(await listAll(store), []);
  assert.equal(await store.latest(), undefined);
  assert.deepEqual(await readdir(dir), []);
});

test('an empty file is an empty store', async () => {
  const { file } = await storeFile();
  await writeFile(file, '');
  assert.deepEqual(await listAll(await openStore(file)), []);
});

test('add, replace and remove write the file, newest last', async () => {
  const { file } = await storeFile();
  const store = await openStore(file);
  const [a, b, c] = [subscription('a'), subscription('b'), subscription('c')];
  for (const s of [a, b, c]) await store.add(s);
  await store.add(a);
  assert.deepEqual(endpoints(await onDisk(file)), endpoints([b, c, a]));
  await store.remove([c.endpoint]);
  assert.deepEqual(await onDisk(file), [b, a]);
  const renewed = { ...b, expirationTime: 1_900_000_000_000 };
  await store.addAll([c, renewed, a]);
  assert.deepEqual(await onDisk(file), [a, c, renewed], 'a is unchanged and keeps its place');
});

test('writes the file with mode 0600', async () => {
  const { file } = await storeFile();
  await writeFile(file, '[]\n', { mode: 0o644 });
  const store = await openStore(file);
  await store.add(subscription('a'));
  assert.equal((await stat(file)).mode & 0o777, 0o600);
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
  assert.deepEqual(endpoints(await listAll(server)), endpoints([b, c]));
});

test('spans made before another process changed the file still read what they held', async () => {
  const { file } = await storeFile();
  const added = Array.from({ length: 6 }, (_, i) => subscription(`reload-${i}`));
  const server = await openStore(file);
  for (const s of added) await server.add(s);
  const spans = await server.spans(2);
  // The send CLI removes one, then the server's next write reads the file again.
  const cli = await openStore(file);
  await cli.remove([added[2]?.endpoint ?? '']);
  const late = subscription('late');
  await server.add(late);
  const read = await Promise.all(spans.map((span) => server.read(span)));
  assert.deepEqual(read.map(endpoints), [
    endpoints(added.slice(0, 2)),
    endpoints(added.slice(3, 4)),
    endpoints(added.slice(4, 6)),
  ]);
  assert.deepEqual(
    endpoints(await listAll(server)),
    endpoints([...added.slice(0, 2), ...added.slice(3), late]),
  );
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

test('keeps entries stored before the stricter checks as they were, through later writes', async () => {
  const { file } = await storeFile();
  const [a, b, c] = [subscription('a'), subscription('b'), subscription('c')];
  const legacy = storedByEarlierVersion([a, b, c]);
  await writeFile(file, JSON.stringify(legacy));
  const store = await openStore(file);
  assert.deepEqual(await listAll(store), legacy);
  const d = subscription('d');
  await store.add(d);
  assert.deepEqual(await onDisk(file), [...legacy, d]);
});

/** The file as the store writes it for `subscriptions`: one per line, newest last. */
function fileFor(subscriptions: readonly Subscription[]): string {
  if (subscriptions.length === 0) return '[]\n';
  return `[\n${subscriptions.map((s) => JSON.stringify(s)).join(',\n')}\n]\n`;
}

test('after many adds, replaces and removes, some from another process, the file is list() line by line', async () => {
  const { file } = await storeFile();
  const store = await openStore(file);
  const r = mulberry32(0x5704e);
  const names = Array.from({ length: 40 }, (_, i) => `mixed-${i}`);
  // What the store should hold, by the same rules: a replaced entry moves to the end.
  const expected = new Map<string, Subscription>();
  const add = (s: Subscription) => {
    expected.delete(s.endpoint);
    expected.set(s.endpoint, s);
  };
  const drop = (gone: string[]) => {
    for (const endpoint of gone) expected.delete(endpoint);
    return gone;
  };
  for (let round = 0; round < 60; round++) {
    if (round % 7 === 3) {
      // The send CLI's way in: another store on the file, then ours re-reads it.
      const other = await openStore(file);
      await other.remove(drop(endpoints((await listAll(other)).filter(() => r() < 0.2))));
    }
    // Not awaited one by one: writes in progress while more changes come, coalesced.
    const pending: Promise<unknown>[] = [];
    for (let i = int(r, 6); i >= 0; i--) {
      const choice = r();
      const known = [...expected.values()];
      if (choice < 0.5 || known.length === 0) {
        const s = subscription(pick(r, names));
        add(s);
        pending.push(store.add(s));
      } else if (choice < 0.65) {
        const s = pick(r, known);
        add(s); // the very same entry again, as a browser re-sending its subscription
        pending.push(store.add(s));
      } else if (choice < 0.95) {
        pending.push(store.remove(drop(endpoints(known.filter(() => r() < 0.15)))));
      } else {
        // More removals at once than the image takes one by one.
        pending.push(store.remove(drop(endpoints(known.slice(0, 20)))));
      }
    }
    await Promise.all(pending);
    const want = [...expected.values()];
    const list = await listAll(store);
    assert.deepEqual(endpoints(list), endpoints(want), `round ${round}`);
    assert.equal(await readFile(file, 'utf8'), fileFor(list), `round ${round}`);
    assert.equal(await store.latest(), want.at(-1));
    assert.equal(await store.size(), want.length);
  }
  assert.deepEqual(await listAll(await openStore(file)), await listAll(store));
});

test('a replaced entry moves to the end of the file, and removing the newest makes the one before it latest', async () => {
  const { file } = await storeFile();
  const store = await openStore(file);
  const [a, b, c] = [subscription('a'), subscription('b'), subscription('c')];
  for (const s of [a, b, c]) await store.add(s);
  const renewed = { ...subscription('a'), expirationTime: 1_900_000_000_000 };
  await store.add(renewed);
  assert.equal(await readFile(file, 'utf8'), fileFor([b, c, renewed]));
  await store.remove([renewed.endpoint]);
  assert.equal(await store.latest(), c);
  assert.equal(await readFile(file, 'utf8'), fileFor([b, c]));
  await store.remove([b.endpoint, c.endpoint]);
  assert.equal(await store.latest(), undefined);
  assert.equal(await readFile(file, 'utf8'), '[]\n');
});

/** A process id that was in use a moment ago and no longer is. */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', '']);
  await once(child, 'exit');
  return child.pid as number;
}

const hex8 = (n: number) => n.toString(16).padStart(8, '0');

test('removeLeftoverTemps removes only its own temp files whose writer ended or that are older than the file', async () => {
  const { dir, file } = await storeFile();
  await writeFile(file, '[]\n');
  // All in the past: the file written two minutes ago, temp files before and after it.
  const ago = (ms: number) => (Date.now() - ms) / 1000;
  await utimes(file, ago(120_000), ago(120_000));
  const dead = hex8(await deadPid());
  const live = hex8(process.ppid);
  const removed = [
    `.subscription.json.${dead}0badf00d.tmp`, // its writer has ended
    `.subscription.json.${live}1badf00d.tmp`, // older than the file
    '.subscription.json.2badf00d.tmp', // an earlier version's name, older than the file
  ];
  const kept = [
    `.subscription.json.${live}3badf00d.tmp`, // a live writer, newer than the file
    '.subscription.json.4badf00d.tmp', // an earlier version's name, newer than the file
    `.subscription.json.${dead}5badf00.tmp`, // not the pattern: one digit short
    `.subscription.json.${dead}6BADF00D.tmp`, // not the pattern: upper-case hex
    `.subscription.json.${dead}7badf00d.tmp.bak`,
    `subscription.json.${dead}8badf00d.tmp`, // no leading dot
    `.subscription.json.${dead}9badf00d`,
    `.vapid.json.${dead}abadf00d.tmp`, // another file's temp
    `.subscription.json.lock.${dead}bbadf00d.tmp`,
    '.subscription.json.notours!.tmp',
  ];
  for (const name of [...removed, ...kept]) await writeFile(join(dir, name), 'partial');
  for (const name of [removed[0] as string, ...kept]) {
    await utimes(join(dir, name), ago(60_000), ago(60_000));
  }
  for (const name of removed.slice(1)) await utimes(join(dir, name), ago(180_000), ago(180_000));
  // A directory with a matching name is not a temp file.
  const folder = `.subscription.json.${dead}cbadf00d.tmp`;
  await mkdir(join(dir, folder));
  kept.push(folder);

  const lines: string[] = [];
  assert.equal(await removeLeftoverTemps(file, (line) => lines.push(line)), 3);
  assert.deepEqual(lines, [
    `Removed 3 temp file(s) left in ${dir} by an interrupted write of subscription.json.`,
  ]);
  assert.deepEqual((await readdir(dir)).sort(), ['subscription.json', ...kept].sort());
  assert.equal(await readFile(file, 'utf8'), '[]\n');
  assert.equal(await removeLeftoverTemps(file, (line) => lines.push(line)), 0);
  assert.equal(lines.length, 1, 'nothing said when there was nothing to remove');
});

test('removeLeftoverTemps waits for a write in progress to finish', async () => {
  const { dir, file } = await storeFile();
  await writeFile(file, '[]\n');
  const leftover = join(dir, `.subscription.json.${hex8(await deadPid())}0badf00d.tmp`);
  await writeFile(leftover, 'partial');
  const order: string[] = [];
  let release = () => {};
  const holding = withLock(file, async () => {
    order.push('writing');
    await new Promise<void>((resolve) => {
      release = resolve;
    });
    order.push('written');
  });
  const cleaning = removeLeftoverTemps(file, () => {}).then((n) => order.push(`removed ${n}`));
  await new Promise((resolve) => setTimeout(resolve, 300));
  assert.deepEqual(order, ['writing'], 'nothing removed while the lock is held');
  await stat(leftover);
  release();
  await Promise.all([holding, cleaning]);
  assert.deepEqual(order, ['writing', 'written', 'removed 1']);
});

const lockOf = (file: string) => `${file}.lock`;

test('a lock whose holder has ended is taken over at once', async () => {
  const { dir, file } = await storeFile();
  await writeFile(lockOf(file), String(await deadPid()));
  const content = await withLock(file, async () => readFile(lockOf(file), 'utf8'));
  assert.match(content, new RegExp(`^${process.pid}\n[0-9a-f]{16}\n$`), 'our id, and a token');
  assert.deepEqual(await readdir(dir), []);
});

test('a take-over left half done by a killed process does not block the next one', async () => {
  const { dir, file } = await storeFile();
  await writeFile(lockOf(file), String(await deadPid()));
  await writeFile(`${lockOf(file)}.break`, String(await deadPid()));
  assert.equal(await withLock(file, async () => 'ran', { waitMs: 1000 }), 'ran');
  assert.deepEqual(await readdir(dir), []);
});

test('a lock held by a live process is waited for, then refused naming it, and left alone', async () => {
  const { file } = await storeFile();
  await writeFile(lockOf(file), String(process.ppid));
  let ran = false;
  await assert.rejects(
    withLock(
      file,
      async () => {
        ran = true;
      },
      { waitMs: 300 },
    ),
    (error: unknown) => {
      assert.ok(error instanceof ConfigError);
      assert.equal(
        error.message,
        `${lockOf(file)} is still held by process ${process.ppid} after 0.3 s`,
      );
      return true;
    },
  );
  assert.equal(ran, false);
  assert.equal(await readFile(lockOf(file), 'utf8'), String(process.ppid));
});

test('a lock without a valid process id is waited for while under a minute old, then taken over', async () => {
  const { file } = await storeFile();
  for (const content of ['', 'not a pid', '-1', '0', '99999999999']) {
    await writeFile(lockOf(file), content);
    await assert.rejects(
      withLock(file, async () => {}, { waitMs: 100 }),
      /held by a process that wrote no id in it/,
    );
    const minuteAgo = (Date.now() - 61_000) / 1000;
    await utimes(lockOf(file), minuteAgo, minuteAgo);
    assert.equal(await withLock(file, async () => 'ran', { waitMs: 100 }), 'ran');
  }
});

test('a lock with our own process id made before this process started is taken over', async () => {
  const { file } = await storeFile();
  // As after a reboot, or in a container where the server is always the same pid.
  await writeFile(lockOf(file), String(process.pid));
  const before = (performance.timeOrigin - 1000) / 1000;
  await utimes(lockOf(file), before, before);
  assert.equal(await withLock(file, async () => 'ran', { waitMs: 100 }), 'ran');
});

test('taking over a stale lock never removes a newer lock that replaced it in the meantime', async () => {
  const { dir, file } = await storeFile();
  await writeFile(lockOf(file), String(await deadPid()));
  const stale = (await readLock(lockOf(file))) as LockHolder;
  assert.equal(stale.gone, true);
  // Another waiter saw the same stale lock, was quicker, and now holds a lock of its own.
  await rm(lockOf(file));
  await writeFile(lockOf(file), String(process.ppid));
  const fresh = (await readLock(lockOf(file))) as LockHolder;
  await takeOver(lockOf(file), stale);
  assert.deepEqual(await readLock(lockOf(file)), fresh, 'the newer lock is there, as it was');
  assert.deepEqual(await readdir(dir), ['subscription.json.lock'], 'nothing else left behind');
  // The stale lock itself is removed.
  await takeOver(lockOf(file), fresh);
  assert.deepEqual(await readdir(dir), []);
});

test('waiters that find the same stale lock never hold it at the same time', async () => {
  const { file } = await storeFile();
  for (let round = 0; round < 3; round++) {
    await writeFile(lockOf(file), String(await deadPid()));
    let inside = 0;
    let most = 0;
    await Promise.all(
      Array.from({ length: 8 }, () =>
        withLock(file, async () => {
          most = Math.max(most, ++inside);
          await new Promise((resolve) => setTimeout(resolve, 5));
          inside--;
        }),
      ),
    );
    assert.equal(most, 1, `round ${round}: ${most} holders at once`);
  }
});

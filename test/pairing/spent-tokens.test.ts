import assert from 'node:assert/strict';
import { readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { openSpentTokens } from '../../src/pairing/spent-tokens.ts';
import { tempDir } from '../support/processes.ts';

let dir: string;
before(async () => {
  dir = await tempDir('spent-test-');
});
after(() => rm(dir, { recursive: true, force: true }));

const MINUTE = 60_000;

test('a spent nonce cannot be claimed again, even after reopening the file', async () => {
  const file = join(dir, 'spent');
  const now = Date.now();
  const spent = await openSpentTokens(file, () => now);
  const expires = new Date(now + 10 * MINUTE);
  assert.equal(await spent.claim('a', expires), true);
  assert.equal(await spent.claim('a', expires), false, 'claimed by a subscribe in flight');
  await spent.spend('a', expires);
  assert.equal(await spent.claim('a', expires), false);
  assert.equal((await stat(file)).mode & 0o777, 0o600);
  const reopened = await openSpentTokens(file, () => now);
  assert.equal(await reopened.claim('a', expires), false, 'a restart does not make it valid again');
  assert.equal(await reopened.claim('b', expires), true);
});

test('a released claim can be claimed again: a failed subscribe does not spend the token', async () => {
  const spent = await openSpentTokens(join(dir, 'released'));
  const expires = new Date(Date.now() + MINUTE);
  assert.equal(await spent.claim('c', expires), true);
  await spent.release('c');
  assert.equal(await spent.claim('c', expires), true);
});

test('entries are forgotten once their token has expired', async () => {
  const file = join(dir, 'pruned');
  let now = Date.now();
  const spent = await openSpentTokens(file, () => now);
  await spent.claim('old', new Date(now + MINUTE));
  await spent.spend('old', new Date(now + MINUTE));
  now += 2 * MINUTE;
  await spent.claim('new', new Date(now + MINUTE));
  await spent.spend('new', new Date(now + MINUTE));
  assert.deepEqual(Object.keys(JSON.parse(await readFile(file, 'utf8'))), ['new']);
});

test('a broken file stops with a one-line error naming it', async () => {
  const file = join(dir, 'broken');
  await writeFile(file, '[1, 2');
  await assert.rejects(openSpentTokens(file), /broken is not a list of used pairing links/);
});

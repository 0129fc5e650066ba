import assert from 'node:assert/strict';
import { readFile, rm, stat, writeFile } from 'node:fs/promises';
import { createRequire, syncBuiltinESMExports } from 'node:module';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { ConfigError } from '../../src/errors.ts';
import { createPairing, PAIRING_TTL_MS } from '../../src/pairing/tokens.ts';
import { tempDir } from '../support/processes.ts';

let dir: string;
let keyFile: string;
before(async () => {
  dir = await tempDir('pairing-test-');
  keyFile = join(dir, 'pairing-key');
});
after(() => rm(dir, { recursive: true, force: true }));

/** A clock the test moves by hand. */
function clock(start = Date.now()) {
  let time = start;
  return { now: () => time, advance: (ms: number) => (time += ms) };
}

test('a minted token is valid for 10 minutes and the key file is made with mode 600', async () => {
  const time = clock();
  const pairing = createPairing({ keyFile, now: time.now });
  const { token, expiresAt } = await pairing.mint();
  assert.match(token, /^[A-Za-z0-9_-]{43}$/);
  assert.ok(Math.abs(expiresAt.getTime() - (time.now() + PAIRING_TTL_MS)) <= 1000);
  assert.equal((await stat(keyFile)).mode & 0o777, 0o600);
  const check = await pairing.check(token);
  assert.equal(check.status, 'valid');
  assert.ok(check.status === 'valid' && /^[0-9a-f]{32}$/.test(check.nonce));
  // Another process with the same key file (npm run pair and the server) agrees.
  assert.equal((await createPairing({ keyFile }).check(token)).status, 'valid');
});

test('a token is expired once its 10 minutes have passed', async () => {
  const time = clock();
  const pairing = createPairing({ keyFile, now: time.now });
  const { token } = await pairing.mint();
  time.advance(PAIRING_TTL_MS - 2000);
  assert.equal((await pairing.check(token)).status, 'valid');
  time.advance(3000);
  assert.deepEqual(await pairing.check(token), { status: 'expired' });
});

test('changing any byte of a token makes it invalid', async () => {
  const pairing = createPairing({ keyFile });
  const { token } = await pairing.mint();
  const bytes = Buffer.from(token, 'base64url');
  for (let i = 0; i < bytes.length; i++) {
    const changed = Buffer.from(bytes);
    changed[i] = (changed[i] as number) ^ 1;
    assert.deepEqual(
      await pairing.check(changed.toString('base64url')),
      { status: 'invalid' },
      `byte ${i}`,
    );
  }
  for (const junk of ['', 'x', `${token}A`, token.slice(1), `${token.slice(0, 42)}!`]) {
    assert.deepEqual(await pairing.check(junk), { status: 'invalid' }, junk);
  }
});

test('a token made with another key is invalid, and no key at all accepts nothing', async () => {
  const other = createPairing({ keyFile: join(dir, 'other-key') });
  const { token } = await other.mint();
  assert.equal((await createPairing({ keyFile }).check(token)).status, 'invalid');
  const none = createPairing({ keyFile: join(dir, 'missing-key') });
  assert.equal((await none.check(token)).status, 'invalid');
  await assert.rejects(stat(join(dir, 'missing-key')), /ENOENT/, 'checking makes no key');
});

test('a token from further ahead than 10 minutes is refused', async () => {
  const ahead = createPairing({ keyFile, now: () => Date.now() + 60 * 60 * 1000 });
  const { token } = await ahead.mint();
  assert.equal((await createPairing({ keyFile }).check(token)).status, 'invalid');
});

test('the tag is compared with crypto.timingSafeEqual', async () => {
  const pairing = createPairing({ keyFile });
  const { token } = await pairing.mint();
  const crypto = createRequire(import.meta.url)('node:crypto');
  const original = crypto.timingSafeEqual;
  const seen: number[] = [];
  crypto.timingSafeEqual = (a: Buffer, b: Buffer) => {
    seen.push(a.length, b.length);
    return original(a, b);
  };
  syncBuiltinESMExports();
  try {
    const wrong = `${token.slice(0, 30)}${token[30] === 'A' ? 'B' : 'A'}${token.slice(31)}`;
    assert.equal((await pairing.check(wrong)).status, 'invalid');
    assert.equal((await pairing.check(token)).status, 'valid');
  } finally {
    crypto.timingSafeEqual = original;
    syncBuiltinESMExports();
  }
  assert.deepEqual(seen, [16, 16, 16, 16]);
});

test('two processes making the key at once end up with one key', async () => {
  const file = join(dir, 'raced-key');
  const [a, b] = await Promise.all([
    createPairing({ keyFile: file }).mint(),
    createPairing({ keyFile: file }).mint(),
  ]);
  const pairing = createPairing({ keyFile: file });
  assert.equal((await pairing.check(a.token)).status, 'valid');
  assert.equal((await pairing.check(b.token)).status, 'valid');
});

test('a key file that is not a key stops with a one-line error and is left alone', async () => {
  const file = join(dir, 'broken-key');
  await writeFile(file, 'not a key\n');
  await assert.rejects(createPairing({ keyFile: file }).mint(), (error: unknown) => {
    assert.ok(error instanceof ConfigError);
    assert.match(error.message, /is not a pairing key; remove it/);
    return true;
  });
  assert.equal(await readFile(file, 'utf8'), 'not a key\n');
});

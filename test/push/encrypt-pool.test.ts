import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createECDH, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { createEncryptPool, defaultPoolSize } from '../../src/push/encrypt-pool.ts';
import type { Subscription } from '../../src/store/subscription.ts';
import { decryptAes128gcm } from '../support/aes128gcm.ts';
import { tempDir } from '../support/processes.ts';

const EXITING = new URL('../support/exiting-encrypt-worker.ts', import.meta.url);
const payload = Buffer.from('{"title":"Test","body":"from a worker"}');

/** Subscriptions with their receiving keys, to decrypt what the pool made. */
function receivers(count: number) {
  return Array.from({ length: count }, (_, index) => {
    const ecdh = createECDH('prime256v1');
    const publicKey = ecdh.generateKeys();
    const auth = randomBytes(16);
    const subscription: Subscription = {
      endpoint: `https://push.example.com/${index}`,
      expirationTime: null,
      keys: { p256dh: publicKey.toString('base64url'), auth: auth.toString('base64url') },
    };
    return { subscription, privateKey: ecdh.getPrivateKey(), publicKey, auth };
  });
}

const decrypt = (body: Buffer | string | undefined, r: ReturnType<typeof receivers>[number]) => {
  assert.ok(Buffer.isBuffer(body), `a body, not ${String(body)}`);
  return decryptAes128gcm(body, r.privateKey, r.publicKey, r.auth).toString();
};

test('is sized one worker per core beside the main thread, from 1 to 4', () => {
  assert.ok(defaultPoolSize() >= 1 && defaultPoolSize() <= 4);
});

test('returns one body per subscription, in order, each decrypting to the payload', async () => {
  const pool = createEncryptPool({ size: 2 });
  try {
    const keys = receivers(70);
    const batches = [keys.slice(0, 32), keys.slice(32, 64), keys.slice(64)];
    const results = await Promise.all(
      batches.map((batch) =>
        pool.encrypt(
          payload,
          batch.map((r) => r.subscription),
        ),
      ),
    );
    results.forEach((bodies, b) => {
      assert.equal(bodies.length, batches[b]?.length);
      bodies.forEach((body, i) => {
        assert.equal(decrypt(body, batches[b]?.[i] as never), payload.toString());
      });
    });
    // A new payload reaches the worker before the batch that needs it.
    const other = Buffer.from('{"title":"Other","body":"second send"}');
    const [first] = keys;
    const [body] = await pool.encrypt(other, [first?.subscription as Subscription]);
    assert.equal(decrypt(body, first as never), other.toString());
  } finally {
    await pool.close();
  }
});

test('gives a key off the P-256 curve its own reason and encrypts the rest of the batch', async () => {
  const pool = createEncryptPool({ size: 1 });
  try {
    const [good, bad] = receivers(2);
    const point = Buffer.from(bad?.subscription.keys.p256dh ?? '', 'base64url');
    point[64] = (point[64] as number) ^ 1;
    const offCurve = {
      ...bad?.subscription,
      keys: { p256dh: point.toString('base64url'), auth: bad?.subscription.keys.auth },
    };
    const [ok, refused] = await pool.encrypt(payload, [
      good?.subscription,
      offCurve,
    ] as Subscription[]);
    assert.equal(decrypt(ok, good as never), payload.toString());
    assert.match(String(refused), /keys\.p256dh.*P-256 curve/);
  } finally {
    await pool.close();
  }
});

test('fails the batches of a worker that exits, with the reason, and replaces the worker', {
  timeout: 30_000,
}, async () => {
  const pool = createEncryptPool({ size: 1, entry: EXITING });
  try {
    const keys = receivers(4);
    const [first, second, third] = await Promise.all(
      [keys.slice(0, 1), keys.slice(1, 3), keys.slice(3)].map((batch) =>
        pool.encrypt(
          payload,
          batch.map((r) => r.subscription),
        ),
      ),
    );
    assert.equal(decrypt(first?.[0], keys[0] as never), payload.toString());
    // The second batch was the worker's last; the third was waiting behind it on the same worker.
    assert.deepEqual(second, Array(2).fill('encryption worker exited (code 3) before encrypting'));
    assert.equal(third?.length, 1);
    assert.equal(typeof third?.[0], 'string');
    // A new worker takes the next batch.
    const [again] = await pool.encrypt(payload, [keys[3]?.subscription as Subscription]);
    assert.equal(decrypt(again, keys[3] as never), payload.toString());
  } finally {
    await pool.close();
  }
});

test('close() fails what is still queued with "shutting down"', async () => {
  const pool = createEncryptPool({ size: 1 });
  const pending = pool.encrypt(
    payload,
    receivers(3).map((r) => r.subscription),
  );
  await pool.close();
  assert.deepEqual(await pending, Array(3).fill('not sent: shutting down'));
});

test('an idle pool that was never closed does not keep the process alive', async () => {
  const dir = await tempDir('swps-pool-');
  const script = join(dir, 'idle-pool.mjs');
  const pool = new URL('../../src/push/encrypt-pool.ts', import.meta.url).href;
  await writeFile(
    script,
    `import { createEncryptPool } from ${JSON.stringify(pool)};
    import { createECDH, randomBytes } from 'node:crypto';
    const p256dh = createECDH('prime256v1').generateKeys().toString('base64url');
    const keys = { p256dh, auth: randomBytes(16).toString('base64url') };
    const pool = createEncryptPool({ size: 1 });
    const subscription = { endpoint: 'https://push.example.com/', expirationTime: null, keys };
    const [body] = await pool.encrypt(Buffer.from('x'), [subscription]);
    console.log(Buffer.isBuffer(body) ? 'encrypted' : body);`,
  );
  try {
    const child = spawn(process.execPath, [...process.execArgv, script], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let output = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      output += chunk;
    });
    const [code] = await once(child, 'exit');
    assert.equal(code, 0);
    assert.equal(output, 'encrypted\n');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('encrypts on this thread the batch queued last that no worker has taken yet', async () => {
  const pool = createEncryptPool({ size: 1 });
  try {
    const keys = receivers(6);
    // One worker takes three batches; the other three wait in the queue.
    const pending = keys.map((r) => pool.encrypt(payload, [r.subscription]));
    const settled: number[] = [];
    for (const [i, bodies] of pending.entries()) bodies.then(() => settled.push(i));
    assert.equal(pool.encryptQueuedHere(), true);
    await Promise.resolve();
    assert.deepEqual(settled, [5], 'the last one, at once, without a worker');
    assert.equal(pool.encryptQueuedHere(), true);
    assert.equal(pool.encryptQueuedHere(), true);
    assert.equal(pool.encryptQueuedHere(), false, 'the rest are with the worker');
    const all = await Promise.all(pending);
    all.forEach(([body], i) => {
      assert.equal(decrypt(body, keys[i] as never), payload.toString());
    });
  } finally {
    await pool.close();
  }
  assert.equal(pool.encryptQueuedHere(), false, 'nothing after close()');
});

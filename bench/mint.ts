import { createECDH, randomBytes } from 'node:crypto';
import { open, writeFile } from 'node:fs/promises';
import type { Subscription } from '../src/store/subscription.ts';
import type { SampleKeys } from './push-server.ts';

/** Subscriptions as browsers would hand them out, and the receiving keys the push service keeps. */
export interface Minted {
  subscriptions: Subscription[];
  receivers: SampleKeys[];
}

/**
 * Mints `count` subscriptions at `<origin>/push/<index>`. The first `distinct` have their own P-256
 * key and auth; later ones reuse those in turn, so 100,000 (for the store alone) take a fraction
 * of a second, not seconds.
 */
export function mint(origin: string, count: number, distinct = count, from = 0): Minted {
  const subscriptions: Subscription[] = [];
  const receivers: SampleKeys[] = [];
  for (let i = 0; i < count; i++) {
    const { privateKey, publicKey, auth } = receivers[i - distinct] ?? receiverKeys();
    const index = from + i;
    subscriptions.push({
      endpoint: `${origin}/push/${index}`,
      expirationTime: null,
      keys: { p256dh: publicKey, auth },
    });
    receivers.push({ index, privateKey, publicKey, auth });
  }
  return { subscriptions, receivers };
}

/**
 * Writes `count` subscriptions at `<origin>/push/<index>` as the store writes them, a chunk at a
 * time: a million never sit in memory at once. Their keys are those of `receivers`, in turn
 * (minted by mint()), so the push service can check a sample.
 */
export async function mintFile(
  file: string,
  origin: string,
  count: number,
  receivers: readonly SampleKeys[],
): Promise<void> {
  const handle = await open(file, 'w', 0o600);
  try {
    if (count === 0) await handle.write('[]\n');
    for (let start = 0; start < count; start += 10_000) {
      const lines: string[] = [];
      for (let index = start; index < Math.min(count, start + 10_000); index++) {
        const keys = receivers[index % receivers.length] as SampleKeys;
        const subscription: Subscription = {
          endpoint: `${origin}/push/${index}`,
          expirationTime: null,
          keys: { p256dh: keys.publicKey, auth: keys.auth },
        };
        lines.push(JSON.stringify(subscription));
      }
      const last = start + 10_000 >= count;
      await handle.write(
        `${start === 0 ? '[\n' : ''}${lines.join(',\n')}${last ? '\n]\n' : ',\n'}`,
      );
    }
  } finally {
    await handle.close();
  }
}

function receiverKeys() {
  const ecdh = createECDH('prime256v1');
  const publicKey = ecdh.generateKeys('base64url');
  const auth = randomBytes(16).toString('base64url');
  return { privateKey: ecdh.getPrivateKey('base64url'), publicKey, auth };
}

/** Writes subscriptions the way the store does (one per line), ready for openStore. */
export async function writeSubscriptions(file: string, subscriptions: Subscription[]) {
  const lines = subscriptions.map((s) => JSON.stringify(s));
  await writeFile(file, `[\n${lines.join(',\n')}\n]\n`, { mode: 0o600 });
}

/** `size` distinct items of `items`, picked at random. */
export function pick<T>(items: readonly T[], size: number): T[] {
  const copy = [...items];
  for (let i = 0; i < Math.min(size, copy.length); i++) {
    const j = i + Math.floor(Math.random() * (copy.length - i));
    [copy[i], copy[j]] = [copy[j] as T, copy[i] as T];
  }
  return copy.slice(0, size);
}

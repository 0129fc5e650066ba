import { readFileSync } from 'node:fs';
import type { BrowserContext } from 'playwright-core';
import type { MintedSubscription } from './push-service.ts';

// Plain JS read as text: a function passed through tsx would carry its __name() helpers along.
const SCRIPT = readFileSync(new URL('./fake-push.js', import.meta.url), 'utf8');

/** Where the page keeps its fake subscription: `{ json, key }`, key being the server key used. */
export const STORAGE_KEY = 'fake-push-subscription';

export interface FakePushOptions {
  /** 'denied' makes Notification.requestPermission() answer as if the person clicked Block. */
  permission?: 'granted' | 'denied';
}

/** Replaces PushManager in every page of `context` with one whose subscriptions `mint` makes. */
export async function fakePush(
  context: BrowserContext,
  mint: () => MintedSubscription,
  options: FakePushOptions = {},
): Promise<void> {
  await context.exposeBinding('__fakePushSubscribe', () => mint());
  const settings = JSON.stringify({ ...options, storageKey: STORAGE_KEY });
  await context.addInitScript({
    content: `globalThis.__fakePushOptions = ${settings};\n${SCRIPT}`,
  });
}

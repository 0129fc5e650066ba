import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { rm } from 'node:fs/promises';
import type { IncomingMessage } from 'node:http';
import { createRequire, syncBuiltinESMExports } from 'node:module';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { HttpError } from '../../src/errors.ts';
import { createRateLimiter } from '../../src/http/rate-limit.ts';
import { createAdmission } from '../../src/pairing/admission.ts';
import { openSpentTokens } from '../../src/pairing/spent-tokens.ts';
import { createPairing } from '../../src/pairing/tokens.ts';
import { openStore } from '../../src/store/file.ts';
import type { SubscriptionStore } from '../../src/store/store.ts';
import { parseShape, type Subscription } from '../../src/store/subscription.ts';
import { tempDir } from '../support/processes.ts';
import { type PushService, startPushService } from '../support/push-service.ts';

// The rule itself, on requests as node:http hands them over: a socket address and headers.
let dir: string;
let push: PushService;
let store: SubscriptionStore;
let admission: ReturnType<typeof createAdmission>;
before(async () => {
  dir = await tempDir('admission-test-');
  push = await startPushService();
  store = await openStore(join(dir, 'subscription.json'));
  admission = createAdmission({
    store,
    pairing: createPairing({ keyFile: join(dir, 'pairing-key') }),
    spent: await openSpentTokens(join(dir, 'spent')),
    failures: createRateLimiter(10),
    log: () => {},
  });
});
after(async () => {
  await store.flush();
  await push.close();
  await rm(dir, { recursive: true, force: true });
});

const request = (remoteAddress: string, headers: Record<string, string>) =>
  ({ socket: { remoteAddress }, headers }) as unknown as IncomingMessage;
const minted = (): Subscription => parseShape(push.subscribe());

test('every stored auth secret is compared with crypto.timingSafeEqual, not looked up', async () => {
  const stored = [minted(), minted(), minted()];
  for (const subscription of stored) await store.add(subscription);
  const crypto = createRequire(import.meta.url)('node:crypto');
  const original = crypto.timingSafeEqual;
  let calls = 0;
  crypto.timingSafeEqual = (a: Buffer, b: Buffer) => {
    calls++;
    return original(a, b);
  };
  syncBuiltinESMExports();
  try {
    const auth = stored[0]?.keys.auth as string;
    const pass = await admission.check(
      request('10.0.0.5', { host: '10.0.0.1:4443', authorization: `Subscription ${auth}` }),
    );
    assert.ok(pass, 'a stored secret admits');
    // The match is the first entry: the others are compared all the same.
    assert.equal(calls, await store.size());
    await assert.rejects(
      admission.check(
        request('10.0.0.5', {
          host: '10.0.0.1:4443',
          authorization: `Subscription ${randomBytes(16).toString('base64url')}`,
        }),
      ),
      (error: unknown) => error instanceof HttpError && error.status === 401,
    );
  } finally {
    crypto.timingSafeEqual = original;
    syncBuiltinESMExports();
  }
});

test('the server’s own browser replaces its old subscription when it names the old secret', async () => {
  const old = minted();
  await store.add(old);
  const pass = await admission.check(
    request('::1', { host: '[::1]:8080', authorization: `Subscription ${old.keys.auth}` }),
  );
  const fresh = minted();
  assert.equal(await pass.add(fresh), 'created');
  assert.equal(await store.get(old.endpoint), undefined);
  assert.ok(await store.get(fresh.endpoint));
  // A wrong secret from the owner is no failure: it subscribes and replaces nothing.
  const other = await admission.check(
    request('127.0.0.1', { host: 'localhost:8080', authorization: 'Subscription wrong' }),
  );
  assert.equal(await other.add(minted()), 'created');
  assert.ok(await store.get(fresh.endpoint));
});

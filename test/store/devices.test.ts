import assert from 'node:assert/strict';
import { test } from 'node:test';
import { HttpError } from '../../src/errors.ts';
import { browserOf, findDevice, listDevices } from '../../src/store/devices.ts';
import type { Subscription } from '../../src/store/subscription.ts';
import { fcmSubscription } from '../support/subscription.ts';

/** A stored subscription at `endpoint`, with `fields` beside. */
const subscription = (endpoint: string, fields: Partial<Subscription> = {}): Subscription => ({
  ...fcmSubscription('x', fields),
  endpoint,
});

test('browserOf tells the browser by its push service, else names the push service', () => {
  assert.equal(browserOf('https://fcm.googleapis.com/fcm/send/x'), 'Chrome');
  assert.equal(browserOf('https://jmt17.google.com/fcm/send/x'), 'Chromium');
  assert.equal(browserOf('https://updates.push.services.mozilla.com/wpush/v2/x'), 'Firefox');
  assert.equal(browserOf('https://web.push.apple.com/x'), 'Safari');
  assert.equal(browserOf('https://wns2-by3p.notify.windows.com/w/?token=x'), 'Edge');
  assert.equal(browserOf('https://127.0.0.1:9443/push/x'), '127.0.0.1:9443');
  assert.equal(browserOf('not a url'), 'unknown');
});

test('listDevices never shows keys, and shows entries without the device fields with defaults', () => {
  const old = subscription('https://fcm.googleapis.com/fcm/send/old');
  const named = subscription('https://updates.push.services.mozilla.com/wpush/v2/n', {
    name: 'Laptop',
    addedAt: '2026-12-01T10:00:00.000Z',
    lastResult: { at: '2026-12-02T10:00:00.000Z', outcome: 'failed', status: 403, reason: 'x' },
  });
  const devices = listDevices([old, named]);
  assert.deepEqual(devices, [
    {
      name: 'Chrome',
      browser: 'Chrome',
      endpoint: old.endpoint,
      addedAt: null,
      lastResult: null,
      latest: false,
    },
    {
      name: 'Laptop',
      browser: 'Firefox',
      endpoint: named.endpoint,
      addedAt: '2026-12-01T10:00:00.000Z',
      lastResult: named.lastResult,
      latest: true,
    },
  ]);
  const text = JSON.stringify(devices);
  for (const { keys } of [old, named]) {
    assert.ok(!text.includes(keys.auth) && !text.includes(keys.p256dh), 'no key is listed');
  }
});

test('findDevice takes a name in any case, or the one name a prefix begins', () => {
  const devices = listDevices([
    subscription('https://fcm.googleapis.com/fcm/send/a', { name: 'Phone' }),
    subscription('https://fcm.googleapis.com/fcm/send/b', { name: 'Phone of Anna' }),
    subscription('https://fcm.googleapis.com/fcm/send/c', { name: 'Laptop' }),
  ]);
  assert.equal(findDevice(devices, 'phone').name, 'Phone', 'a whole name wins over a prefix');
  assert.equal(findDevice(devices, 'PHONE OF').name, 'Phone of Anna');
  assert.equal(findDevice(devices, 'la').name, 'Laptop');
});

test('findDevice answers 422 listing the names to an unknown or ambiguous name', () => {
  const devices = listDevices([
    subscription('https://fcm.googleapis.com/fcm/send/a', { name: 'Phone' }),
    subscription('https://fcm.googleapis.com/fcm/send/b', { name: 'Phablet' }),
    subscription('https://fcm.googleapis.com/fcm/send/c', { name: 'Laptop' }),
  ]);
  const refused = (query: string, message: string) =>
    assert.throws(
      () => findDevice(devices, query),
      (error: unknown) =>
        error instanceof HttpError && error.status === 422 && error.message === message,
    );
  refused('tablet', 'no device is named "tablet": "Phone", "Phablet", "Laptop"');
  refused('ph', '"ph" could be any of 2 devices: "Phone", "Phablet"');
});

test('findDevice lists at most 20 names in its error', () => {
  const devices = listDevices(
    Array.from({ length: 25 }, (_, i) => subscription(`https://fcm.googleapis.com/fcm/send/${i}`)),
  );
  assert.throws(
    () => findDevice(devices, 'nope'),
    /"Chrome 20" and 5 more \(npm run devices lists them\)$/,
  );
});

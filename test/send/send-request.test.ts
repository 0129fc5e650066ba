import assert from 'node:assert/strict';
import { test } from 'node:test';
import { HttpError } from '../../src/errors.ts';
import { APP_NAME, parseSendRequest } from '../../src/send/send-request.ts';
import { EVERY_OPTION, EVERY_OPTION_TIME } from '../support/notification.ts';

const MAX_TTL = 28 * 24 * 60 * 60;

/** Asserts that `input` is refused with an HttpError of `status`. */
function refuses(input: Record<string, unknown>, status: number): void {
  assert.throws(
    () => parseSendRequest(input),
    (error: unknown) => error instanceof HttpError && error.status === status,
    `expected ${status} for ${JSON.stringify(input)}`,
  );
}

test('a message alone gets the app name as title, no delivery options, and goes to the latest', () => {
  assert.deepEqual(parseSendRequest({ body: 'Backup finished' }), {
    notification: { title: APP_NAME, body: 'Backup finished' },
    delivery: {},
    to: 'latest',
  });
});

test('reads every option', () => {
  const request = parseSendRequest({
    body: 'Backup finished',
    title: 'Backups',
    url: 'https://example.com/backups',
    icon: '/icon.svg',
    tag: 'backup',
    ttl: 3600,
    urgency: 'high',
    topic: 'backup_nightly-1',
    to: 'all',
  });
  assert.deepEqual(request, {
    notification: {
      title: 'Backups',
      body: 'Backup finished',
      url: 'https://example.com/backups',
      icon: '/icon.svg',
      tag: 'backup',
    },
    delivery: { ttl: 3600, urgency: 'high', topic: 'backup_nightly-1' },
    to: 'all',
  });
});

test('reads every option of what the notification shows', () => {
  const { notification } = parseSendRequest({ body: 'Disk 91% full', ...EVERY_OPTION });
  const expected = { ...EVERY_OPTION, body: 'Disk 91% full', timestamp: EVERY_OPTION_TIME };
  assert.deepEqual(notification, expected);
});

type Expected = {
  notification?: Record<string, unknown>;
  delivery?: Record<string, unknown>;
  to?: string;
};

const goodOptions: [string, Record<string, unknown>, Expected][] = [
  ['a ttl of digits as a string', { ttl: '60' }, { delivery: { ttl: 60 } }],
  ['a ttl of 0', { ttl: 0 }, { delivery: { ttl: 0 } }],
  ['the longest ttl', { ttl: MAX_TTL }, { delivery: { ttl: MAX_TTL } }],
  ['urgency very-low', { urgency: 'very-low' }, { delivery: { urgency: 'very-low' } }],
  ['urgency low', { urgency: 'low' }, { delivery: { urgency: 'low' } }],
  ['urgency normal', { urgency: 'normal' }, { delivery: { urgency: 'normal' } }],
  ['a 32-character topic', { topic: 'a'.repeat(32) }, { delivery: { topic: 'a'.repeat(32) } }],
  ['an http:// url', { url: 'http://localhost/' }, { notification: { url: 'http://localhost/' } }],
  ['a path url', { url: '/inbox' }, { notification: { url: '/inbox' } }],
  [
    'an https:// icon',
    { icon: 'https://a.example/i.png' },
    { notification: { icon: 'https://a.example/i.png' } },
  ],
  ['to latest', { to: 'latest' }, {}],
  ['a null title', { title: null }, {}],
  ['an appBadge of digits as a string', { appBadge: '7' }, { notification: { appBadge: 7 } }],
  ['an appBadge of 0, which clears it', { appBadge: 0 }, { notification: { appBadge: 0 } }],
  ['false flags, which are left out', { silent: false, renotify: false }, {}],
  ['an empty list of actions', { actions: [] }, {}],
  [
    'a timestamp with an offset and a fraction',
    { timestamp: '2026-12-06T22:30:00.250+01:00' },
    { notification: { timestamp: Date.UTC(2026, 11, 6, 21, 30, 0, 250) } },
  ],
  [
    'one action whose link holds an =',
    { actions: [{ title: 'Log', url: '/log?day=today' }] },
    { notification: { actions: [{ title: 'Log', url: '/log?day=today' }] } },
  ],
];

for (const [what, options, expected] of goodOptions) {
  test(`accepts ${what}`, () => {
    assert.deepEqual(parseSendRequest({ body: 'hi', ...options }), {
      notification: { title: APP_NAME, body: 'hi', ...expected.notification },
      delivery: { ...expected.delivery },
      to: expected.to ?? 'latest',
    });
  });
}

const badOptions: [string, Record<string, unknown>, number][] = [
  ['a missing body', {}, 400],
  ['an empty body', { body: '' }, 400],
  ['a numeric body', { body: 42 }, 400],
  ['a body over 2000 characters', { body: 'x'.repeat(2001) }, 422],
  ['a numeric title', { body: 'hi', title: 7 }, 400],
  ['a title over 200 characters', { body: 'hi', title: 'x'.repeat(201) }, 422],
  ['a negative ttl', { body: 'hi', ttl: -1 }, 422],
  ['a negative ttl string', { body: 'hi', ttl: '-1' }, 422],
  ['a ttl over 28 days', { body: 'hi', ttl: MAX_TTL + 1 }, 422],
  ['a fractional ttl', { body: 'hi', ttl: 1.5 }, 422],
  ['a fractional ttl string', { body: 'hi', ttl: '1.5' }, 422],
  ['a ttl with a unit', { body: 'hi', ttl: '60s' }, 422],
  ['an empty ttl string', { body: 'hi', ttl: '' }, 422],
  ['a boolean ttl', { body: 'hi', ttl: true }, 422],
  ['an unknown urgency', { body: 'hi', urgency: 'urgent' }, 422],
  ['an upper-case urgency', { body: 'hi', urgency: 'HIGH' }, 422],
  ['a numeric urgency', { body: 'hi', urgency: 1 }, 422],
  ['a topic over 32 characters', { body: 'hi', topic: 'a'.repeat(33) }, 422],
  ['a topic with spaces', { body: 'hi', topic: 'nightly backup' }, 422],
  ['a topic with a slash', { body: 'hi', topic: 'a/b' }, 422],
  ['a topic with padding', { body: 'hi', topic: 'abc=' }, 422],
  ['a numeric topic', { body: 'hi', topic: 7 }, 400],
  ['a javascript: url', { body: 'hi', url: 'javascript:alert(1)' }, 422],
  ['a relative url', { body: 'hi', url: 'inbox' }, 422],
  ['an ftp: icon', { body: 'hi', icon: 'ftp://example.com/i.png' }, 422],
  ['a data: icon', { body: 'hi', icon: 'data:image/png;base64,AAAA' }, 422],
  ['an object url', { body: 'hi', url: { href: '/' } }, 400],
  ['an empty recipient', { body: 'hi', to: ' ' }, 422],
  ['a recipient that is not a string', { body: 'hi', to: 5 }, 422],
  ['a recipient longer than a device name', { body: 'hi', to: 'x'.repeat(61) }, 422],
  ['an image that is not a link', { body: 'hi', image: 'cat.png' }, 422],
  ['a badge with a space in its host', { body: 'hi', badge: 'https://a b/' }, 422],
  ['a numeric image', { body: 'hi', image: 5 }, 400],
  ['actions that are not a list', { body: 'hi', actions: { title: 'A', url: '/' } }, 400],
  [
    'three actions',
    { body: 'hi', actions: ['/a', '/b', '/c'].map((url) => ({ title: 'A', url })) },
    422,
  ],
  ['an action without a url', { body: 'hi', actions: [{ title: 'A' }] }, 400],
  ['an action with an empty title', { body: 'hi', actions: [{ title: ' ', url: '/' }] }, 422],
  [
    'an action with a javascript: url',
    { body: 'hi', actions: [{ title: 'A', url: 'javascript:x' }] },
    422,
  ],
  ['a negative appBadge', { body: 'hi', appBadge: -1 }, 422],
  ['a fractional appBadge', { body: 'hi', appBadge: 1.5 }, 422],
  ['an appBadge with letters', { body: 'hi', appBadge: 'three' }, 422],
  ['silent as a string', { body: 'hi', silent: 'yes' }, 400],
  ['requireInteraction as a number', { body: 'hi', requireInteraction: 1 }, 400],
  ['renotify without a tag', { body: 'hi', renotify: true }, 422],
  ['a timestamp that is not ISO 8601', { body: 'hi', timestamp: 'yesterday' }, 422],
  ['a timestamp of a day that does not exist', { body: 'hi', timestamp: '2026-02-30T10:00Z' }, 422],
  ['a date without a time', { body: 'hi', timestamp: '2026-12-06' }, 422],
  ['a timestamp before 1970', { body: 'hi', timestamp: '1969-12-31T23:59:59Z' }, 422],
  ['a numeric timestamp', { body: 'hi', timestamp: 1796592600000 }, 400],
];

for (const [what, input, status] of badOptions) {
  test(`answers ${status} to ${what}`, () => {
    refuses(input, status);
  });
}

test('names the option in the error message', () => {
  const cases: [Record<string, unknown>, RegExp][] = [
    [{}, /body/],
    [{ body: 'hi', ttl: -1 }, /^ttl /],
    [{ body: 'hi', urgency: 'urgent' }, /^urgency must be one of very-low, low, normal, high/],
    [{ body: 'hi', topic: 'a b' }, /^topic /],
    [{ body: 'hi', icon: 'ftp://x' }, /^icon must start with https:\/\/, http:\/\/ or \//],
    [{ body: 'hi', image: 'x' }, /^image must start with/],
    [{ body: 'hi', badge: 'x' }, /^badge must start with/],
    [
      {
        body: 'hi',
        actions: [
          { title: 'A', url: '/' },
          { title: 'B', url: 'x' },
        ],
      },
      /^actions\[1\]\.url /,
    ],
    [{ body: 'hi', actions: [1, 2, 3] }, /^at most 2 actions/],
    [{ body: 'hi', appBadge: -1 }, /^appBadge /],
    [{ body: 'hi', silent: 'no' }, /^silent must be true or false/],
    [{ body: 'hi', renotify: true }, /^renotify needs a tag/],
    [{ body: 'hi', timestamp: 'now' }, /^timestamp must be a date and time in ISO 8601/],
  ];
  for (const [input, message] of cases) assert.throws(() => parseSendRequest(input), { message });
});

test('to is latest by default, all or latest in any case, and otherwise a device name', () => {
  const to = (value: unknown) => parseSendRequest({ body: 'hi', to: value }).to;
  assert.equal(to(undefined), 'latest');
  assert.equal(to('ALL'), 'all');
  assert.equal(to(' Latest '), 'latest');
  assert.deepEqual(to('Chrome on Android'), { name: 'Chrome on Android' });
  assert.deepEqual(to('📱'.repeat(60)), { name: '📱'.repeat(60) }, 'characters, not UTF-16 units');
});

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { HttpError } from '../../src/errors.ts';
import { MAX_PAYLOAD_BYTES } from '../../src/push/options.ts';
import { declarativeMessage, encodePayload } from '../../src/send/declarative.ts';
import { parseSendRequest } from '../../src/send/send-request.ts';
import { checkDeclarative } from '../support/declarative.ts';
import { EVERY_OPTION, everyOptionShown, SILENCE_LINK } from '../support/notification.ts';

const LAPTOP = 'http://localhost:8080';
const PHONE = 'https://192.168.1.20:4443';

/** The payload `npm run send` and POST /api/send would push for `options` to a subscriber at `origin`. */
const payloadFor = (options: Record<string, unknown>, origin: string) => {
  // An empty text measures the rest of the payload; the parser itself refuses one.
  const empty = options.body === '';
  const { notification } = parseSendRequest({
    body: 'Disk 91% full',
    ...options,
    ...(empty ? { body: '-' } : {}),
  });
  return encodePayload(empty ? { ...notification, body: '' } : notification, origin);
};

// Each option set, with the absolute links the sender gave (allowed off the subscriber's origin).
const OPTION_SETS: [string, Record<string, unknown>, string[]][] = [
  ['the message alone', {}, []],
  ['a title, a /path url and a tag', { title: 'Disk', url: '/status', tag: 'disk' }, []],
  [
    'an absolute url elsewhere',
    { url: 'https://grafana.example/d/disk' },
    ['https://grafana.example/d/disk'],
  ],
  [
    'an image, a badge and an icon',
    { image: '/cams/disk.png', badge: '/badge.png', icon: 'https://cdn.example/i.png' },
    ['https://cdn.example/i.png'],
  ],
  [
    'two actions, one relative and one absolute',
    {
      actions: [
        { title: 'Open log', url: '/log' },
        { title: 'Silence for an hour', url: 'https://alerts.example/silence?for=1h' },
      ],
    },
    ['https://alerts.example/silence?for=1h'],
  ],
  ['an app badge', { appBadge: 3 }, []],
  ['an app badge of 0', { appBadge: 0 }, []],
  [
    'silent, requireInteraction, renotify with a tag',
    { silent: true, requireInteraction: true, tag: 't', renotify: true },
    [],
  ],
  ['a timestamp', { timestamp: '2026-12-06T21:30:00Z' }, []],
  ['every option at once', EVERY_OPTION, [SILENCE_LINK]],
];

describe('the payload is a declarative push message', () => {
  for (const [what, options, external] of OPTION_SETS) {
    for (const origin of [LAPTOP, PHONE]) {
      test(`for ${what}, to a subscriber at ${origin}`, () => {
        const checked = checkDeclarative(payloadFor(options, origin), { origin, external });
        assert.deepEqual(checked.problems, []);
        assert.equal(checked.message?.mutable, true, 'our service worker may still show it');
      });
    }
  }

  test('carries each option under its NotificationOptions name, the badge count beside it', () => {
    assert.deepEqual(JSON.parse(payloadFor(EVERY_OPTION, PHONE)), {
      web_push: 8030,
      notification: everyOptionShown(PHONE, 'Disk 91% full'),
      app_badge: 3,
      mutable: true,
    });
  });

  test("without a url, a click opens the root of the subscriber's origin", () => {
    assert.equal(
      declarativeMessage({ title: 'T', body: 'b' }, PHONE).notification.navigate,
      `${PHONE}/`,
    );
  });
});

describe('the 3993-byte limit holds for the whole JSON', () => {
  /** A message text making the payload exactly `bytes` long: 3-byte € and 1-byte x (2000 characters at most). */
  const sized = (bytes: number) => {
    // An empty text is left out: the body member adds `,"body":""` (10 bytes) and the text.
    const rest = bytes - Buffer.byteLength(payloadFor({ body: '' }, LAPTOP)) - 10;
    return { body: '€'.repeat(Math.floor(rest / 3)) + 'x'.repeat(rest % 3) };
  };

  test('accepts exactly 3993 bytes', () => {
    assert.equal(Buffer.byteLength(payloadFor(sized(MAX_PAYLOAD_BYTES), LAPTOP)), 3993);
  });

  test('refuses 3994 bytes with 413, saying by how much and which option is largest', () => {
    assert.throws(
      () => payloadFor(sized(MAX_PAYLOAD_BYTES + 1), LAPTOP),
      (error: unknown) =>
        error instanceof HttpError &&
        error.status === 413 &&
        /^the notification is 3994 bytes as JSON; Web Push allows at most 3993 \(1 over\): its largest option is body, \d+ bytes$/.test(
          error.message,
        ),
    );
  });

  test('names the largest option when it is not the text', () => {
    const long = `/${'a'.repeat(1999)}`;
    assert.throws(() => payloadFor({ body: 'hi', url: long, image: long.slice(0, 1900) }, LAPTOP), {
      status: 413,
      // The link resolved against the origin, in quotes.
      message: new RegExp(`over\\): its largest option is url, ${LAPTOP.length + 2000 + 2} bytes$`),
    });
  });

  test('counts the longer origin: a payload that fits the laptop can be over for the phone', () => {
    const body = sized(MAX_PAYLOAD_BYTES);
    assert.equal(Buffer.byteLength(payloadFor(body, LAPTOP)), MAX_PAYLOAD_BYTES);
    assert.throws(() => payloadFor(body, PHONE), { status: 413 });
  });
});

describe('the checker refuses what the Push API refuses', () => {
  const good = JSON.parse(payloadFor({ url: '/status' }, LAPTOP));
  type Message = Record<string, unknown> & { notification: Record<string, unknown> };
  const cases: [string, (message: Message) => void, RegExp][] = [
    [
      'web_push other than 8030',
      (m) => {
        m.web_push = 8031;
      },
      /web_push is 8031/,
    ],
    [
      'no navigate',
      (m) => {
        delete m.notification.navigate;
      },
      /notification.navigate is missing/,
    ],
    [
      'no title',
      (m) => {
        delete m.notification.title;
      },
      /notification.title is missing/,
    ],
    [
      'a relative navigate',
      (m) => {
        m.notification.navigate = '/status';
      },
      /not an absolute URL/,
    ],
    [
      'a link on another origin',
      (m) => {
        m.notification.icon = 'https://else.example/i.png';
      },
      /is not on http:\/\/localhost:8080/,
    ],
    [
      'a snake_case member',
      (m) => {
        m.notification.require_interaction = true;
      },
      /require_interaction is not a NotificationOptions member/,
    ],
    [
      'mutable inside notification',
      (m) => {
        m.notification.mutable = true;
      },
      /notification.mutable is not a NotificationOptions member/,
    ],
    [
      'a string app_badge',
      (m) => {
        m.app_badge = '3';
      },
      /app_badge is not a 64-bit unsigned integer/,
    ],
    [
      'three actions',
      (m) => {
        m.notification.actions = [1, 2, 3].map((n) => ({
          action: `a${n}`,
          title: 'A',
          navigate: `${LAPTOP}/`,
        }));
      },
      /3 actions, more than 2/,
    ],
    [
      'an action without navigate',
      (m) => {
        m.notification.actions = [{ action: 'a', title: 'A' }];
      },
      /actions\[0\].navigate is missing/,
    ],
    [
      'renotify without tag',
      (m) => {
        m.notification.renotify = true;
      },
      /renotify without tag/,
    ],
    [
      'a boolean given as a string',
      (m) => {
        m.notification.silent = 'true';
      },
      /silent has the wrong type/,
    ],
  ];
  for (const [what, spoil, problem] of cases) {
    test(`refuses ${what}`, () => {
      const message = structuredClone(good);
      spoil(message);
      const { problems } = checkDeclarative(JSON.stringify(message), { origin: LAPTOP });
      assert.match(problems.join('\n'), problem);
    });
  }
});

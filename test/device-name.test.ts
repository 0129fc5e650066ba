import assert from 'node:assert/strict';
import { test } from 'node:test';

// The page's own module: plain JS, with no types, that needs no DOM when given a navigator.
const page: string = '../public/device-name.js';
const { guessDeviceName } = (await import(page)) as { guessDeviceName: (nav: object) => string };

const AGENTS: [string, string, Record<string, unknown>?][] = [
  [
    'Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36',
    'Chrome on Android',
  ],
  [
    'Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1',
    'Safari on iPhone',
  ],
  ['Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0', 'Firefox on Linux'],
  [
    'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0',
    'Edge on Windows',
  ],
  [
    'Mozilla/5.0 (Linux; Android 14; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/26.0 Chrome/122.0.0.0 Mobile Safari/537.36',
    'Samsung Internet on Android',
  ],
  [
    'Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/131.0.6778.73 Mobile/15E148 Safari/604.1',
    'Chrome on iPhone',
  ],
  // An iPad asks for desktop pages and says Macintosh; its touch screen tells it apart.
  [
    'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15',
    'Safari on iPad',
    { maxTouchPoints: 5 },
  ],
  [
    'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15',
    'Safari on macOS',
    { maxTouchPoints: 0 },
  ],
  // A reduced User-Agent: the platform comes from navigator.userAgentData.
  [
    'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36',
    'Chrome on ChromeOS',
    { userAgentData: { platform: 'Chrome OS' } },
  ],
  ['curl/8.11.1', 'Browser'],
];

test('the page names the device "<browser> on <system>" from what the browser says', () => {
  for (const [userAgent, name, more = {}] of AGENTS) {
    assert.equal(guessDeviceName({ userAgent, maxTouchPoints: 0, ...more }), name, userAgent);
  }
});

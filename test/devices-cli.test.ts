import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { generateKeys, saveKeys } from '../src/keys.ts';
import type { Device } from '../src/store/devices.ts';
import { useHarness } from './support/harness.ts';
import { type CliResult, runScript } from './support/processes.ts';
import type { MintedSubscription } from './support/push-service.ts';

// npm run devices and npm run send -- --to <name>, as built, on a folder as the server leaves it.
const { push, env, newDir } = useHarness('swps-devices-cli-');
const parallel = { concurrency: 4 };

/** VAPID keys and one subscription per name (an entry without the device fields for undefined). */
async function devicesNamed(names: (string | undefined)[]) {
  const dir = await newDir();
  await saveKeys(join(dir, 'vapid.json'), generateKeys('mailto:cli-test@example.com'));
  const subs = names.map(() => push().subscribe());
  const entries = subs.map((sub, i) => ({
    ...sub,
    ...(names[i] === undefined ? {} : { name: names[i], addedAt: '2026-12-01T09:30:00.000Z' }),
  }));
  await writeFile(join(dir, 'subscription.json'), JSON.stringify(entries));
  return { dir, subs };
}

async function run(name: 'send' | 'devices', dir: string, args: string[]): Promise<CliResult> {
  const result = await runScript(name, args, { cwd: dir, env: env() });
  assert.doesNotMatch(result.stdout + result.stderr, /\n\s+at |Error:/, 'no stack trace');
  return result;
}

const arrived = (sub: MintedSubscription) =>
  push().received.filter((message) => message.endpoint === sub.endpoint).length;

describe('npm run devices', parallel, () => {
  test('lists name, browser, added and last result, marking the one send reaches by default', async () => {
    const { dir, subs } = await devicesNamed(['Phone', undefined, 'Laptop']);
    const [phone] = subs as [MintedSubscription];
    push().behave(phone.endpoint, { status: 403, body: 'BadJwtToken' });
    assert.equal((await run('send', dir, ['--to', 'phone', 'Hello'])).code, 1);
    const result = await run('devices', dir, []);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stderr, '');
    const lines = result.stdout.split('\n');
    assert.match(lines[0] ?? '', /^ +NAME +BROWSER +ADDED +LAST RESULT$/);
    const host = push().host.replace(/\./g, '\\.');
    assert.match(
      lines[1] ?? '',
      new RegExp(`^ +Phone +${host} +2026-12-01 \\d\\d:\\d\\d +failed just now: 403 BadJwtToken$`),
    );
    // Stored before devices had names: its browser's name (here the push service's host).
    assert.match(lines[2] ?? '', new RegExp(`^ +${host} +${host} +unknown +nothing sent yet$`));
    assert.match(
      lines[3] ?? '',
      new RegExp(`^\\* +Laptop +${host} +2026-12-01 \\d\\d:\\d\\d +nothing sent yet$`),
    );
    assert.match(result.stdout, /\n\* npm run send reaches this one by default/);
  });

  test('--json prints the list as GET /api/devices answers it, never the keys', async () => {
    const { dir, subs } = await devicesNamed(['Phone', 'Laptop']);
    const result = await run('devices', dir, ['--json']);
    assert.equal(result.code, 0, result.stderr);
    const devices = JSON.parse(result.stdout) as Device[];
    assert.deepEqual(
      devices.map(({ name, endpoint, addedAt, lastResult, latest }) => ({
        name,
        endpoint,
        addedAt,
        lastResult,
        latest,
      })),
      [
        {
          name: 'Phone',
          endpoint: subs[0]?.endpoint,
          addedAt: '2026-12-01T09:30:00.000Z',
          lastResult: null,
          latest: false,
        },
        {
          name: 'Laptop',
          endpoint: subs[1]?.endpoint,
          addedAt: '2026-12-01T09:30:00.000Z',
          lastResult: null,
          latest: true,
        },
      ],
    );
    for (const sub of subs) assert.ok(!result.stdout.includes(sub.keys.auth));
  });

  test('says how to subscribe when there is no device, and --help shows the usage', async () => {
    const empty = await run('devices', await newDir(), []);
    assert.equal(empty.code, 0);
    assert.match(empty.stdout, /^No devices yet: open the server’s page and click Subscribe\.\n$/);
    assert.equal((await run('devices', await newDir(), ['--json'])).stdout, '[]\n');
    const help = await run('devices', await newDir(), ['--help']);
    assert.match(help.stdout, /^Usage: npm run devices -- \[--json\]/);
    const wrong = await run('devices', await newDir(), ['--nope']);
    assert.equal(wrong.code, 2);
    assert.match(wrong.stderr, /^error: Unknown option '--nope'/);
  });
});

describe('npm run send -- --to', parallel, () => {
  test('a name in any case reaches that device alone, and records its result', async () => {
    const { dir, subs } = await devicesNamed(['Phone', 'Laptop', 'Tablet']);
    const [phone, laptop, tablet] = subs as [
      MintedSubscription,
      MintedSubscription,
      MintedSubscription,
    ];
    const result = await run('send', dir, ['--to', 'LAPTOP', 'Hello']);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, 'delivered 1\n');
    assert.deepEqual([arrived(phone), arrived(laptop), arrived(tablet)], [0, 1, 0]);
    const stored = JSON.parse(await readFile(join(dir, 'subscription.json'), 'utf8'));
    assert.deepEqual(
      stored.map((s: { lastResult?: { outcome: string } }) => s.lastResult?.outcome),
      [undefined, 'delivered', undefined],
    );
  });

  test('a prefix of one name reaches that device; --to all reaches every one', async () => {
    const { dir, subs } = await devicesNamed(['Phone', 'Laptop', 'Tablet']);
    const [phone, laptop, tablet] = subs as [
      MintedSubscription,
      MintedSubscription,
      MintedSubscription,
    ];
    assert.equal((await run('send', dir, ['--to', 'ta', 'One'])).code, 0);
    assert.deepEqual([arrived(phone), arrived(laptop), arrived(tablet)], [0, 0, 1]);
    const all = await run('send', dir, ['--to', 'all', 'Everyone']);
    assert.equal(all.stdout, 'delivered 3\n');
    assert.deepEqual([arrived(phone), arrived(laptop), arrived(tablet)], [1, 1, 2]);
  });

  test('an unknown or an ambiguous name exits 2, lists the names and sends nothing', async () => {
    const { dir, subs } = await devicesNamed(['Phone', 'Phablet', 'Laptop']);
    const unknown = await run('send', dir, ['--to', 'Tablet', 'Hello']);
    assert.equal(unknown.code, 2);
    assert.equal(unknown.stdout, '');
    assert.equal(
      unknown.stderr.split('\n')[0],
      'error: no device is named "Tablet": "Phone", "Phablet", "Laptop"',
    );
    const ambiguous = await run('send', dir, ['--to', 'ph', 'Hello']);
    assert.equal(ambiguous.code, 2);
    assert.equal(
      ambiguous.stderr.split('\n')[0],
      'error: "ph" could be any of 2 devices: "Phone", "Phablet"',
    );
    assert.deepEqual(subs.map(arrived), [0, 0, 0]);
    const both = await run('send', dir, ['--all', '--to', 'Phone', 'Hello']);
    assert.equal(both.code, 2);
    assert.match(both.stderr, /^error: --all and --to <name> exclude each other/);
  });
});

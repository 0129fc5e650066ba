import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { describe, test } from 'node:test';
import { generateKeys, saveKeys } from '../src/keys.ts';
import { storedProblem } from '../src/store/subscription.ts';
import { checkDeclarative, notificationOf } from './support/declarative.ts';
import { useHarness } from './support/harness.ts';
import { storedByEarlierVersion } from './support/hostile.ts';
import { type CliResult, childEnv, runScript } from './support/processes.ts';
import { type MintedSubscription, startPushService } from './support/push-service.ts';

const { push, env, newDir } = useHarness('swps-cli-');
// Each test has its own directory and endpoints, so the CLIs can run side by side.
const parallel = { concurrency: 4 };

/** A directory as the server leaves it: VAPID keys and `count` subscriptions, newest last. */
async function populated(count: number): Promise<{ dir: string; subs: MintedSubscription[] }> {
  const dir = await newDir();
  await saveKeys(join(dir, 'vapid.json'), generateKeys('mailto:cli-test@example.com'));
  const subs = Array.from({ length: count }, () => push().subscribe());
  await writeFile(join(dir, 'subscription.json'), JSON.stringify(subs));
  return { dir, subs };
}

/** Runs a CLI; no expected outcome ever prints a stack trace. */
async function run(name: 'send' | 'keys', dir: string, args: string[]): Promise<CliResult> {
  const result = await runScript(name, args, { cwd: dir, env: env() });
  assert.doesNotMatch(result.stdout + result.stderr, /\n\s+at |Error:/, 'no stack trace');
  return result;
}

/** What subscription.json holds, as it was written; `results` records each send's lastResult. */
const storedWithResults = async (
  dir: string,
): Promise<(MintedSubscription & { lastResult?: unknown })[]> =>
  JSON.parse(await readFile(join(dir, 'subscription.json'), 'utf8'));
/** The subscriptions in subscription.json, without the results the send recorded in it. */
const stored = async (dir: string): Promise<MintedSubscription[]> =>
  (await storedWithResults(dir)).map(({ lastResult: _, ...subscription }) => subscription);
const vapidOf = async (dir: string) => JSON.parse(await readFile(join(dir, 'vapid.json'), 'utf8'));
const arrived = (sub: MintedSubscription) =>
  push().received.filter((message) => message.endpoint === sub.endpoint);

/** An error line, a blank line, then the help text. */
function assertUsage(result: CliResult, label = ''): void {
  assert.equal(result.code, 2, `${label}: ${result.stderr}`);
  assert.equal(result.stdout, '', label);
  const [first, blank, usage] = result.stderr.split('\n');
  assert.match(first ?? '', /^error: \S/, label);
  assert.equal(blank, '', label);
  assert.match(usage ?? '', /^Usage: npm run /, label);
}

describe('npm run send', parallel, () => {
  test('sends the message to the latest subscription with the default title', async () => {
    const { dir, subs } = await populated(2);
    const [older, latest] = subs as [MintedSubscription, MintedSubscription];
    const result = await run('send', dir, ['Backup', 'finished']);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, 'delivered 1\n');
    assert.equal(arrived(older).length, 0);
    const [message] = arrived(latest);
    // Stored without an origin: links on the first one the server names (HTTP_PORT 8080).
    assert.deepEqual(JSON.parse(message?.payload ?? ''), {
      web_push: 8030,
      notification: {
        title: 'Simple Web Push',
        body: 'Backup finished',
        navigate: 'http://localhost:8080/',
      },
      mutable: true,
    });
    assert.equal(message?.ttl, 86400);
    assert.equal(message?.vapidPublicKey, (await vapidOf(dir)).publicKey);
    assert.equal(message?.claims.sub, 'mailto:cli-test@example.com');
  });

  test('passes --title --url --icon --tag --ttl --urgency --topic through as given', async () => {
    const { dir, subs } = await populated(1);
    const result = await run('send', dir, [
      ...['--title', 'Deploy', '--url', 'https://example.com/runs/7', '--icon', '/icon.png'],
      ...['--tag', 'deploy', '--ttl', '120', '--urgency', 'low', '--topic', 'deploy-7'],
      'Deploy done',
    ]);
    assert.equal(result.code, 0, result.stderr);
    const [message] = arrived(subs[0] as MintedSubscription);
    assert.deepEqual(notificationOf(message?.payload), {
      title: 'Deploy',
      body: 'Deploy done',
      navigate: 'https://example.com/runs/7',
      tag: 'deploy',
      icon: 'http://localhost:8080/icon.png',
    });
    assert.equal(message?.ttl, 120);
    assert.equal(message?.urgency, 'low');
    assert.equal(message?.topic, 'deploy-7');
  });

  test("--all resolves a /path link against each subscription's own origin", async () => {
    const { dir, subs } = await populated(3);
    const [laptop, phone, old] = subs as [
      MintedSubscription,
      MintedSubscription,
      MintedSubscription,
    ];
    const origins = ['http://localhost:9090', 'https://10.77.0.1:4443'];
    const entries = [{ ...laptop, origin: origins[0] }, { ...phone, origin: origins[1] }, old];
    await writeFile(join(dir, 'subscription.json'), JSON.stringify(entries));
    const result = await runScript(
      'send',
      ['--all', '--url', '/status', '--action', 'Log=/log', 'Disk 91% full'],
      { cwd: dir, env: env({ HTTP_PORT: '9191' }) },
    );
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, 'delivered 3\n');
    // The entry stored without an origin gets the first one this configuration names.
    const expected = [...origins, 'http://localhost:9191'];
    for (const [index, sub] of [laptop, phone, old].entries()) {
      const origin = expected[index] as string;
      const [message] = arrived(sub);
      const { problems, notification } = checkDeclarative(message?.payload ?? '', { origin });
      assert.deepEqual(problems, []);
      assert.equal(notification?.navigate, `${origin}/status`);
    }
    assert.deepEqual(await stored(dir), entries, 'the store is left as it was');
  });

  test('--all reaches every stored subscription exactly once', async () => {
    const { dir, subs } = await populated(3);
    const result = await run('send', dir, ['--all', 'To everyone']);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, 'delivered 3\n');
    for (const sub of subs) assert.equal(arrived(sub).length, 1);
  });

  test('still delivers to subscriptions stored before the stricter checks, and leaves them be', async () => {
    const { dir, subs } = await populated(3);
    const legacy = storedByEarlierVersion(subs);
    for (const entry of legacy) assert.ok(storedProblem(entry), 'refused if it were posted today');
    await writeFile(join(dir, 'subscription.json'), JSON.stringify(legacy));
    const result = await run('send', dir, ['--all', 'Still here']);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, 'delivered 3\n');
    for (const sub of subs) assert.equal(arrived(sub).length, 1);
    assert.deepEqual(await stored(dir), legacy);
    for (const entry of await storedWithResults(dir)) {
      assert.equal((entry.lastResult as { outcome: string }).outcome, 'delivered');
    }
  });

  test('removes the temp file a killed write left, saying so in one line on stderr', async () => {
    const { dir, subs } = await populated(1);
    const dead = spawn(process.execPath, ['-e', '']);
    await once(dead, 'exit');
    const writer = (dead.pid as number).toString(16).padStart(8, '0');
    const leftover = `.subscription.json.${writer}0badf00d.tmp`;
    await writeFile(join(dir, leftover), '[{"endpoint": "https://fcm.goo');
    const result = await run('send', dir, ['Hello']);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(
      result.stderr,
      `Removed 1 temp file(s) left in ${dir} by an interrupted write of subscription.json.\n`,
    );
    assert.equal(result.stdout, 'delivered 1\n');
    assert.deepEqual((await readdir(dir)).sort(), ['subscription.json', 'vapid.json']);
    assert.deepEqual(await stored(dir), subs);
  });

  test('removes the subscriptions answered 410 and 404 and prints "removed"', async () => {
    const { dir, subs } = await populated(3);
    const [gone410, gone404, alive] = subs as [MintedSubscription, ...MintedSubscription[]];
    push().behave(gone410.endpoint, { status: 410 });
    push().behave(gone404?.endpoint ?? '', { status: 404 });
    const result = await run('send', dir, ['--all', 'Anyone there?']);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /^delivered 1\nremoved 2 expired/);
    assert.deepEqual(await stored(dir), [alive]);
  });

  test('exits 1 when nothing was delivered because the only subscription is gone', async () => {
    const { dir, subs } = await populated(1);
    push().behave(subs[0]?.endpoint ?? '', { status: 410 });
    const result = await run('send', dir, ['Hello']);
    assert.equal(result.code, 1);
    assert.match(result.stdout, /^removed 1 expired/);
    assert.equal(
      result.stderr,
      'error: nothing was delivered: the subscription is gone; subscribe again\n',
    );
    assert.deepEqual(await stored(dir), []);
  });

  test('keeps the subscription on 429 and 500, prints status and reason on stderr, and exits 1', async () => {
    const { dir, subs } = await populated(3);
    const [limited, broken] = subs as [MintedSubscription, MintedSubscription];
    // Longer than the CLI's longest honoured Retry-After (60 s): it fails at once.
    push().behave(limited.endpoint, { status: 429, retryAfter: 3600, body: 'slow down' });
    push().behave(broken.endpoint, { status: 500, body: 'push service broke' });
    const result = await run('send', dir, ['--all', 'Hello']);
    assert.equal(result.code, 1);
    // `npm run send ... >/dev/null` in a script still shows what went wrong.
    assert.equal(result.stdout, 'delivered 1\n');
    const lines = result.stderr.trimEnd().split('\n');
    assert.equal(lines[0], 'failed 2');
    assert.deepEqual(lines.slice(1).sort(), [
      `  ${push().host}: 429 slow down`,
      `  ${push().host}: 500 push service broke`,
    ]);
    assert.deepEqual(await stored(dir), subs);
  });

  test('with no subscription stored, exits 1 with one line saying to subscribe', async () => {
    const dir = await newDir();
    await saveKeys(join(dir, 'vapid.json'), generateKeys());
    const result = await run('send', dir, ['Hello']);
    assert.equal(result.code, 1);
    assert.equal(result.stdout, '');
    assert.equal(
      result.stderr,
      'error: no subscription is stored yet: open the page and click Subscribe\n',
    );
  });

  test('exits 2 with a one-line error and the help on wrong usage, sending nothing', async () => {
    const { dir, subs } = await populated(1);
    const wrong = [
      ['--nope', 'Hello'],
      ['--urgency', 'asap', 'Hello'],
      ['--ttl', 'soon', 'Hello'],
      ['--ttl', '-1', 'Hello'],
      ['--ttl=-1', 'Hello'],
      ['--title', 'No message'],
      ['--json', '--quiet', 'Hello'],
      [],
      ['--action', 'Open the log', 'Hello'],
      ['--renotify', 'Hello'],
      ['--app-badge', 'lots', 'Hello'],
    ];
    const results = await Promise.all(wrong.map((args) => run('send', dir, args)));
    results.forEach((result, i) => {
      assertUsage(result, `send ${wrong[i]?.join(' ')}`);
    });
    assert.match(results[1]?.stderr ?? '', /^error: urgency must be one of very-low, low/);
    assert.match(results[2]?.stderr ?? '', /^error: ttl must be whole seconds/);
    assert.match(
      results[3]?.stderr ?? '',
      /^error: Option '--ttl' argument is ambiguous\. Did you forget/,
    );
    assert.match(results[4]?.stderr ?? '', /^error: ttl must be whole seconds/);
    assert.match(results[5]?.stderr ?? '', /^error: the message is missing/);
    assert.match(results[6]?.stderr ?? '', /^error: --json and --quiet exclude each other/);
    assert.match(results[8]?.stderr ?? '', /^error: --action must be "Title=URL", such as/);
    assert.match(results[9]?.stderr ?? '', /^error: renotify needs a tag/);
    assert.match(results[10]?.stderr ?? '', /^error: appBadge must be a whole number/);
    assert.equal(arrived(subs[0] as MintedSubscription).length, 0);
  });

  test('--help prints the usage and exits 0', async () => {
    const result = await run('send', await newDir(), ['--help']);
    assert.equal(result.code, 0);
    assert.match(result.stdout, /^Usage: npm run send -- \[options\] "message"/);
    const options = ['--urgency', '--json', '--quiet', '--image', '--badge', '--icon', '--action'];
    options.push('--app-badge', '--silent', '--require-interaction', '--renotify', '--timestamp');
    for (const option of options) assert.match(result.stdout, new RegExp(`^  ${option} `, 'm'));
    assert.match(result.stdout, /A message of - is read from standard input/);
    assert.equal(result.stderr, '');
  });
});

describe('npm run send in scripts', parallel, () => {
  /** A directory with one subscription delivered, one gone (410) and one failing (500). */
  async function mixed() {
    const { dir, subs } = await populated(3);
    const [alive, gone, broken] = subs as [MintedSubscription, ...MintedSubscription[]];
    push().behave(gone?.endpoint ?? '', { status: 410 });
    push().behave(broken?.endpoint ?? '', { status: 500, body: 'push service broke' });
    return { dir, alive };
  }
  const failure = { host: '', status: 500, reason: 'push service broke' };

  test('--json prints the report alone on stdout, and the failures on stderr too', async () => {
    const { dir } = await mixed();
    const result = await run('send', dir, ['--all', '--json', 'Hello']);
    assert.equal(result.code, 1);
    const report = { delivered: 1, removed: 1, failed: [{ ...failure, host: push().host }] };
    assert.equal(result.stdout, `${JSON.stringify(report)}\n`);
    assert.equal(result.stderr, `failed 1\n  ${push().host}: 500 push service broke\n`);
  });

  test('--quiet prints nothing when everything was delivered, and still every failure', async () => {
    const { dir } = await populated(1);
    const quiet = await run('send', dir, ['--quiet', 'Hello']);
    assert.deepEqual(quiet, { code: 0, stdout: '', stderr: '' });
    const { dir: other } = await mixed();
    const failed = await run('send', other, ['--all', '--quiet', 'Hello']);
    assert.equal(failed.code, 1);
    assert.equal(failed.stdout, '');
    assert.equal(failed.stderr, `failed 1\n  ${push().host}: 500 push service broke\n`);
  });

  test('reads a message of - from standard input, without its final newline', async () => {
    const { dir, subs } = await populated(1);
    const input = 'Filesystem  Size  Use%\n/dev/sda1    20G   91%\n';
    const result = await runScript('send', ['--title', 'Disk', '-'], {
      cwd: dir,
      env: env(),
      input,
    });
    assert.equal(result.code, 0, result.stderr);
    const [message] = arrived(subs[0] as MintedSubscription);
    assert.equal(notificationOf(message?.payload).title, 'Disk');
    assert.equal(notificationOf(message?.payload).body, input.trimEnd());
  });

  test('takes 2000 characters from standard input and refuses one more, or none', async () => {
    const { dir, subs } = await populated(1);
    const stdin = (input: string) => runScript('send', ['-'], { cwd: dir, env: env(), input });
    // 3000 bytes in UTF-8: the limit counts characters, as for the API's body.
    const [longest, over, empty] = await Promise.all([
      stdin(`${'é'.repeat(1000)}${'x'.repeat(1000)}\n`),
      stdin('x'.repeat(2001)),
      stdin('\n'),
    ]);
    assert.equal(longest.code, 0, longest.stderr);
    assert.equal(
      String(notificationOf(arrived(subs[0] as MintedSubscription)[0]?.payload).body).length,
      2000,
    );
    assertUsage(over);
    assert.match(over.stderr, /^error: the message from standard input is over 2000 characters/);
    assertUsage(empty);
    assert.match(empty.stderr, /^error: the message from standard input is empty/);
    assert.equal(arrived(subs[0] as MintedSubscription).length, 1);
  });

  test('stops reading endless standard input at the limit and says so', {
    timeout: 30_000,
  }, async () => {
    const { dir, subs } = await populated(1);
    // Never ends: a CLI that read it to the end would never exit.
    const endless = Readable.from(
      (function* () {
        for (;;) yield Buffer.alloc(64 * 1024, 'y');
      })(),
    );
    const result = await runScript('send', ['-'], { cwd: dir, env: env(), input: endless });
    assertUsage(result);
    assert.match(result.stderr, /^error: the message from standard input is over 2000 characters/);
    assert.equal(arrived(subs[0] as MintedSubscription).length, 0);
  });
});

describe('npm run keys', parallel, () => {
  test('creates vapid.json with mode 0600 and prints the public key', async () => {
    const dir = await newDir();
    const result = await run('keys', dir, []);
    assert.equal(result.code, 0, result.stderr);
    assert.equal((await stat(join(dir, 'vapid.json'))).mode & 0o777, 0o600);
    const keys = await vapidOf(dir);
    assert.equal(result.stdout.trimEnd().split('\n').at(-1), keys.publicKey);
    assert.equal(Buffer.from(keys.publicKey, 'base64url').length, 65);
    assert.match(result.stdout, /^Created VAPID keys/);
  });

  test('refuses to replace existing keys without --force and says why', async () => {
    const { dir } = await populated(1);
    const before = await readFile(join(dir, 'vapid.json'), 'utf8');
    const result = await run('keys', dir, []);
    assert.equal(result.code, 1);
    assert.equal(result.stdout, '');
    assert.equal(result.stderr.trimEnd().split('\n').length, 1);
    assert.match(result.stderr, /already holds keys/);
    assert.match(result.stderr, /every stored subscription.*bound to the old public key/);
    assert.match(result.stderr, /--force/);
    assert.equal(await readFile(join(dir, 'vapid.json'), 'utf8'), before);
  });

  test('--force replaces the keys and says browsers must subscribe again', async () => {
    const { dir } = await populated(1);
    const before = await vapidOf(dir);
    const result = await run('keys', dir, ['--force']);
    assert.equal(result.code, 0, result.stderr);
    const after = await vapidOf(dir);
    assert.notEqual(after.publicKey, before.publicKey);
    assert.notEqual(after.privateKey, before.privateKey);
    assert.equal(after.subject, before.subject);
    assert.equal((await stat(join(dir, 'vapid.json'))).mode & 0o777, 0o600);
    assert.match(result.stdout, /^Replaced VAPID keys/);
    assert.match(result.stdout, /subscribe again/);
    assert.equal(result.stdout.trimEnd().split('\n').at(-1), after.publicKey);
  });

  test('--subject alone changes the subject and keeps the keys', async () => {
    const { dir } = await populated(1);
    const before = await vapidOf(dir);
    const result = await run('keys', dir, ['--subject', 'https://ops.example.org/contact']);
    assert.equal(result.code, 0, result.stderr);
    assert.deepEqual(await vapidOf(dir), { ...before, subject: 'https://ops.example.org/contact' });
    assert.match(result.stdout, /keys are unchanged/);
  });

  test('refuses a localhost subject with exit 2 and the Apple explanation', async () => {
    const { dir } = await populated(1);
    const before = await readFile(join(dir, 'vapid.json'), 'utf8');
    const fresh = await newDir();
    const results = await Promise.all([
      run('keys', dir, ['--subject', 'mailto:me@localhost']),
      run('keys', dir, ['--subject', 'https://localhost:4443']),
      run('keys', fresh, ['--subject', 'mailto:me@localhost']),
    ]);
    for (const result of results) {
      assertUsage(result);
      assert.match(result.stderr, /^error: .*localhost.*Apple rejects/);
    }
    assert.equal(await readFile(join(dir, 'vapid.json'), 'utf8'), before);
    await assert.rejects(stat(join(fresh, 'vapid.json')), { code: 'ENOENT' });
  });

  test('--help prints the usage and exits 0', async () => {
    const result = await run('keys', await newDir(), ['--help']);
    assert.equal(result.code, 0);
    assert.match(result.stdout, /^Usage: npm run keys/);
    assert.equal(result.stderr, '');
  });
});

test('PUSH_HTTP2=1: send --all carries its requests as HTTP/2 streams on a few connections', async () => {
  // Slow answers keep every request of the send in flight at once; 250 also takes the workers.
  const slow = await startPushService({ latencyMs: 300 });
  try {
    const dir = await newDir();
    await saveKeys(join(dir, 'vapid.json'), generateKeys('mailto:cli-test@example.com'));
    const subs = Array.from({ length: 250 }, () => slow.subscribe());
    await writeFile(join(dir, 'subscription.json'), JSON.stringify(subs));
    const env = childEnv(slow, { PUSH_HTTP2: '1' });
    const result = await runScript('send', ['--all', 'Hello'], { cwd: dir, env });
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, 'delivered 250\n');
    assert.deepEqual(
      new Set(slow.received.map((message) => message.httpVersion)),
      new Set(['2.0']),
    );
    // Up to 160 in flight, 100 streams a connection: two connections, not one per request, and
    // not one request at a time on each.
    assert.ok(slow.maxInFlight >= 100, `at most ${slow.maxInFlight} in flight at once`);
    assert.ok(slow.connections <= 2, `${slow.connections} connections`);
  } finally {
    await slow.close();
  }
});

import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { generateKeys, saveKeys } from '../src/keys.ts';
import { POOL_THRESHOLD } from '../src/push/pusher.ts';
import { notificationOf } from './support/declarative.ts';
import { postSubscription, useHarness } from './support/harness.ts';
import { ROOT, runScript, type ServerProcess, STRIPS_TYPES } from './support/processes.ts';

const { push, env, newDir, start } = useHarness('swps-startup-');
const PRELOAD = join(ROOT, 'test/support/loaded-modules.cjs');
const listing = { NODE_OPTIONS: `--require ${JSON.stringify(PRELOAD)}` };

/** The package files a process loaded, from the line the preload printed as it exited. */
function loaded(output: string): string[] {
  const line = /^loaded modules: (.*)$/m.exec(output)?.[1];
  assert.ok(line, `no list of loaded modules in:\n${output}`);
  return JSON.parse(line);
}
const packagesOf = (files: string[]) => [...new Set(files.map((file) => file.split('/')[0] ?? ''))];

/** Subscribes through `server` and waits for the welcome push to arrive. */
async function subscribeTo(server: ServerProcess): Promise<void> {
  const response = await postSubscription(server.httpUrl, push().subscribe());
  const answer = await response.body.json();
  assert.equal(response.statusCode, 201);
  assert.deepEqual(answer, {
    subscription: 'created',
    welcome: { delivered: true, removed: false },
  });
}

describe('what each entry point loads', () => {
  test('npm run send loads web-push and undici only once there is something to send', async () => {
    const dir = await newDir();
    for (const args of [['--help'], ['--urgency', 'asap', 'Hello'], ['--nope'], []]) {
      const result = await runScript('send', args, { cwd: dir, env: env(listing) });
      assert.deepEqual(loaded(result.stderr), [], `send ${args.join(' ')}`);
    }
    await saveKeys(join(dir, 'vapid.json'), generateKeys());
    await writeFile(join(dir, 'subscription.json'), JSON.stringify([push().subscribe()]));
    const sent = await runScript('send', ['Hello'], { cwd: dir, env: env(listing) });
    assert.equal(sent.code, 0, sent.stderr);
    const packages = packagesOf(loaded(sent.stderr));
    for (const name of ['web-push', 'undici']) assert.ok(packages.includes(name), name);
    for (const name of ['selfsigned', '@peculiar']) assert.ok(!packages.includes(name), name);
    assert.match(sent.stderr, /^worker threads started: 0$/m, 'one message encrypts here');
  });

  test(`npm run send -- --all starts encryption workers for ${POOL_THRESHOLD} subscriptions`, async () => {
    const dir = await newDir();
    await saveKeys(join(dir, 'vapid.json'), generateKeys());
    const many = Array.from({ length: POOL_THRESHOLD }, () => push().subscribe());
    await writeFile(join(dir, 'subscription.json'), JSON.stringify(many));
    const sent = await runScript('send', ['--all', 'To many'], { cwd: dir, env: env(listing) });
    assert.equal(sent.code, 0, sent.stderr);
    assert.equal(sent.stdout, `delivered ${POOL_THRESHOLD}\n`);
    assert.match(sent.stderr, /^worker threads started: [1-4]$/m);
  });

  test("the server loads undici's Agent and request, not the rest of undici", async () => {
    const server = await start({ env: listing });
    await subscribeTo(server);
    assert.equal(await server.stop(), 0);
    const files = loaded(server.output());
    assert.ok(files.includes('undici/lib/dispatcher/agent.js'));
    assert.ok(files.includes('undici/lib/api/api-request.js'));
    assert.ok(files.includes('web-push/src/index.js'));
    const unused = files.filter(
      (file) => file === 'undici/index.js' || /^undici\/lib\/web\//.test(file),
    );
    assert.deepEqual(unused, [], 'no fetch, WebSocket, EventSource or caches');
  });

  test('the server loads the X.509 code only when it makes a certificate', async () => {
    const dir = await newDir();
    const runs: string[][] = [];
    for (let run = 0; run < 2; run++) {
      const server = await start({ dir, env: listing });
      assert.equal(await server.stop(), 0);
      runs.push(packagesOf(loaded(server.output())));
    }
    assert.ok(runs[0]?.includes('@peculiar'), 'the first start makes the certificates');
    assert.ok(!runs[1]?.includes('@peculiar'), 'the second start reuses them');
    assert.ok(!runs.flat().includes('selfsigned'), 'selfsigned is for the tests only');
  });
});

const noStripping = `Node ${process.version} does not run .ts files itself (22.18 and later do)`;

describe('the sources, run by plain node without a build or a loader', {
  skip: STRIPS_TYPES ? false : noStripping,
}, () => {
  test('node src/server.ts stores a subscription and pushes the welcome; node scripts/send.ts pushes', async () => {
    const server = await start({ source: true });
    assert.doesNotMatch(server.output(), /error|warning/i);
    await subscribeTo(server);
    const sent = await runScript('send', ['From the sources'], {
      cwd: server.dir,
      env: env(),
      source: true,
    });
    assert.equal(sent.code, 0, sent.stderr);
    assert.equal(sent.stdout, 'delivered 1\n');
    assert.equal(await server.stop(), 0);
    const texts = push().received.map((message) => notificationOf(message.payload).body);
    assert.ok(texts.includes('From the sources'));
  });
});

import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { generateKeys, saveKeys } from '../src/keys.ts';
import { POOL_THRESHOLD } from '../src/push/pusher.ts';
import { notificationOf } from './support/declarative.ts';
import { postSubscription, useHarness } from './support/harness.ts';
import { postgresOrReason, usePostgres } from './support/postgres.ts';
import { ROOT, runScript, type ServerProcess, STRIPS_TYPES } from './support/processes.ts';

const { push, env, newDir, start } = useHarness('swps-startup-');
const postgresFound = postgresOrReason();
const cluster = usePostgres(postgresFound.bin);
// The packages that only DATABASE_URL may load.
const POSTGRES_PACKAGES = ['pg', 'pg-pool', 'pg-protocol', 'pg-boss'];
const PRELOAD = join(ROOT, 'test/support/loaded-modules.cjs');
const listing = { NODE_OPTIONS: `--require ${JSON.stringify(PRELOAD)}` };

/** [script, package files] for each process, from the lines the preload printed as they exited. */
function loadedBy(output: string): [string, string[]][] {
  const lines = output.matchAll(/^loaded modules \((.+?)\): (.*)$/gm);
  return [...lines].map(([, script = '', list = '']) => [script, JSON.parse(list)]);
}
/** The package files that `script` (the main script's file name) loaded. */
function loaded(output: string, script: string): string[] {
  const files = loadedBy(output).find(([name]) => name === script)?.[1];
  assert.ok(files, `no list of modules loaded by ${script} in:\n${output}`);
  return files;
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
      assert.deepEqual(loaded(result.stderr, 'send.js'), [], `send ${args.join(' ')}`);
    }
    await saveKeys(join(dir, 'vapid.json'), generateKeys());
    await writeFile(join(dir, 'subscription.json'), JSON.stringify([push().subscribe()]));
    const sent = await runScript('send', ['Hello'], { cwd: dir, env: env(listing) });
    assert.equal(sent.code, 0, sent.stderr);
    const packages = packagesOf(loaded(sent.stderr, 'send.js'));
    for (const name of ['web-push', 'undici']) assert.ok(packages.includes(name), name);
    for (const name of ['selfsigned', '@peculiar', ...POSTGRES_PACKAGES]) {
      assert.ok(!packages.includes(name), name);
    }
    assert.match(
      sent.stderr,
      /^worker threads started \(send\.js\): 0$/m,
      'one message encrypts here',
    );
  });

  test(`npm run send -- --all starts encryption workers for ${POOL_THRESHOLD} subscriptions`, async () => {
    const dir = await newDir();
    await saveKeys(join(dir, 'vapid.json'), generateKeys());
    const many = Array.from({ length: POOL_THRESHOLD }, () => push().subscribe());
    await writeFile(join(dir, 'subscription.json'), JSON.stringify(many));
    const sent = await runScript('send', ['--all', 'To many'], { cwd: dir, env: env(listing) });
    assert.equal(sent.code, 0, sent.stderr);
    assert.equal(sent.stdout, `delivered ${POOL_THRESHOLD}\n`);
    assert.match(sent.stderr, /^worker threads started \(send\.js\): [1-4]$/m);
  });

  test("the server loads undici's Agent, not the rest of undici", async () => {
    const server = await start({ env: listing });
    await subscribeTo(server);
    assert.equal(await server.stop(), 0);
    const files = loaded(server.output(), 'server.js');
    assert.ok(files.includes('undici/lib/dispatcher/agent.js'));
    assert.ok(files.includes('web-push/src/index.js'));
    const unused = files.filter(
      (file) => file === 'undici/index.js' || /^undici\/lib\/(web|api)\//.test(file),
    );
    assert.deepEqual(unused, [], 'no fetch, WebSocket, EventSource, caches or request()');
    const postgres = packagesOf(files).filter((name) => POSTGRES_PACKAGES.includes(name));
    assert.deepEqual(postgres, [], 'no PostgreSQL code without DATABASE_URL');
  });

  test('with DATABASE_URL the server and npm run send load pg, and the server pg-boss', {
    skip: postgresFound.skip || postgresFound.missing || false,
  }, async () => {
    const database = await cluster().database();
    const server = await start({ env: { ...listing, DATABASE_URL: database } });
    await subscribeTo(server);
    const sent = await runScript('send', ['Hello'], {
      cwd: server.dir,
      env: env({ ...listing, DATABASE_URL: database }),
    });
    assert.equal(sent.code, 0, sent.stderr);
    assert.equal(await server.stop(), 0);
    assert.deepEqual(
      packagesOf(loaded(server.output(), 'server.js'))
        .filter((name) => POSTGRES_PACKAGES.includes(name))
        .sort(),
      [...POSTGRES_PACKAGES].sort(),
    );
    const cli = packagesOf(loaded(sent.stderr, 'send.js'));
    assert.ok(cli.includes('pg'));
    assert.ok(!cli.includes('pg-boss'), 'a send to one needs no queue');
  });

  test('the server makes certificates in a child process, and only that child loads the X.509 code', async () => {
    const dir = await newDir();
    const X509 = ['@peculiar', 'selfsigned'];
    /** Which of the X.509 packages each process of a start with TLS_NAMES=`names` loaded. */
    const startWith = async (names: string) => {
      const server = await start({ dir, env: { ...listing, TLS_NAMES: names } });
      assert.equal(await server.stop(), 0);
      const byScript = loadedBy(server.output());
      const scripts = byScript.map(([script]) => script);
      assert.equal(new Set(scripts).size, scripts.length, `one process of each: ${scripts}`);
      const packages = (files: string[]) => packagesOf(files).filter((name) => X509.includes(name));
      return Object.fromEntries(byScript.map(([script, files]) => [script, packages(files)]));
    };
    const maker = { 'maker.js': X509 };
    assert.deepEqual(
      await startWith(''),
      { 'server.js': [], ...maker },
      'makes CA and certificate',
    );
    assert.deepEqual(await startWith(''), { 'server.js': [] }, 'a restart reuses them');
    const renamed = await startWith('push.home.arpa');
    assert.deepEqual(renamed, { 'server.js': [], ...maker }, 'a new name: a new certificate');
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

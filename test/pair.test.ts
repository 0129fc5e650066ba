import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startupLines } from '../src/pairing/banner.ts';
import { createPairing } from '../src/pairing/tokens.ts';
import { useHarness } from './support/harness.ts';
import { type Lan, lanOrReason } from './support/lan.ts';
import { type LanServer, startLanServer } from './support/lan-server.ts';
import { type CliResult, ROOT, runScript } from './support/processes.ts';
import { decodeTerminalQr } from './support/qr.ts';

const PAIR = join(ROOT, 'dist/scripts/pair.js');
const LINK = /https:\/\/10\.77\.0\.1:4443\/#pair=([A-Za-z0-9_-]{43})/;
const found = await lanOrReason();
const lan = found.lan as Lan;
after(() => found.lan?.close());

const { push, env, newDir } = useHarness('swps-pair-');

test('a LAN namespace is available for the npm run pair tests', { skip: found.skip }, () => {
  if (found.missing) assert.fail(found.missing);
});

test('npm run pair -- --help shows the usage; an argument is wrong usage (exit 2)', async () => {
  const cwd = await newDir();
  const help = await runScript('pair', ['--help'], { cwd, env: env() });
  assert.equal(help.code, 0);
  assert.match(help.stdout, /^Usage: npm run pair/);
  const wrong = await runScript('pair', ['now'], { cwd, env: env() });
  assert.equal(wrong.code, 2);
  assert.match(wrong.stderr, /^error: .*positional/);
});

test('npm run pair with a loopback HOST fails in one line and makes no key', async () => {
  const cwd = await newDir();
  const result = await runScript('pair', [], { cwd, env: env({ HOST: '127.0.0.1' }) });
  assert.equal(result.code, 1);
  assert.equal(result.stdout, '');
  assert.match(result.stderr, /^error: HOST is 127\.0\.0\.1, .*HOST=0\.0\.0\.0 npm run pair\)\n$/);
  await assert.rejects(stat(join(cwd, 'pairing-key')), /ENOENT/);
});

// The pairing line needs a LAN address: the server runs in the namespace, which has one, so the
// test does not depend on this machine's network (an offline machine rightly says it has none).
test('the server says how to pair at start-up, and never prints a token to a log', {
  skip: found.skip || Boolean(found.missing),
}, async () => {
  const onLan = await runServerBriefly({ HOST: '0.0.0.0' }, lan.spawn);
  assert.match(onLan, /Pair a phone: the page on this machine \("Add a phone"\), or npm run pair/);
  assert.doesNotMatch(onLan, /#pair=/);
});

test('the server on loopback says how to open it to phones', async () => {
  const local = await runServerBriefly({ HOST: '127.0.0.1' });
  assert.match(local, /to pair one, restart with HOST=0\.0\.0\.0 npm start/);
});

test('on a terminal the server draws a QR code of a link that works', async () => {
  const keyFile = join(await newDir(), 'pairing-key');
  const pairing = createPairing({ keyFile });
  const lines = await startupLines({
    lan: { origin: 'https://10.77.0.1:4443' },
    pairing,
    terminal: true,
    certDir: join(ROOT, 'no-such-dir'),
  });
  const text = lines.join('\n');
  const url = LINK.exec(text)?.[0];
  assert.ok(url, text);
  assert.equal(decodeTerminalQr(text), url, 'the QR code is the printed link');
  assert.equal((await pairing.check(LINK.exec(url)?.[1] as string)).status, 'valid');
});

describe('npm run pair in a LAN namespace', { skip: found.skip || Boolean(found.missing) }, () => {
  let dir: string;
  let server: LanServer | undefined;
  before(async () => {
    await lan.expose(Number(new URL(push().origin).port));
    dir = await newDir();
  });
  after(() => server?.stop('SIGKILL'));

  const pairEnv = () => env({ HOST: '0.0.0.0', PORT: '4443' });
  async function pairInside(command: string[]): Promise<CliResult> {
    const child = lan.spawn(command[0] as string, command.slice(1), {
      cwd: dir,
      env: pairEnv(),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout?.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    const [code] = (await once(child, 'close')) as [number | null];
    clearTimeout(timer);
    return { code, stdout, stderr };
  }
  const subscribeWith = (token: string) =>
    (server as LanServer).call('/api/subscriptions', {
      body: push().subscribe(),
      headers: { authorization: `Pairing ${token}` },
    });

  test('without the server running it prints a link (no QR code off a terminal) that the server accepts once started', async () => {
    const result = await pairInside([process.execPath, PAIR]);
    assert.equal(result.code, 0, result.stderr);
    const token = LINK.exec(result.stdout)?.[1];
    assert.ok(token, result.stdout);
    assert.doesNotMatch(result.stdout, /█/);
    assert.equal((await stat(join(dir, 'pairing-key'))).mode & 0o777, 0o600);
    server = await startLanServer(lan, push(), { dir });
    assert.equal((await subscribeWith(token)).status, 201);
    assert.equal((await subscribeWith(token)).status, 401, 'once');
  });

  test('on a terminal it draws the QR code of the link, which the running server accepts', async () => {
    const result = await pairInside(['script', '-qec', `${process.execPath} ${PAIR}`, '/dev/null']);
    assert.equal(result.code, 0, result.stdout + result.stderr);
    const url = LINK.exec(result.stdout);
    assert.ok(url, result.stdout);
    assert.equal(decodeTerminalQr(result.stdout), url[0]);
    assert.equal((await subscribeWith(url[1] as string)).status, 201);
  });
});

/** The server's start-up output in a fresh directory, until it is listening. */
async function runServerBriefly(
  extra: Record<string, string>,
  spawnIn: Lan['spawn'] = spawn,
): Promise<string> {
  const child = spawnIn(process.execPath, [join(ROOT, 'dist/src/server.js')], {
    cwd: await newDir(),
    env: { ...env(extra), PORT: '0', HTTP_PORT: '0' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  const deadline = Date.now() + 10_000;
  while (
    !/Pair a phone|pair one/.test(output) &&
    Date.now() < deadline &&
    child.exitCode === null
  ) {
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  child.kill('SIGKILL');
  await once(child, 'close');
  return output;
}

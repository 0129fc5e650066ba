// The server's certificate on a LAN: the server runs inside a network namespace of the test's
// own (test/support/lan.ts) with LAN addresses 10.77.0.1 and fd77::1; clients trust only ca.pem.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { request } from 'undici';
import { LAN_IPV4, LAN_IPV6, lanOrReason } from './support/lan.ts';
import { type ServerProcess, startServerProcess, tempDir } from './support/processes.ts';

const found = await lanOrReason();

after(async () => {
  await found.lan?.close();
});

test('makes a network namespace for the LAN tests', { skip: found.skip }, () => {
  assert.ok(found.lan, found.missing);
});

describe('the certificate on a LAN', {
  skip: found.skip || found.missing || false,
  timeout: 60_000,
}, () => {
  let dir: string;
  let server: ServerProcess;
  let port: number;
  let ca: string;

  before(async () => {
    dir = await tempDir('tls-lan-test-');
    server = await startServerProcess({
      dir,
      env: { PATH: process.env.PATH, HOST: '::' },
      spawn: (command, args, options) => found.lan?.spawn(command, args, options) as never,
    });
    port = Number(new URL(server.httpsUrl).port);
    ca = await readFile(join(dir, 'certs/ca.pem'), 'utf8');
  });

  after(async () => {
    await server?.stop('SIGKILL');
    await rm(dir, { recursive: true, force: true });
  });

  /** GET over HTTPS from `from` to `host` (the name in the URL), trusting `trust` (null: only the system CAs): the status. */
  async function get(host: string, from: string, trust: string | null = ca): Promise<number> {
    const target = host === 'localhost' ? '127.0.0.1' : host;
    const options = { host: target, from, ...(trust ? { ca: trust } : {}) };
    const dispatcher = await found.lan?.client(port, options);
    const url = `https://${host.includes(':') ? `[${host}]` : host}:${port}/api/vapid-public-key`;
    const response = await request(url, { dispatcher });
    await response.body.text();
    return response.statusCode;
  }

  test('names each LAN URL at start, both in the certificate', () => {
    const lines = server
      .output()
      .split('\n')
      .filter((line) => line.startsWith('LAN: '));
    assert.deepEqual(lines, [
      `LAN: https://${LAN_IPV4}:${port}`,
      `LAN: https://[${LAN_IPV6}]:${port}`,
    ]);
  });

  test('the certificate verifies with a client trusting only ca.pem at the LAN addresses, localhost and 127.0.0.1', async () => {
    assert.equal(await get(LAN_IPV4, LAN_IPV4), 200);
    assert.equal(await get(LAN_IPV6, LAN_IPV6), 200);
    assert.equal(await get('localhost', '127.0.0.1'), 200);
    assert.equal(await get('127.0.0.1', '127.0.0.1'), 200);
    await assert.rejects(get(LAN_IPV4, LAN_IPV4, null), {
      code: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
    });
  });

  test('a new LAN address is covered after SIGHUP, by a certificate from the same CA', async () => {
    const added = '10.77.0.2';
    const ip = found.lan?.spawn('ip', ['addr', 'add', `${added}/24`, 'dev', 'v0'], {
      stdio: 'inherit',
    });
    assert.equal((await once(ip as NonNullable<typeof ip>, 'exit'))[0], 0);
    await assert.rejects(get(added, added), {
      code: 'ERR_TLS_CERT_ALTNAME_INVALID',
    });

    const mark = server.output().length;
    server.child.kill('SIGHUP');
    const deadline = Date.now() + 10_000;
    while (!/SIGHUP: new connections get/.test(server.output().slice(mark))) {
      assert.ok(Date.now() < deadline, server.output());
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    assert.match(
      server.output().slice(mark),
      /Re-issued .*cert\.pem for .*: the old one did not cover 10\.77\.0\.2\./,
    );
    assert.equal(await get(added, added), 200);
    assert.equal(await readFile(join(dir, 'certs/ca.pem'), 'utf8'), ca, 'the same CA');
  });
});

// The LAN namespace the LAN tests use (test/support/lan.ts), tested on its own.
import assert from 'node:assert/strict';
import { type ChildProcess, execFile } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { after, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { request } from 'undici';
import { LAN_IPV4, LAN_IPV6, lanOrReason } from './support/lan.ts';
import { ROOT } from './support/processes.ts';

const found = await lanOrReason();
const children: ChildProcess[] = [];

after(async () => {
  for (const child of children) child.kill('SIGKILL');
  await found.lan?.close();
});

// A test of its own, so missing namespaces show in the summary: skipped with the reason, or
// (CI=true) failed with it.
test('makes a network namespace for the LAN tests', { skip: found.skip }, () => {
  assert.ok(found.lan, found.missing);
});

describe('a LAN namespace', { skip: found.skip || found.missing || false, timeout: 30_000 }, () => {
  /** Runs `node -e script` inside the namespace and reads the first line it prints. */
  async function inside(script: string): Promise<{ child: ChildProcess; line: string }> {
    const child = found.lan?.spawn(process.execPath, ['--input-type=module', '-e', script], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'inherit'],
    }) as ChildProcess;
    children.push(child);
    const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    const [line] = (await once(lines, 'line')) as [string];
    clearTimeout(timer);
    return { child, line };
  }

  test("a server inside sees the client's LAN address, over IPv4 and IPv6", async () => {
    const { line } = await inside(`
      import { createServer } from 'node:http';
      const server = createServer((req, res) => res.end(req.socket.remoteAddress));
      server.listen(0, '::', () => console.log(server.address().port));`);
    const port = Number(line);
    for (const address of [LAN_IPV4, LAN_IPV6]) {
      const dispatcher = await found.lan?.client(port, { host: address, from: address });
      const url = `http://${address.includes(':') ? `[${address}]` : address}:${port}/`;
      const response = await request(url, { dispatcher });
      // An IPv4 client of a dual-stack listener shows as an IPv4-mapped IPv6 address.
      assert.equal((await response.body.text()).replace(/^::ffff:/, ''), address);
    }
  });

  test('a process inside lists the LAN addresses as its own, as the server does', async () => {
    const network = join(ROOT, 'dist/src/tls/network.js');
    const { line } = await inside(
      `const { lanAddresses } = await import(${JSON.stringify(network)}); console.log(JSON.stringify(lanAddresses()));`,
    );
    assert.deepEqual(JSON.parse(line), [LAN_IPV4, LAN_IPV6]);
  });

  test('wrap() makes an executable that runs a command inside', async () => {
    const ip = (await found.lan?.wrap('ip')) as string;
    const { stdout } = await promisify(execFile)(ip, ['-o', 'addr', 'show', 'dev', 'v0']);
    assert.match(stdout, new RegExp(`inet ${LAN_IPV4.replace(/\./g, '\\.')}/24`));
    assert.match(stdout, new RegExp(`inet6 ${LAN_IPV6}/64`));
  });

  /** A server outside on 127.0.0.1, and what a fetch of it from inside the namespace prints. */
  async function fetchFromInside(exposed: boolean): Promise<string> {
    const outside = createServer((_req, res) => res.end('outside'));
    outside.listen(0, '127.0.0.1');
    await once(outside, 'listening');
    after(() => outside.close());
    const { port } = outside.address() as AddressInfo;
    if (exposed) await found.lan?.expose(port);
    const { line } = await inside(
      `fetch('http://127.0.0.1:${port}/').then((r) => r.text(), () => 'refused').then(console.log);`,
    );
    return line;
  }

  test('expose() makes a server outside reachable inside at its own loopback address', async () => {
    assert.equal(await fetchFromInside(true), 'outside');
  });

  test('nothing else outside is reachable from inside: 127.0.0.1 there is another host', async () => {
    assert.equal(await fetchFromInside(false), 'refused');
  });
});

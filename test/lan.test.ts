import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, test } from 'node:test';
import { request } from 'undici';
import { LAN_IPV4, LAN_IPV6, type Lan, lanOrReason } from './support/lan.ts';

// The LAN tests of the certificate and pairing rules rest on this: prove it works by itself.
const found = await lanOrReason();
const lan: Lan | undefined = found.lan;
after(() => lan?.close());

test('a LAN namespace is available (CI must run the LAN tests)', { skip: found.skip }, () => {
  if (found.missing) assert.fail(found.missing);
  assert.ok(lan);
});

const skip = found.skip || Boolean(found.missing);

/** Starts a one-line HTTP server inside the namespace that answers with the client's address. */
async function echoServer(host: string): Promise<number> {
  const script = `require('http').createServer((q, s) => s.end(q.socket.remoteAddress))
    .listen(0, '${host}', function () { console.log(this.address().port); });`;
  const child = (lan as Lan).spawn(process.execPath, ['-e', script], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  after(() => child.kill('SIGKILL'));
  const [chunk] = (await once(child.stdout as NodeJS.ReadableStream, 'data')) as [Buffer];
  return Number(chunk.toString().trim());
}

test('a server inside sees a client from the LAN address, over IPv4 and IPv6', {
  skip,
}, async () => {
  for (const [host, url] of [
    [LAN_IPV4, LAN_IPV4],
    [LAN_IPV6, `[${LAN_IPV6}]`],
  ] as const) {
    const port = await echoServer(host);
    const agent = await (lan as Lan).client(port, { host, from: host });
    const response = await request(`http://${url}:${port}/`, { dispatcher: agent });
    assert.equal(await response.body.text(), host);
  }
});

test('a server outside is reachable from inside at its own loopback address', {
  skip,
}, async () => {
  const outside = createServer((_req, res) => res.end('outside'));
  outside.listen(0, '127.0.0.1');
  await once(outside, 'listening');
  after(() => outside.close());
  const { port } = outside.address() as AddressInfo;
  await (lan as Lan).expose(port);
  const fetcher = (lan as Lan).spawn(
    process.execPath,
    ['-e', `fetch('http://127.0.0.1:${port}/').then(r => r.text()).then(t => console.log(t))`],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const [chunk] = (await once(fetcher.stdout as NodeJS.ReadableStream, 'data')) as [Buffer];
  assert.equal(chunk.toString().trim(), 'outside');
});

test('the namespace cannot reach the machine outside it by any other way', { skip }, async () => {
  // A listener outside on 127.0.0.1 that was not exposed: inside, 127.0.0.1 is another host.
  const outside = createServer((_req, res) => res.end('leak'));
  outside.listen(0, '127.0.0.1');
  await once(outside, 'listening');
  after(() => outside.close());
  const { port } = outside.address() as AddressInfo;
  const probe = (lan as Lan).spawn(
    process.execPath,
    [
      '-e',
      `fetch('http://127.0.0.1:${port}/').then(() => console.log('reached'), () => console.log('refused'))`,
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const [chunk] = (await once(probe.stdout as NodeJS.ReadableStream, 'data')) as [Buffer];
  assert.equal(chunk.toString().trim(), 'refused');
});

import assert from 'node:assert/strict';
import { once } from 'node:events';
import { readFile, rm } from 'node:fs/promises';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { Agent, request } from 'undici';
import { type ServerProcess, startServerProcess, tempDir } from '../support/processes.ts';

let dir: string;
let server: ServerProcess;
let agent: Agent;

before(async () => {
  dir = await tempDir('ca-route-test-');
  server = await startServerProcess({ dir, env: { PATH: process.env.PATH } });
  agent = new Agent({ connect: { ca: await readFile(join(dir, 'certs/ca.pem'), 'utf8') } });
});

after(async () => {
  await agent.destroy();
  await server.stop('SIGKILL');
  await rm(dir, { recursive: true, force: true });
});

/** A GET with the path sent exactly as written (no URL normalisation on the way). */
async function rawGet(
  path: string,
  method = 'GET',
): Promise<{ status: number; body: string; response: IncomingMessage }> {
  const req = httpRequest(`${server.httpUrl}/`, { path, method }).end();
  const [response] = (await once(req, 'response')) as [IncomingMessage];
  let body = '';
  for await (const chunk of response) body += chunk;
  return { status: response.statusCode ?? 0, body, response };
}

test('GET /ca.crt serves certs/ca.pem as a CA certificate to install, over HTTPS and HTTP', async () => {
  const pem = await readFile(join(dir, 'certs/ca.pem'), 'utf8');
  for (const base of [server.httpsUrl, server.httpUrl]) {
    const response = await request(`${base}/ca.crt`, { dispatcher: agent });
    assert.equal(response.statusCode, 200, base);
    assert.equal(response.headers['content-type'], 'application/x-x509-ca-cert');
    assert.equal(
      response.headers['content-disposition'],
      'attachment; filename="simple-web-push-ca.crt"',
    );
    assert.equal(response.headers['x-content-type-options'], 'nosniff');
    assert.equal(await response.body.text(), pem);
  }
  const head = await rawGet('/ca.crt', 'HEAD');
  assert.equal(head.status, 200);
  assert.equal(head.body, '');
  assert.equal(head.response.headers['content-length'], String(Buffer.byteLength(pem)));
  const post = await rawGet('/ca.crt', 'POST');
  assert.equal(post.status, 405);
  assert.equal(post.response.headers.allow, 'GET, HEAD');
});

test('nothing else under certs/ is served, however the path is written', async () => {
  const keys = await Promise.all(
    ['ca-key.pem', 'key.pem'].map(
      async (name) => (await readFile(join(dir, 'certs', name), 'utf8')).split('\n')[1] ?? '',
    ),
  );
  const paths = [
    '/certs/ca-key.pem',
    '/certs/key.pem',
    '/certs/cert.pem',
    '/certs/ca.pem',
    '/certs/',
    '/certs',
    '/ca-key.pem',
    '/key.pem',
    '/cert.pem',
    '/ca.pem',
    '/ca.key',
    '/ca.crt/',
    '/ca.crt/../certs/ca-key.pem',
    '/../certs/ca-key.pem',
    '/%2e%2e/certs/ca-key.pem',
    '/certs%2fca-key.pem',
    '//certs/ca-key.pem',
    '/CA.CRT',
    '/ca.crt.pem',
    '/ca.crt%00',
    '/api/../certs/key.pem',
  ];
  for (const path of paths) {
    const { status, body } = await rawGet(path);
    assert.equal(status, 404, path);
    assert.doesNotMatch(body, /BEGIN|PRIVATE/, path);
    for (const key of keys) assert.ok(!body.includes(key), path);
  }
});

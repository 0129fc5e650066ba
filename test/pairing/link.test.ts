import assert from 'node:assert/strict';
import { test } from 'node:test';
import { lanOrigin, ownOrigins, pairingUrl } from '../../src/pairing/link.ts';

const ADDRESSES = ['192.168.1.20', 'fd00::20'];

test('a loopback HOST cannot pair: the answer says to restart with HOST=0.0.0.0', () => {
  for (const host of ['localhost', '127.0.0.1', '127.1.2.3', '::1', '[::1]', 'LOCALHOST']) {
    const lan = lanOrigin(host, 4443, ADDRESSES);
    assert.ok('problem' in lan && lan.problem === 'loopback-only', host);
    assert.match(lan.message, /HOST=0\.0\.0\.0 npm start/);
  }
});

test('HOST=0.0.0.0 links to the first IPv4 LAN address, :: to the first of any', () => {
  assert.deepEqual(lanOrigin('0.0.0.0', 4443, ADDRESSES), { origin: 'https://192.168.1.20:4443' });
  assert.deepEqual(lanOrigin('::', 8443, ['fd00::20']), { origin: 'https://[fd00::20]:8443' });
});

test('without a LAN address the answer says so', () => {
  for (const [host, addresses] of [
    ['0.0.0.0', []],
    ['0.0.0.0', ['fd00::20']],
    ['::', []],
  ] as const) {
    const lan = lanOrigin(host, 4443, [...addresses]);
    assert.ok('problem' in lan && lan.problem === 'no-address', `${host} ${addresses}`);
    assert.match(lan.message, /no address on a local network/);
  }
});

test('a HOST naming one address or name is linked as it is', () => {
  assert.deepEqual(lanOrigin('192.168.1.20', 4443, []), { origin: 'https://192.168.1.20:4443' });
  assert.deepEqual(lanOrigin('fd00::20', 4443, []), { origin: 'https://[fd00::20]:4443' });
  assert.deepEqual(lanOrigin('pi.local', 4443, []), { origin: 'https://pi.local:4443' });
});

test('the token rides in the fragment of the link', () => {
  assert.equal(
    pairingUrl('https://192.168.1.20:4443', 'abc'),
    'https://192.168.1.20:4443/#pair=abc',
  );
});

test("the server's own origins: loopback HTTP first, then HTTPS, the LAN URLs and its names", () => {
  const listening = { host: '0.0.0.0', httpsPort: 4443, httpPort: 8080, tlsNames: ['pi.lan'] };
  assert.deepEqual(ownOrigins(listening, ADDRESSES, 'pi'), [
    'http://localhost:8080',
    'http://127.0.0.1:8080',
    'http://[::1]:8080',
    'https://localhost:4443',
    'https://192.168.1.20:4443',
    'https://pi:4443',
    'https://pi.local:4443',
    'https://pi.lan:4443',
  ]);
});

test('without plain HTTP the HTTPS URL comes first; a loopback server has no LAN names', () => {
  const listening = { host: '127.0.0.1', httpsPort: 443, httpPort: 0, tlsNames: ['pi.lan'] };
  // As browsers send Origin: no default port.
  assert.deepEqual(ownOrigins(listening, ADDRESSES, 'pi'), ['https://127.0.0.1']);
  const v6 = { host: '::', httpsPort: 4443, httpPort: 0, tlsNames: [] };
  assert.deepEqual(ownOrigins(v6, ADDRESSES, 'localhost'), [
    'https://localhost:4443',
    'https://192.168.1.20:4443',
    'https://[fd00::20]:4443',
  ]);
});

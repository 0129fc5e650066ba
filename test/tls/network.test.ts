import assert from 'node:assert/strict';
import type { NetworkInterfaceInfo } from 'node:os';
import { test } from 'node:test';
import { isLoopback, lanAddresses, lanLines, lanUrls } from '../../src/tls/network.ts';
import { testAuthority } from '../support/certs.ts';

const entry = (address: string, internal = false): NetworkInterfaceInfo =>
  ({
    address,
    internal,
    family: address.includes(':') ? 'IPv6' : 'IPv4',
  }) as NetworkInterfaceInfo;

test('lanAddresses lists what a phone can reach, IPv4 first, without loopback or link-local', () => {
  const addresses = lanAddresses({
    lo: [entry('127.0.0.1', true), entry('::1', true)],
    eth0: [entry('fe80::1c2:3ff:fe4:5'), entry('2001:db8::20'), entry('192.168.1.20')],
    wlan0: [entry('169.254.10.1'), entry('fd00::7'), entry('10.0.0.5'), entry('192.168.1.20')],
  });
  assert.deepEqual(addresses, ['192.168.1.20', '10.0.0.5', '2001:db8::20', 'fd00::7']);
});

test('lanAddresses is empty on a machine with loopback only', () => {
  assert.deepEqual(lanAddresses({ lo: [entry('127.0.0.1', true)] }), []);
});

test('isLoopback accepts 127.0.0.0/8, ::1 and IPv4-mapped loopback only', () => {
  for (const address of ['127.0.0.1', '127.1.2.3', '::1', '::ffff:127.0.0.1', '::FFFF:127.9.9.9']) {
    assert.equal(isLoopback(address), true, address);
  }
  for (const address of [
    undefined,
    '',
    '10.0.0.1',
    '192.168.1.20',
    '::ffff:10.0.0.1',
    '128.0.0.1',
    '::2',
    'fe80::1',
    '0.0.0.0',
    '127.0.0.1.evil',
  ]) {
    assert.equal(isLoopback(address), false, String(address));
  }
});

test('lanUrls names every LAN address for ::, the IPv4 ones for 0.0.0.0, the address itself, none for loopback', () => {
  const addresses = ['192.168.1.20', '10.0.0.5', 'fd00::7'];
  assert.deepEqual(lanUrls('::', 4443, addresses), [
    'https://192.168.1.20:4443',
    'https://10.0.0.5:4443',
    'https://[fd00::7]:4443',
  ]);
  assert.deepEqual(lanUrls('0.0.0.0', 4443, addresses), [
    'https://192.168.1.20:4443',
    'https://10.0.0.5:4443',
  ]);
  assert.deepEqual(lanUrls('fd00::7', 4443, addresses), ['https://[fd00::7]:4443']);
  for (const host of ['localhost', '127.0.0.1', '::1', 'myserver.lan']) {
    assert.deepEqual(lanUrls(host, 4443, addresses), [], host);
  }
});

test('lanLines says which LAN URLs the certificate covers, and how to reach the LAN from loopback', async () => {
  const { cert } = await (await testAuthority()).leaf();
  assert.deepEqual(lanLines('0.0.0.0', 4443, cert, ['127.0.0.1', '192.168.1.20']), [
    'LAN: https://127.0.0.1:4443',
    'LAN: https://192.168.1.20:4443 (not in the certificate: a phone will refuse it)',
  ]);
  for (const host of ['localhost', '127.0.0.1', '::1']) {
    assert.deepEqual(lanLines(host, 4443, cert, ['192.168.1.20']), [
      'LAN: off; to open it from a phone, start with HOST=0.0.0.0',
    ]);
  }
  assert.deepEqual(lanLines('myserver.lan', 4443, cert, ['192.168.1.20']), []);
});

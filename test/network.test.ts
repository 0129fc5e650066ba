import assert from 'node:assert/strict';
import type { NetworkInterfaceInfo } from 'node:os';
import { test } from 'node:test';
import { isLoopback, lanAddresses } from '../src/network.ts';

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

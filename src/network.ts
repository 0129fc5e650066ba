import { isIPv4 } from 'node:net';
import { networkInterfaces } from 'node:os';

/**
 * This machine's addresses that other devices on the LAN can reach: not loopback (internal) and
 * not link-local (169.254/16, fe80::/10), which change on every boot and no phone is given.
 */
export function lanAddresses(interfaces = networkInterfaces()): string[] {
  const found = new Set<string>();
  for (const entries of Object.values(interfaces)) {
    for (const { address, internal } of entries ?? []) {
      if (internal || /^169\.254\./.test(address) || /^fe[89ab][0-9a-f]:/i.test(address)) continue;
      found.add(address);
    }
  }
  // IPv4 first: it is what a person types, and what a phone on a home network has.
  return [...found].sort((a, b) => Number(isIPv4(b)) - Number(isIPv4(a)));
}

/** Whether a socket's remote address is this machine itself: 127.0.0.0/8, ::1 or ::ffff:127.x. */
export function isLoopback(address: string | undefined): boolean {
  if (!address) return false;
  return /^(::ffff:)?127\.\d+\.\d+\.\d+$/i.test(address) || address === '::1';
}

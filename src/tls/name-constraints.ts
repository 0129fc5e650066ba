// Reads a CA's name constraints (RFC 5280 §4.2.1.10) with a few lines of DER walking: node:crypto
// does not expose them, and an ASN.1 library would cost 10 MB of memory at every start.
import type { X509Certificate } from 'node:crypto';
import { BlockList, isIP } from 'node:net';

interface Tlv {
  readonly tag: number;
  readonly start: number;
  readonly end: number;
}

interface Subtrees {
  dns: string[];
  ips: BlockList;
  hasIps: boolean;
}

// DER of the OID 2.5.29.30 (id-ce-nameConstraints), and the tags used below.
const NAME_CONSTRAINTS = Buffer.from('551d1e', 'hex');
const [EXTENSIONS, PERMITTED, EXCLUDED, DNS_NAME, IP_ADDRESS] = [0xa3, 0xa0, 0xa1, 0x82, 0x87];

/**
 * Whether a name or IP address may appear in a certificate that `ca` signs, as a verifier would
 * decide from the CA's name constraints. A CA without them permits everything.
 */
export function permittedBy(ca: X509Certificate): (name: string) => boolean {
  const value = extensionValue(ca.raw);
  if (!value) return () => true;
  const permitted = subtrees();
  const excluded = subtrees();
  for (const part of children(ca.raw, read(ca.raw, value.start))) {
    const into = part.tag === PERMITTED ? permitted : part.tag === EXCLUDED ? excluded : undefined;
    for (const subtree of into ? children(ca.raw, part) : []) {
      const [base] = children(ca.raw, subtree);
      if (base) add(into as Subtrees, base.tag, ca.raw.subarray(base.start, base.end));
    }
  }
  return (name) => {
    const family = isIP(name);
    if (family) {
      const type = family === 4 ? 'ipv4' : 'ipv6';
      return (
        (!permitted.hasIps || permitted.ips.check(name, type)) && !excluded.ips.check(name, type)
      );
    }
    const lower = name.toLowerCase();
    const allowed = permitted.dns.length === 0 || permitted.dns.some((c) => dnsMatches(lower, c));
    return allowed && !excluded.dns.some((c) => dnsMatches(lower, c));
  };
}

/**
 * RFC 5280: "host.example.com" permits itself and any name made by adding labels on its left;
 * a leading dot (".example.com", which OpenSSL and Chromium also accept) permits only the latter.
 */
function dnsMatches(name: string, constraint: string): boolean {
  if (constraint === '') return true;
  if (constraint.startsWith('.')) return name.endsWith(constraint);
  return name === constraint || name.endsWith(`.${constraint}`);
}

function subtrees(): Subtrees {
  return { dns: [], ips: new BlockList(), hasIps: false };
}

function add(into: Subtrees, tag: number, bytes: Buffer): void {
  if (tag === DNS_NAME) into.dns.push(bytes.toString('latin1').toLowerCase());
  if (tag !== IP_ADDRESS || (bytes.length !== 8 && bytes.length !== 32)) return;
  // An address and a mask of the same length: 4 + 4 bytes for IPv4, 16 + 16 for IPv6.
  const half = bytes.length / 2;
  const address = bytes.subarray(0, half);
  const prefix = [...bytes.subarray(half)].reduce((bits, byte) => bits + popcount(byte), 0);
  const text =
    half === 4 ? [...address].join('.') : (address.toString('hex').match(/.{4}/g) ?? []).join(':');
  into.ips.addSubnet(text, prefix, half === 4 ? 'ipv4' : 'ipv6');
  into.hasIps = true;
}

function popcount(byte: number): number {
  let bits = 0;
  for (let b = byte; b; b >>= 1) bits += b & 1;
  return bits;
}

/** The nameConstraints extension's OCTET STRING, or undefined when the certificate has none. */
function extensionValue(der: Buffer): Tlv | undefined {
  const [tbs] = children(der, read(der, 0));
  const wrapper = tbs && children(der, tbs).find((part) => part.tag === EXTENSIONS);
  const [list] = wrapper ? children(der, wrapper) : [];
  for (const extension of list ? children(der, list) : []) {
    const parts = children(der, extension);
    const oid = parts[0];
    if (oid && der.subarray(oid.start, oid.end).equals(NAME_CONSTRAINTS)) return parts.at(-1);
  }
  return undefined;
}

function children(der: Buffer, parent: Tlv): Tlv[] {
  const found: Tlv[] = [];
  for (let at = parent.start; at < parent.end; at = (found.at(-1) as Tlv).end) {
    found.push(read(der, at));
  }
  return found;
}

function read(der: Buffer, at: number): Tlv {
  const tag = der[at] ?? 0;
  let length = der[at + 1] ?? 0;
  let start = at + 2;
  if (length & 0x80) {
    const count = length & 0x7f;
    length = 0;
    for (let i = 0; i < count; i++) length = length * 256 + (der[start++] ?? 0);
  }
  if (start + length > der.length) throw new Error('the certificate is not valid DER');
  return { tag, start, end: start + length };
}

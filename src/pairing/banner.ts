import { caFingerprint, caUrl, type LanOrigin, pairingUrl } from './link.ts';
import { qrTerminal } from './qr.ts';
import type { MintedToken, Pairing } from './tokens.ts';

/** What `npm run pair` prints, and the server on a terminal: the link, its QR code, the CA. */
export async function linkLines(
  origin: string,
  minted: MintedToken,
  options: { qr: boolean; certDir: string },
): Promise<string[]> {
  const url = pairingUrl(origin, minted.token);
  const until = minted.expiresAt.toTimeString().slice(0, 5);
  const lines = [`Pair a phone: scan or open this link on it (one phone, until ${until}):`];
  if (options.qr) lines.push((await qrTerminal(url)).trimEnd());
  lines.push(`  ${url}`);
  const fingerprint = await caFingerprint(options.certDir);
  if (fingerprint) {
    lines.push(
      `First time on that phone? Install and trust the certificate authority: ${caUrl(origin)}`,
      `  SHA-256 ${fingerprint}`,
    );
  }
  return lines;
}

/**
 * The server's start-up lines about phones. A link is printed only to a terminal: it is the
 * owner's, and the link lasts 10 minutes; logs that are kept (systemd, files) get the hint.
 */
export async function startupLines(options: {
  lan: LanOrigin;
  pairing: Pairing;
  terminal: boolean;
  certDir: string;
}): Promise<string[]> {
  const { lan } = options;
  if (!('origin' in lan)) {
    return lan.problem === 'loopback-only'
      ? ['Phones cannot reach this address: to pair one, restart with HOST=0.0.0.0 npm start']
      : [`Phones: ${lan.message}`];
  }
  if (!options.terminal) {
    return ['Pair a phone: the page on this machine ("Add a phone"), or npm run pair'];
  }
  return linkLines(lan.origin, await options.pairing.mint(), { qr: true, ...options });
}

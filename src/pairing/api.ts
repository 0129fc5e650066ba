import type { IncomingMessage, ServerResponse } from 'node:http';
import { HttpError } from '../errors.ts';
import { sendJson } from '../http/http.ts';
import { fromOwner } from '../http/owner.ts';
import { caFingerprint, caUrl, type LanOrigin, pairingUrl } from './link.ts';
import { qrDataUrl } from './qr.ts';
import type { Pairing } from './tokens.ts';

export interface PairingApiDeps {
  pairing: Pairing;
  /** Where phones reach the server now (the port is known once it listens). */
  origin: () => LanOrigin;
  certDir: string;
}

/**
 * The owner's routes for adding a phone, for the server's own browser only:
 * POST /api/pairings makes a pairing link; GET /api/pairing-info says what the page shows.
 */
export function createPairingApi(deps: PairingApiDeps) {
  return async (req: IncomingMessage, res: ServerResponse, pathname: string): Promise<boolean> => {
    if (pathname === '/api/pairings') {
      only(req, ['POST']);
      const lan = deps.origin();
      if (!('origin' in lan)) throw new HttpError(409, lan.message);
      const { token, expiresAt } = await deps.pairing.mint();
      const url = pairingUrl(lan.origin, token);
      sendJson(res, 201, { url, expiresAt: expiresAt.toISOString(), qr: await qrDataUrl(url) });
      return true;
    }
    if (pathname === '/api/pairing-info') {
      only(req, ['GET', 'HEAD']);
      const lan = deps.origin();
      if (!('origin' in lan)) {
        sendJson(res, 200, { lan: false, problem: lan.problem, message: lan.message });
        return true;
      }
      const fingerprint = await caFingerprint(deps.certDir);
      const ca = fingerprint
        ? {
            caUrl: caUrl(lan.origin),
            caFingerprint: fingerprint,
            caQr: await qrDataUrl(caUrl(lan.origin)),
          }
        : {};
      sendJson(res, 200, { lan: true, origin: lan.origin, ...ca });
      return true;
    }
    return false;
  };
}

function only(req: IncomingMessage, methods: string[]): void {
  if (!methods.includes(req.method ?? 'GET')) {
    throw new HttpError(405, `use ${methods.join(' or ')}`, { Allow: methods.join(', ') });
  }
  if (!fromOwner(req)) {
    throw new HttpError(
      403,
      'only the server’s own browser can pair a phone: open the page on the server itself (http://localhost)',
    );
  }
}

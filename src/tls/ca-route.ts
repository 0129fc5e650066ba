import type { IncomingMessage, ServerResponse } from 'node:http';
import { HttpError } from '../errors.ts';

/**
 * GET /ca.crt: the local CA's certificate (certs/ca.pem, as the server last read it), typed so that iOS
 * and Android offer to install it. The only route to anything under certs/; 404 without a
 * local CA (TLS_CERT_FILE is in use).
 */
export function createCaRoute(caPem: () => string | undefined) {
  return async (req: IncomingMessage, res: ServerResponse, pathname: string): Promise<boolean> => {
    if (pathname !== '/ca.crt') return false;
    const pem = caPem();
    if (pem === undefined) throw new HttpError(404, 'no local CA: this server uses TLS_CERT_FILE');
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      throw new HttpError(405, 'use GET or HEAD', { Allow: 'GET, HEAD' });
    }
    const body = Buffer.from(pem);
    res.writeHead(200, {
      'Content-Type': 'application/x-x509-ca-cert',
      'Content-Disposition': 'attachment; filename="simple-web-push-ca.crt"',
      'Content-Length': body.length,
      'Cache-Control': 'no-cache',
    });
    res.end(req.method === 'HEAD' ? undefined : body);
    return true;
  };
}

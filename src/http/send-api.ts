import type { IncomingMessage, ServerResponse } from 'node:http';
import { HttpError } from '../errors.ts';
import { type SendDeps, sendToStored } from '../send/send.ts';
import { parseSendRequest } from '../send/send-request.ts';
import { BODY_LIMIT, mediaType, parseJson, readBody, sendJson } from './http.ts';
import { fromOwnersPage, hasSendToken } from './owner.ts';
import type { RateLimiter } from './rate-limit.ts';

export interface SendApiDeps extends SendDeps {
  /** Undefined turns the API off for all but the server's own page: the route answers 404. */
  token: string | undefined;
  /** Counts failed authentications per client address. */
  failures: RateLimiter;
}

/**
 * POST /api/send: push from scripts and devices with a bearer token, without the VAPID key; and
 * from the send form of the server's own page, which needs no token (fromOwnersPage).
 */
export function createSendApi(deps: SendApiDeps) {
  return async (req: IncomingMessage, res: ServerResponse, pathname: string): Promise<boolean> => {
    const { token } = deps;
    const page = fromOwnersPage(req);
    if (pathname !== '/api/send' || (token === undefined && !page)) return false;
    if (req.method !== 'POST') throw new HttpError(405, 'use POST', { Allow: 'POST' });
    if (!page) authenticate(req, token, deps.failures);
    const request = parseSendRequest(await readInput(req));
    const summary = await sendToStored(deps, request);
    deps.log(
      `${page ? 'send form' : 'send API'}: delivered ${summary.delivered}, removed ${summary.removed}, failed ${summary.failed.length}`,
    );
    sendJson(res, 200, summary);
    return true;
  };
}

/** The send token, or 401; a missing token counts as a wrong one (429 past the limit). */
function authenticate(
  req: IncomingMessage,
  token: string | undefined,
  failures: RateLimiter,
): void {
  if (hasSendToken(req, token, failures, { missingCounts: true })) return;
  throw new HttpError(401, 'a valid "Authorization: Bearer <token>" header is required', {
    'WWW-Authenticate': 'Bearer realm="send"',
  });
}

/** text/plain is the message itself; JSON carries every option. */
async function readInput(req: IncomingMessage): Promise<Record<string, unknown>> {
  const type = mediaType(req);
  if (type !== 'text/plain' && type !== 'application/json') {
    throw new HttpError(415, 'send text/plain (the message) or application/json (with options)');
  }
  const body = await readBody(req, BODY_LIMIT);
  if (type === 'text/plain') return { body: body.toString('utf8').trim() };
  const data = parseJson(body);
  if (typeof data !== 'object' || data === null || Array.isArray(data)) {
    throw new HttpError(400, 'the JSON body must be an object such as {"body": "Backup finished"}');
  }
  return { ...data };
}

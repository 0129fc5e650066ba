import type { IncomingMessage, ServerResponse } from 'node:http';
import { HttpError } from '../errors.ts';
import { listDevices } from '../store/devices.ts';
import { parseName } from '../store/names.ts';
import type { SubscriptionStore } from '../store/store.ts';
import { BODY_LIMIT, readJson, sendJson } from './http.ts';
import { requireOwner } from './owner.ts';
import type { RateLimiter } from './rate-limit.ts';

export interface DevicesApiDeps {
  store: SubscriptionStore;
  /** The send token, which lets the owner in from elsewhere; undefined: this machine only. */
  token: string | undefined;
  /** Counts wrong tokens per client address (shared with the send API). */
  failures: RateLimiter;
  log: (line: string) => void;
}

/**
 * The owner's list of devices: GET /api/devices lists them (never their keys), PATCH
 * /api/devices with {"endpoint", "name"} renames one. Removing and testing one use the routes
 * a browser uses for itself (DELETE /api/subscriptions, POST /api/subscriptions/test).
 */
export function createDevicesApi(deps: DevicesApiDeps) {
  const { store } = deps;
  return async (req: IncomingMessage, res: ServerResponse, pathname: string): Promise<boolean> => {
    if (pathname !== '/api/devices') return false;
    const method = req.method ?? 'GET';
    if (!['GET', 'HEAD', 'PATCH'].includes(method)) {
      throw new HttpError(405, 'use GET or PATCH', { Allow: 'GET, HEAD, PATCH' });
    }
    requireOwner(req, deps.token, deps.failures);
    if (method === 'PATCH') return rename(req, res);
    // The send CLI records its results in the file: show them.
    await store.refresh();
    sendJson(res, 200, listDevices(store.list()));
    return true;
  };

  async function rename(req: IncomingMessage, res: ServerResponse): Promise<boolean> {
    const body = await readJson(req, BODY_LIMIT);
    const { endpoint, name } = (typeof body === 'object' && body !== null ? body : {}) as {
      endpoint?: unknown;
      name?: unknown;
    };
    if (typeof endpoint !== 'string' || endpoint === '' || name === undefined) {
      throw new HttpError(
        400,
        'the body must be {"endpoint": "<device endpoint>", "name": "<new name>"}',
      );
    }
    const renamed = await store.rename(endpoint, parseName(name));
    if (!renamed)
      throw new HttpError(404, 'no device has this endpoint (it may have been removed)');
    const device = listDevices(store.list()).find((d) => d.endpoint === endpoint);
    deps.log(`device renamed: ${renamed.name}`);
    sendJson(res, 200, device);
    return true;
  }
}

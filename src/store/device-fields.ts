// What a subscription remembers about its device, beside endpoint, keys and expirationTime.
import { HttpError } from '../errors.ts';

/** What became of the last send that included the device. */
export type LastResult =
  | { readonly at: string; readonly outcome: 'delivered' }
  | {
      readonly at: string;
      readonly outcome: 'failed';
      readonly status?: number;
      readonly reason: string;
    };

/** The device fields of a stored subscription; entries from before them have none. */
export interface DeviceFields {
  /** The owner's name for the device (see names.ts). */
  readonly name?: string;
  /** When it subscribed, ISO 8601. */
  readonly addedAt?: string;
  readonly lastResult?: LastResult;
  /**
   * The server's origin its page subscribed at (`https://192.168.1.20:4443`): where its links
   * point. Entries from before it use the server's first origin.
   */
  readonly origin?: string;
}

/** The device fields of an entry read back from subscription.json, types checked (400); undefined when it has none. */
export function storedFields(entry: Record<string, unknown>): DeviceFields | undefined {
  const { name, addedAt, lastResult, origin } = entry;
  const none = name === undefined && addedAt === undefined && lastResult === undefined;
  if (none && origin === undefined) return undefined;
  if (name !== undefined && typeof name !== 'string') throw bad('"name" must be a string');
  if (addedAt !== undefined && typeof addedAt !== 'string') {
    throw bad('"addedAt" must be an ISO 8601 string');
  }
  if (origin !== undefined && !isOrigin(origin)) {
    throw bad('"origin" must be an http: or https: origin such as https://192.168.1.20:4443');
  }
  return {
    ...(name !== undefined ? { name } : {}),
    ...(addedAt !== undefined ? { addedAt } : {}),
    ...(lastResult !== undefined ? { lastResult: readResult(lastResult) } : {}),
    ...(origin !== undefined ? { origin } : {}),
  };
}

/** An origin as browsers serialize it in the Origin header: scheme, host and port only. */
function isOrigin(text: unknown): text is string {
  if (typeof text !== 'string') return false;
  try {
    const url = new URL(text);
    return /^https?:$/.test(url.protocol) && url.origin === text;
  } catch {
    return false;
  }
}

function readResult(input: unknown): LastResult {
  const result = (typeof input === 'object' && input !== null ? input : {}) as Record<
    string,
    unknown
  >;
  const { at, outcome, status, reason } = result;
  if (typeof at !== 'string') throw bad('"lastResult.at" must be an ISO 8601 string');
  if (outcome === 'delivered') return { at, outcome };
  if (outcome !== 'failed' || typeof reason !== 'string') {
    throw bad('"lastResult" must be delivered, or failed with a reason');
  }
  if (status !== undefined && !Number.isInteger(status)) {
    throw bad('"lastResult.status" must be an HTTP status');
  }
  return { at, outcome, ...(status !== undefined ? { status: status as number } : {}), reason };
}

function bad(message: string): HttpError {
  return new HttpError(400, message);
}

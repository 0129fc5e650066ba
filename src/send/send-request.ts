// The send options of `npm run send` and POST /api/send, checked by one parser for both. Light on
// purpose: the CLI answers --help and wrong usage from here, before any sending code loads.
import { HttpError } from '../errors.ts';
import type { DeliveryOptions, Urgency } from '../push/options.ts';
import { MAX_NAME_LENGTH } from '../store/names.ts';
import type { Notification } from './notification.ts';
import { optionalText, parseNotificationOptions, wholeNumber } from './notification-options.ts';

export const APP_NAME = 'Simple Web Push';
const URGENCIES: readonly Urgency[] = ['very-low', 'low', 'normal', 'high'];
// RFC 8030 §5.2: TTL is seconds; 28 days is the longest any push service keeps a message.
const MAX_TTL = 28 * 24 * 60 * 60;
/** The longest message text, in characters (UTF-16 code units, as JavaScript counts them). */
export const MAX_BODY_CHARS = 2000;

/** To whom: the latest subscription, every one, or the device of that name (see findDevice). */
export type Recipient = 'latest' | 'all' | { name: string };

/** A checked request to push a notification: what, how, and to whom. */
export interface SendRequest {
  notification: Notification;
  delivery: DeliveryOptions;
  to: Recipient;
}

/** What happened, for a person or a script: counts, and each failure with its push service. */
export interface SendSummary {
  delivered: number;
  removed: number;
  failed: { host: string; status?: number; reason: string }[];
}

/** Checks send options from the CLI or the HTTP API (one parser for both): 400/422 with a reason. */
export function parseSendRequest(input: Record<string, unknown>): SendRequest {
  const body = optionalText(input, 'body', MAX_BODY_CHARS);
  if (!body) throw new HttpError(400, 'the message text (body) is missing');
  const title = optionalText(input, 'title', 200) ?? APP_NAME;
  const notification: Notification = { title, body, ...parseNotificationOptions(input) };

  const delivery: DeliveryOptions = {};
  if (input.ttl !== undefined) {
    const ttl = wholeNumber(input.ttl);
    if (ttl === undefined || ttl > MAX_TTL) {
      throw new HttpError(422, `ttl must be whole seconds from 0 to ${MAX_TTL}`);
    }
    delivery.ttl = ttl;
  }
  if (input.urgency !== undefined) {
    const urgency = URGENCIES.find((u) => u === input.urgency);
    if (!urgency) throw new HttpError(422, `urgency must be one of ${URGENCIES.join(', ')}`);
    delivery.urgency = urgency;
  }
  const topic = optionalText(input, 'topic', 32);
  if (topic !== undefined) {
    // RFC 8030 §5.4: at most 32 characters of the URL-safe base64 alphabet.
    if (!/^[A-Za-z0-9_-]+$/.test(topic))
      throw new HttpError(422, 'topic must be base64url characters');
    delivery.topic = topic;
  }
  return { notification, delivery, to: recipientOf(input.to) };
}

function recipientOf(to: unknown): Recipient {
  if (to === undefined || to === null) return 'latest';
  if (typeof to !== 'string' || to.trim() === '') {
    throw new HttpError(422, 'to must be "latest", "all" or the name of a device');
  }
  const word = to.trim().toLowerCase();
  // Device names cannot be these two (names.ts), so they mean the same in any case.
  if (word === 'latest' || word === 'all') return word;
  if ([...to].length > MAX_NAME_LENGTH) {
    throw new HttpError(422, `to is longer than a device name (${MAX_NAME_LENGTH} characters)`);
  }
  return { name: to };
}

import { HttpError } from '../errors.ts';

/** What the service worker shows. */
export interface Notification {
  title: string;
  body: string;
  url?: string;
  icon?: string;
  tag?: string;
}

export type Urgency = 'very-low' | 'low' | 'normal' | 'high';

/** RFC 8030 §5: how long the push service keeps it, how urgent it is, what it replaces. */
export interface DeliveryOptions {
  ttl?: number;
  urgency?: Urgency;
  topic?: string;
}

/** RFC 8291 §4: one 4096-byte record less 86 header, 16 tag and 1 padding byte. */
export const MAX_PAYLOAD_BYTES = 3993;
export const DEFAULT_TTL = 24 * 60 * 60;
/** The JSON the service worker receives; 413 when it cannot fit in one encrypted record. */
export function encodePayload(notification: Notification): string {
  const payload = JSON.stringify(notification);
  const size = Buffer.byteLength(payload);
  if (size > MAX_PAYLOAD_BYTES) {
    throw new HttpError(
      413,
      `the notification is ${size} bytes as JSON; Web Push allows at most ${MAX_PAYLOAD_BYTES}`,
    );
  }
  return payload;
}

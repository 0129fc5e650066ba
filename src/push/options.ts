// How a push travels, whatever it says: RFC 8030's delivery headers and RFC 8291's one record.

export type Urgency = 'very-low' | 'low' | 'normal' | 'high';

/** RFC 8030 §5: how long the push service keeps it, how urgent it is, what it replaces. */
export interface DeliveryOptions {
  ttl?: number;
  urgency?: Urgency;
  topic?: string;
}

/** RFC 8291 §4: one 4096-byte record less 86 header, 16 tag and 1 padding byte. */
export const MAX_PAYLOAD_BYTES = 3993;
/** A day: a browser that is offline for a while still gets the message. */
export const DEFAULT_TTL = 24 * 60 * 60;

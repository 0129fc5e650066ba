/** A button on the notification: its label and the page it opens. */
export interface Action {
  title: string;
  /** `https://…`, `http://…` or a `/path` on the subscriber's origin. */
  url: string;
}

/** What to show. Links are absolute or a `/path`, resolved per subscriber (declarative.ts). */
export interface Notification {
  title: string;
  body: string;
  /** The page a click opens (`navigate`); the origin's `/` without it. */
  url?: string;
  icon?: string;
  /** A picture shown large where the platform can. */
  image?: string;
  /** The small monochrome icon of Android's status bar. */
  badge?: string;
  tag?: string;
  /** At most MAX_ACTIONS. */
  actions?: Action[];
  /** The number on the installed app's icon; 0 clears it. */
  appBadge?: number;
  silent?: boolean;
  requireInteraction?: boolean;
  /** Alert again when replacing the notification with the same tag (needs `tag`). */
  renotify?: boolean;
  /** When the event happened, in ms since 1970 (the Notifications API's EpochTimestamp). */
  timestamp?: number;
}

export type Urgency = 'very-low' | 'low' | 'normal' | 'high';

/** RFC 8030 §5: how long the push service keeps it, how urgent it is, what it replaces. */
export interface DeliveryOptions {
  ttl?: number;
  urgency?: Urgency;
  topic?: string;
}

/** Buttons on one notification: what Chrome and Android show, and what the page form offers. */
export const MAX_ACTIONS = 2;
/** RFC 8291 §4: one 4096-byte record less 86 header, 16 tag and 1 padding byte. */
export const MAX_PAYLOAD_BYTES = 3993;
export const DEFAULT_TTL = 24 * 60 * 60;

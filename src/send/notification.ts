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

/** Buttons on one notification: what Chrome and Android show, and what the page form offers. */
export const MAX_ACTIONS = 2;

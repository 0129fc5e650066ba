// The payload is a declarative push message (W3C Push API, "Declarative push message"; see
// docs/notifications.md for the version followed): Safari shows it by itself, without running the
// service worker, and public/sw.js shows the same message in every other browser.
import { HttpError } from '../errors.ts';
import { MAX_PAYLOAD_BYTES } from '../push/options.ts';
import type { Notification } from './notification.ts';

/** The Push API's NotificationAction, with the URL its click opens. */
export interface DeclarativeAction {
  action: string;
  title: string;
  navigate: string;
}

/** The `notification` member: NotificationOptions names, with `title` and `navigate` required. */
export interface DeclarativeNotification {
  title: string;
  body?: string;
  navigate: string;
  tag?: string;
  icon?: string;
  image?: string;
  badge?: string;
  actions?: DeclarativeAction[];
  silent?: boolean;
  requireInteraction?: boolean;
  renotify?: boolean;
  timestamp?: number;
}

export interface DeclarativeMessage {
  /** Tells a declarative push message from any other JSON. */
  web_push: 8030;
  notification: DeclarativeNotification;
  app_badge?: number;
  /** A service worker, where there is one, gets the push event and may show it itself. */
  mutable: true;
}

/**
 * The message for subscribers at `origin`: every link absolute, a `/path` on that origin
 * (declarative display resolves nothing, and a phone's origin is not the laptop's).
 */
export function declarativeMessage(source: Notification, origin: string): DeclarativeMessage {
  const link = (url: string) => new URL(url, origin).href;
  const notification: DeclarativeNotification = {
    title: source.title,
    ...(source.body ? { body: source.body } : {}),
    navigate: link(source.url ?? '/'),
  };
  if (source.tag) notification.tag = source.tag;
  for (const name of ['icon', 'image', 'badge'] as const) {
    const url = source[name];
    if (url) notification[name] = link(url);
  }
  if (source.actions?.length) {
    notification.actions = source.actions.map((action, index) => ({
      action: `action-${index + 1}`,
      title: action.title,
      navigate: link(action.url),
    }));
  }
  for (const name of ['silent', 'requireInteraction', 'renotify'] as const) {
    if (source[name]) notification[name] = true;
  }
  if (source.timestamp !== undefined) notification.timestamp = source.timestamp;
  return {
    web_push: 8030,
    notification,
    ...(source.appBadge !== undefined ? { app_badge: source.appBadge } : {}),
    mutable: true,
  };
}

/** The JSON for subscribers at `origin`; 413 naming the largest option when it cannot fit one record. */
export function encodePayload(source: Notification, origin: string): string {
  const message = declarativeMessage(source, origin);
  const payload = JSON.stringify(message);
  const size = Buffer.byteLength(payload);
  if (size <= MAX_PAYLOAD_BYTES) return payload;
  const [name, bytes] = largestOption(message.notification);
  throw new HttpError(
    413,
    `the notification is ${size} bytes as JSON; Web Push allows at most ${MAX_PAYLOAD_BYTES} ` +
      `(${size - MAX_PAYLOAD_BYTES} over): its largest option is ${name}, ${bytes} bytes`,
  );
}

/** The option, by the name the sender gave it, that takes the most bytes of the message. */
function largestOption(notification: DeclarativeNotification): [string, number] {
  const { title, body, navigate, tag, icon, image, badge, actions } = notification;
  const options = { title, body, url: navigate, tag, icon, image, badge, actions };
  let largest: [string, number] = ['title', 0];
  for (const [name, value] of Object.entries(options)) {
    const bytes = value === undefined ? 0 : Buffer.byteLength(JSON.stringify(value));
    if (bytes > largest[1]) largest = [name, bytes];
  }
  return largest;
}

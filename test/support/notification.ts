import type { Notification } from '../../src/send/notification.ts';

/** A notification with every payload field set and a non-ASCII body, to arrive exactly as given. */
export const FULL_NOTIFICATION: Readonly<Notification> = Object.freeze({
  title: 'Backup',
  body: 'Backup finished ✓',
  url: 'https://example.com/backups',
  icon: '/icon.png',
  tag: 'backup',
});

/** A link off the subscriber's origin, kept as it is in the payload. */
export const SILENCE_LINK = 'https://alerts.example/silence?for=1h';

/** Every option of what a notification shows, as POST /api/send takes them. */
export const EVERY_OPTION = Object.freeze({
  title: 'Disk',
  url: '/status',
  icon: '/icon.png',
  image: '/cams/disk.png',
  badge: '/badge.png',
  tag: 'disk',
  actions: [
    { title: 'Open log', url: '/log' },
    { title: 'Silence', url: SILENCE_LINK },
  ],
  appBadge: 3,
  silent: true,
  requireInteraction: true,
  renotify: true,
  timestamp: '2026-12-06T21:30:00Z',
});

/** EVERY_OPTION as npm run send's flags. */
export const EVERY_OPTION_FLAGS: readonly string[] = [
  ...['--title', 'Disk', '--url', '/status', '--icon', '/icon.png'],
  ...['--image', '/cams/disk.png', '--badge', '/badge.png', '--tag', 'disk'],
  ...['--action', 'Open log=/log', '--action', `Silence=${SILENCE_LINK}`],
  ...['--app-badge', '3', '--silent', '--require-interaction', '--renotify'],
  ...['--timestamp', '2026-12-06T21:30:00Z'],
];

/** EVERY_OPTION's timestamp in ms since 1970, as the payload carries it. */
export const EVERY_OPTION_TIME = Date.UTC(2026, 11, 6, 21, 30);

/** The `notification` member EVERY_OPTION becomes for a subscriber at `origin`, with this text. */
export function everyOptionShown(origin: string, body: string) {
  return {
    title: 'Disk',
    body,
    navigate: `${origin}/status`,
    tag: 'disk',
    icon: `${origin}/icon.png`,
    image: `${origin}/cams/disk.png`,
    badge: `${origin}/badge.png`,
    actions: [
      { action: 'action-1', title: 'Open log', navigate: `${origin}/log` },
      { action: 'action-2', title: 'Silence', navigate: SILENCE_LINK },
    ],
    silent: true,
    requireInteraction: true,
    renotify: true,
    timestamp: EVERY_OPTION_TIME,
  };
}

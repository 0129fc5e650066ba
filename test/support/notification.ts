import type { Notification } from '../../src/push/notification.ts';

/** A notification with every payload field set and a non-ASCII body, to arrive exactly as given. */
export const FULL_NOTIFICATION: Readonly<Notification> = Object.freeze({
  title: 'Backup',
  body: 'Backup finished ✓',
  url: 'https://example.com/backups',
  icon: '/icon.png',
  tag: 'backup',
});

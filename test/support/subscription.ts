import { createECDH, randomBytes } from 'node:crypto';
import type { Subscription } from '../../src/store/subscription.ts';

/** A stored FCM subscription with fresh keys, its endpoint ending in `id`, with `fields` beside. */
export function fcmSubscription(id: string, fields: Partial<Subscription> = {}): Subscription {
  return {
    endpoint: `https://fcm.googleapis.com/fcm/send/${id}`,
    expirationTime: null,
    keys: {
      p256dh: createECDH('prime256v1').generateKeys().toString('base64url'),
      auth: randomBytes(16).toString('base64url'),
    },
    ...fields,
  };
}

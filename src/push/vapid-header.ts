import webpush from 'web-push';
import type { VapidKeys } from '../keys.ts';

const JWT_LIFETIME = 12 * 60 * 60;
// Renewed an hour before expiry: well inside RFC 8292's 24 h, and Apple's "not more than hourly".
const JWT_RENEW_BEFORE = 60 * 60;

/**
 * The VAPID Authorization header per audience (push-service origin), signed once and reused until
 * an hour before it expires: signing costs more CPU than encrypting a message.
 */
export function createVapidHeaders(vapid: VapidKeys, now: () => number = Date.now) {
  const cache = new Map<string, { value: string; renewAt: number }>();
  return (audience: string): string => {
    const cached = cache.get(audience);
    const seconds = Math.floor(now() / 1000);
    if (cached && seconds < cached.renewAt) return cached.value;
    const exp = seconds + JWT_LIFETIME;
    const { Authorization } = webpush.getVapidHeaders(
      audience,
      vapid.subject,
      vapid.publicKey,
      vapid.privateKey,
      'aes128gcm',
      exp,
    );
    cache.set(audience, { value: Authorization, renewAt: exp - JWT_RENEW_BEFORE });
    return Authorization;
  };
}

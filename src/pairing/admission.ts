import type { IncomingMessage } from 'node:http';
import { HttpError } from '../errors.ts';
import { fromOwner } from '../http/owner.ts';
import { type RateLimiter, tooMany } from '../http/rate-limit.ts';
import { hostOf } from '../send/deliver.ts';
import type { SubscriptionStore } from '../store/store.ts';
import type { Subscription } from '../store/subscription.ts';
import type { SpentTokens } from './spent-tokens.ts';
import type { Pairing } from './tokens.ts';

/** The right to store one subscription, granted by `Admission.check`. */
export interface Pass {
  /** Stores `subscription`, spends the pairing token, and drops the subscription it replaces. */
  add(subscription: Subscription): Promise<'created' | 'updated'>;
}

export interface Admission {
  /** Who may subscribe: 401/429 before the body is read, for a device that is not paired. */
  check(req: IncomingMessage): Promise<Pass>;
}

export interface AdmissionDeps {
  store: SubscriptionStore;
  pairing: Pairing;
  spent: SpentTokens;
  /** Counts wrong tokens and secrets per client address (shared with the send API). */
  failures: RateLimiter;
  log: (line: string) => void;
}

const HOW_TO_PAIR =
  'open a pairing link: on the server, open its page and scan the code under “Add a phone”, or run npm run pair; then subscribe from that link';
const REASONS = {
  missing: `this device is not paired with the server: ${HOW_TO_PAIR}`,
  invalid: `this pairing link is not valid: ${HOW_TO_PAIR}`,
  expired: `this pairing link has expired (links work for 10 minutes): ${HOW_TO_PAIR}`,
  used: `this pairing link was already used by another device (a link pairs one): ${HOW_TO_PAIR}`,
  subscription: `the server does not know this device’s subscription: ${HOW_TO_PAIR}`,
};

/** Admits the server's own browser only: the rule when pairing is not wired in. */
export function ownerOnly(store: SubscriptionStore): Admission {
  return {
    async check(req) {
      if (!fromOwner(req))
        throw new HttpError(401, REASONS.missing, { 'WWW-Authenticate': 'Pairing' });
      return { add: (subscription) => store.add(subscription) };
    },
  };
}

/**
 * The rule for POST /api/subscriptions: the owner's browser needs nothing; any other device sends
 * `Authorization: Pairing <token>` (a link from the page or npm run pair, used once) or, once
 * paired, `Authorization: Subscription <auth>` with the auth secret of a subscription stored here.
 */
export function createAdmission(deps: AdmissionDeps): Admission {
  const { store, spent, failures } = deps;

  /** Stores the device's new subscription in place of its old ones, keeping its name and addedAt. */
  const storeReplacing = async (subscription: Subscription, replaced: Subscription[]) => {
    const old = replaced.filter((s) => s.endpoint !== subscription.endpoint);
    const name = subscription.name ?? old[0]?.name;
    const addedAt = old[0]?.addedAt ?? subscription.addedAt;
    // Removed first, so that the name is free to carry over; the two changes share one write.
    const removing = store.remove(old.map((s) => s.endpoint));
    const adding = store.add({
      ...subscription,
      ...(name !== undefined ? { name } : {}),
      ...(addedAt !== undefined ? { addedAt } : {}),
    });
    return (await Promise.all([adding, removing]))[0];
  };

  return {
    async check(req) {
      const client = req.socket.remoteAddress ?? 'unknown';
      const [, scheme = '', value = ''] =
        /^(\w+) +(\S+)$/.exec(req.headers.authorization ?? '') ?? [];
      if (fromOwner(req)) {
        // A known secret still lets the owner's browser replace its old subscription.
        const replaced = scheme.toLowerCase() === 'subscription' ? await storedWithAuth(value) : [];
        return { add: (subscription) => storeReplacing(subscription, replaced) };
      }
      const blocked = failures.waitFor(client);
      if (blocked > 0) throw tooMany(blocked);
      const refuse = (reason: keyof typeof REASONS): never => {
        const wait = failures.take(client);
        if (wait > 0) throw tooMany(wait);
        throw new HttpError(401, REASONS[reason], { 'WWW-Authenticate': 'Pairing' });
      };
      if (scheme.toLowerCase() === 'subscription') {
        const replaced = await storedWithAuth(value);
        if (replaced.length === 0) refuse('subscription');
        return { add: (subscription) => storeReplacing(subscription, replaced) };
      }
      if (scheme.toLowerCase() !== 'pairing') {
        // No credentials at all is how an unpaired phone first asks: not a guess, not counted.
        throw new HttpError(401, REASONS.missing, { 'WWW-Authenticate': 'Pairing' });
      }
      const token = await deps.pairing.check(value);
      if (token.status !== 'valid') return refuse(token.status);
      return {
        async add(subscription) {
          // Claimed only now: two devices racing with one link cannot both get in.
          if (!(await spent.claim(token.nonce, token.expiresAt))) refuse('used');
          let outcome: 'created' | 'updated';
          try {
            outcome = await store.add(subscription);
          } catch (error) {
            await spent.release(token.nonce).catch(() => {});
            throw error;
          }
          await spent.spend(token.nonce, token.expiresAt).catch((error: unknown) => {
            deps.log(`could not save the used pairing link: ${(error as Error).message}`);
          });
          deps.log(`paired a device at ${client} (${hostOf(subscription.endpoint)})`);
          return outcome;
        },
      };
    },
  };

  /** The stored subscriptions whose auth is `given`: never found by a guess of the wrong length. */
  async function storedWithAuth(given: string): Promise<Subscription[]> {
    const wanted = Buffer.from(given, 'base64url');
    return wanted.length === 16 ? store.withAuth(wanted) : [];
  }
}

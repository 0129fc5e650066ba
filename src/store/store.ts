import type { LastResult } from './device-fields.ts';
import type { Subscription } from './subscription.ts';

/**
 * A stretch of the store in keyset order: the subscriptions after position `after`, up to and
 * including `last`. Positions only grow: a subscription added or replaced gets the highest yet.
 */
export interface Span {
  readonly after: number;
  readonly last: number;
  /** How many were stored in it when it was made. */
  readonly count: number;
}

/** Whether the store can take subscriptions now (GET /healthz), and why not. */
export interface StoreHealth {
  ok: boolean;
  store: 'file' | 'postgresql';
  reason?: string;
}

/**
 * The subscriptions: newest last, one per endpoint, every change stored before it resolves. Two
 * implementations side by side: file.ts (subscription.json, the default) and postgres.ts
 * (DATABASE_URL), held to one contract (test/store/contract.ts). A send never asks for all of
 * them at once: it splits them into spans and reads one span at a time.
 */
export interface SubscriptionStore {
  /** How many are stored. */
  size(): Promise<number>;
  latest(): Promise<Subscription | undefined>;
  get(endpoint: string): Promise<Subscription | undefined>;
  /** The stored subscriptions whose auth secret decodes to `secret` (16 bytes). */
  withAuth(secret: Buffer): Promise<Subscription[]>;
  /** What is stored now, oldest first, as spans of at most `size`: their bounds, no subscriptions. */
  spans(size: number): Promise<Span[]>;
  /** The subscriptions of `span` that are still stored, oldest first. */
  read(span: Span): Promise<Subscription[]>;
  /**
   * Adds or replaces (and moves to newest) the subscription for its endpoint. A replaced entry's
   * name, addedAt and lastResult stay unless given; a name another entry has gets " 2", " 3".
   */
  add(subscription: Subscription): Promise<'created' | 'updated'>;
  /**
   * Adds many at once, in order, as one change: all or nothing. An entry equal to the stored one
   * is left as it is, in its place, so adding the same list twice changes nothing.
   */
  addAll(
    subscriptions: readonly Subscription[],
  ): Promise<{ created: number; updated: number; unchanged: number }>;
  /** Removes the given endpoints; resolves to how many were stored. */
  remove(endpoints: Iterable<string>): Promise<number>;
  /** Names the device of a stored endpoint (numbered as in add), where it stands: the entry, or undefined when none has it. */
  rename(endpoint: string, name: string): Promise<Subscription | undefined>;
  /**
   * Sets the lastResult of every stored endpoint in `results`, where each stands, in one write;
   * a result older than the one an entry has is left out. The file store waits up to a second
   * for another change to share that write (flush() starts it at once).
   */
  record(results: ReadonlyMap<string, LastResult>): Promise<void>;
  /** Shows what another process changed since (the send CLI writes subscription.json too). */
  refresh(): Promise<void>;
  /** Starts a waiting write now; resolves when every change asked for so far is stored. */
  flush(): Promise<void>;
  health(): StoreHealth;
  /** Where the subscriptions are, for a person: the file, or the database and its host. */
  readonly where: string;
  close(): Promise<void>;
}

/** The same subscription, field for field: an add that would change nothing. */
export function sameSubscription(a: Subscription, b: Subscription): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/** The list with only the last entry for each endpoint, where that one stands: newest last. */
export function lastOfEach(subscriptions: readonly Subscription[]): Subscription[] {
  const seen = new Set<string>();
  const kept: Subscription[] = [];
  for (let i = subscriptions.length - 1; i >= 0; i--) {
    const subscription = subscriptions[i] as Subscription;
    if (seen.has(subscription.endpoint)) continue;
    seen.add(subscription.endpoint);
    kept.push(subscription);
  }
  return kept.reverse();
}

/**
 * Every stored subscription, oldest first, a page (a span) at a time. What was added or replaced
 * while it ran is read too (a replaced one may then come twice, the newer last).
 */
export async function* eachPage(
  store: SubscriptionStore,
  size = 1000,
): AsyncGenerator<Subscription[]> {
  let after = 0;
  for (;;) {
    const spans = (await store.spans(size)).filter((span) => span.last > after);
    if (spans.length === 0) return;
    for (const span of spans)
      yield await store.read({ ...span, after: Math.max(span.after, after) });
    after = (spans.at(-1) as Span).last;
  }
}

/** Every stored subscription, oldest first, in one list: for the device list, not for sends. */
export async function readAll(store: SubscriptionStore): Promise<Subscription[]> {
  const all: Subscription[] = [];
  for await (const page of eachPage(store)) all.push(...page);
  return all;
}

import type { Span } from '../store.ts';
import type { Subscription } from '../subscription.ts';

/**
 * Keyset positions for the file store's map (insertion order = file order, newest last): each
 * entry's position grows along the map and is never given twice, so a span made before a change
 * still means the same stretch after it.
 */
export interface Positions {
  /** Gives `subscription`, just added at the end of the map, the highest position yet. */
  place(subscription: Subscription): void;
  /** `entry` took `old`'s place in the map (a rename, a result): it takes its position too. */
  carry(old: Subscription, entry: Subscription): void;
  /**
   * Positions for a map read again from the file. The other writer only appended and removed, so
   * an entry keeps its position while those stay increasing; one moved to the end gets a new one.
   */
  renumber(fresh: Map<string, Subscription>, old: Map<string, Subscription>): void;
  spans(map: Map<string, Subscription>, size: number): Span[];
  read(map: Map<string, Subscription>, span: Span): Subscription[];
}

interface ReadCursor {
  map: Map<string, Subscription>;
  /** The `last` of the span read before. */
  after: number;
  iterator: Iterator<Subscription, undefined>;
  /** The first entry past that span, taken from the iterator already. */
  pending?: Subscription;
}

/** Positions for `map` as it is now, oldest first. */
export function createPositions(map: Map<string, Subscription>): Positions {
  const positions = new WeakMap<Subscription, number>();
  let counter = 0;
  for (const subscription of map.values()) positions.set(subscription, ++counter);
  // Where the last read() stopped: a send reads its spans in order, so each read goes on from
  // there instead of walking the map from its start (quadratic over a large store).
  let cursor: ReadCursor | undefined;
  const positionOf = (subscription: Subscription) => positions.get(subscription) ?? 0;

  return {
    place(subscription) {
      positions.set(subscription, ++counter);
    },
    carry(old, entry) {
      positions.set(entry, positionOf(old));
    },
    renumber(fresh, old) {
      let previous = 0;
      for (const subscription of fresh.values()) {
        const before = old.get(subscription.endpoint);
        const known = before && positions.get(before);
        const position = known !== undefined && known > previous ? known : ++counter;
        positions.set(subscription, position);
        previous = position;
      }
    },
    spans(current, size) {
      const spans: Span[] = [];
      let [after, last, count] = [0, 0, 0];
      for (const subscription of current.values()) {
        last = positionOf(subscription);
        if (++count === size) {
          spans.push({ after, last, count });
          [after, count] = [last, 0];
        }
      }
      if (count > 0) spans.push({ after, last, count });
      return spans;
    },
    read(current, span) {
      const resume = cursor?.map === current && cursor.after === span.after;
      const at = resume && cursor ? cursor : { map: current, after: 0, iterator: current.values() };
      const found: Subscription[] = [];
      for (
        let seen = at.pending ?? at.iterator.next().value;
        seen;
        seen = at.iterator.next().value
      ) {
        at.pending = undefined;
        // Since the iterator passed it: removed, replaced by a newer one at the end (a new
        // position), or changed where it stands (the same position: take the entry as it is now).
        const next = current.get(seen.endpoint);
        if (!next || positionOf(next) !== positionOf(seen)) continue;
        const position = positionOf(next);
        if (position <= span.after) continue;
        if (position > span.last) {
          at.pending = next;
          break;
        }
        found.push(next);
      }
      cursor = { ...at, after: span.last };
      return found;
    },
  };
}

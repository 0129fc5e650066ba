// Device names: what a person may call a device, and how names stay apart (" 2", " 3").
import { HttpError } from '../errors.ts';

/** The longest device name, in characters. */
export const MAX_NAME_LENGTH = 60;
// C0, DEL and C1 controls, line and paragraph separators, and the bidirectional overrides that
// would make a name read differently from what it is.
const CONTROL = /[\p{Cc}\u2028\u2029\u202a-\u202e\u2066-\u2069]/u;
// `--to all` and `--to latest` already mean something.
const RESERVED = new Set(['all', 'latest']);

/** A device name from a request, trimmed; 400 when it is not a string, empty or too long, or holds control characters. */
export function parseName(input: unknown): string {
  if (typeof input !== 'string') throw new HttpError(400, '"name" must be a string');
  const name = input.trim();
  if (name === '') throw new HttpError(400, '"name" must not be empty');
  if ([...name].length > MAX_NAME_LENGTH) {
    throw new HttpError(400, `"name" is longer than ${MAX_NAME_LENGTH} characters`);
  }
  if (CONTROL.test(name)) throw new HttpError(400, '"name" must not contain control characters');
  if (RESERVED.has(name.toLowerCase())) {
    throw new HttpError(
      400,
      `"name" cannot be "${name}": --to ${name.toLowerCase()} means that already`,
    );
  }
  return name;
}

/** Names are told apart without regard to case. */
export const nameKey = (name: string): string => name.toLowerCase();

/** `wanted`, or `wanted 2`, `wanted 3`...: the first that `taken` (given a nameKey) says is free. */
export function uniqueName(wanted: string, taken: (key: string) => boolean): string {
  let name = wanted;
  for (let n = 2; taken(nameKey(name)); n++) name = `${wanted} ${n}`;
  return name;
}

/**
 * Each entry's name as it is listed and addressed: its stored name, else `fallback` (its
 * browser). Stored names come first and keep theirs; the rest are numbered after them.
 */
export function distinctNames<T>(
  entries: readonly T[],
  stored: (entry: T) => string | undefined,
  fallback: (entry: T) => string,
): string[] {
  const taken = new Set<string>();
  // The last number used per name: numbering thousands of unnamed entries stays linear.
  const last = new Map<string, number>();
  const claim = (wanted: string): string => {
    const key = nameKey(wanted);
    let n = last.get(key) ?? 1;
    let name = wanted;
    while (taken.has(nameKey(name))) name = `${wanted} ${++n}`;
    last.set(key, n);
    taken.add(nameKey(name));
    return name;
  };
  const names: string[] = new Array(entries.length);
  entries.forEach((entry, i) => {
    const name = stored(entry);
    if (name !== undefined) names[i] = claim(name);
  });
  entries.forEach((entry, i) => {
    names[i] ??= claim(fallback(entry));
  });
  return names;
}

/** The names in a store, counted by nameKey: numbers a new name in O(1) however many are stored. */
export interface NameCount {
  added(name: string | undefined): void;
  removed(name: string | undefined): void;
  /** Forget the counts: the entries were read again. */
  reset(): void;
  /** `wanted`, numbered when an entry other than the one named `own` has it. */
  free(wanted: string, own: string | undefined): string;
}

/** Counts the names of `entries()` when a name is first looked up, then follows the changes it is told. */
export function createNameCount(entries: () => Iterable<{ name?: string }>): NameCount {
  let counts: Map<string, number> | undefined;
  const change = (name: string | undefined, by: number) => {
    if (name === undefined || !counts) return;
    const key = nameKey(name);
    const count = (counts.get(key) ?? 0) + by;
    if (count > 0) counts.set(key, count);
    else counts.delete(key);
  };
  return {
    added: (name) => change(name, 1),
    removed: (name) => change(name, -1),
    reset: () => {
      counts = undefined;
    },
    free(wanted, own) {
      if (!counts) {
        counts = new Map();
        for (const entry of entries()) change(entry.name, 1);
      }
      const ownKey = own === undefined ? undefined : nameKey(own);
      return uniqueName(wanted, (key) => (counts?.get(key) ?? 0) > (key === ownKey ? 1 : 0));
    },
  };
}

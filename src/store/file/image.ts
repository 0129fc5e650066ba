// subscription.json: `[`, one subscription per line, `]`; `npm run export` writes the same.
export const OPEN = Buffer.from('[\n');
export const SEPARATOR = Buffer.from(',\n');
export const CLOSE = Buffer.from('\n]\n');
export const EMPTY = Buffer.from('[]\n');
const NEWLINE = Buffer.from('\n');
const COMMA = Buffer.from(',');
// Each removal searches the whole image (2-5 ms at 100,000 lines): past this many between two
// writes, rebuilding from the entries (40-120 ms) is cheaper, as when a send drops many gone ones.
const MAX_REMOVED = 16;

/**
 * The bytes of subscription.json, kept ready between writes: one subscription per line, so the
 * file is readable, diff-able and valid JSON. A write is two buffers whatever the size: gathering
 * 100,000 lines for writev on each write took most of a POST's time at 100,000 stored, and
 * joining them again after each replacement 40-120 ms.
 */
export interface StoreImage {
  /**
   * The file's content as it stands now. The buffers stay as they are until the next call, so a
   * write of them may still be in progress while lines are appended or removed.
   */
  parts(): readonly Buffer[];
  /** Adds a line at the end (newest last). */
  append(line: Buffer): void;
  /**
   * Takes out a line that `append` added. False (and nothing changed) when it is not there, or
   * after MAX_REMOVED removals since the last parts(): then build a new image instead.
   */
  remove(line: Buffer): boolean;
}

/** An image holding `lines`, in order. */
export function createImage(lines: Iterable<Buffer>): StoreImage {
  // `[\n`, then each line followed by `,\n`: the last separator is left out of what is written.
  let buffer = Buffer.allocUnsafe(1024);
  let length = OPEN.copy(buffer);
  // Removed lines as [start, end) in `buffer`, taken out by the next parts(): until then its
  // caller may still be writing those bytes.
  let removed: [number, number][] = [];

  const put = (bytes: Buffer) => {
    if (length + bytes.length > buffer.length) {
      // Doubling keeps appends amortized O(line); the bytes past `length` are never written out.
      const grown = Buffer.allocUnsafe(Math.max(2 * buffer.length, length + bytes.length));
      buffer.copy(grown, 0, 0, length);
      buffer = grown;
    }
    length += bytes.copy(buffer, length);
  };
  const append = (line: Buffer) => {
    put(line);
    put(SEPARATOR);
  };
  for (const line of lines) append(line);

  const compact = () => {
    removed.sort((a, b) => a[0] - b[0]);
    let to = removed[0]?.[0] ?? length;
    for (const [index, [, end]] of removed.entries()) {
      const next = removed[index + 1]?.[0] ?? length;
      to += buffer.copy(buffer, to, end, next);
    }
    length = to;
    removed = [];
  };

  return {
    parts() {
      compact();
      return length === OPEN.length
        ? [EMPTY]
        : [buffer.subarray(0, length - SEPARATOR.length), CLOSE];
    },
    append,
    remove(line) {
      if (removed.length >= MAX_REMOVED) return false;
      // JSON.stringify leaves no raw newline in a line, so `\n<line>,` is that line and only it.
      // The last match is the one still stored: a removed copy stays until the next parts(), and
      // a line added again after its removal comes after it.
      const at = buffer.subarray(0, length).lastIndexOf(Buffer.concat([NEWLINE, line, COMMA]));
      const start = at + 1;
      if (at < 0 || removed.some(([taken]) => taken === start)) return false;
      removed.push([start, start + line.length + SEPARATOR.length]);
      return true;
    },
  };
}

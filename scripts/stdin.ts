// The message of `npm run send`: the words given, or standard input for a single `-`.
import { MAX_BODY_CHARS } from '../src/send/send-request.ts';
import { UsageError } from './cli.ts';

// UTF-8 needs at most 3 bytes for each UTF-16 code unit, so more bytes than this (and a line
// ending) can only be a message over the limit: reading stops there, whatever is still piped in.
const MAX_BYTES = MAX_BODY_CHARS * 3 + 2;

/** The message text; `-` alone reads `input()` to its end, at most MAX_BODY_CHARS characters. */
export async function readMessage(
  positionals: string[],
  input: () => AsyncIterable<Buffer | string>,
): Promise<string> {
  if (positionals.length === 0) throw new UsageError('the message is missing');
  if (positionals.length > 1 || positionals[0] !== '-') return positionals.join(' ');
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of input()) {
    const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    chunks.push(bytes);
    size += bytes.length;
    if (size > MAX_BYTES) break; // leaving the loop closes the stream
  }
  // A trailing newline (`echo`, `df -h`) is not part of the message.
  const text = Buffer.concat(chunks).toString('utf8').trimEnd();
  if (size > MAX_BYTES || text.length > MAX_BODY_CHARS) {
    throw new UsageError(`the message from standard input is over ${MAX_BODY_CHARS} characters`);
  }
  if (text === '') throw new UsageError('the message from standard input is empty');
  return text;
}

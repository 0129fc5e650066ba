// The one form in which endpoints and keys are accepted: the text stored is the text used.

// UAX #9 explicit directional marks, embeddings, overrides and isolates.
const isBidiControl = (code: number): boolean =>
  code === 0x200e ||
  code === 0x200f ||
  (code >= 0x202a && code <= 0x202e) ||
  (code >= 0x2066 && code <= 0x2069);
// C0, DEL and C1.
const isControl = (code: number): boolean => code <= 0x1f || (code >= 0x7f && code <= 0x9f);
const WHITESPACE = /\s/;
const VISIBLE_ASCII = /^[\x21-\x7e]*$/;
const BASE64URL_ALPHABET = /^[A-Za-z0-9_-]*$/;

/**
 * Why an endpoint holds a character no push service puts there (a control, bidi or whitespace
 * character), or undefined. The message gives the position, never the character itself.
 */
export function characterProblem(endpoint: string): string | undefined {
  // Every real endpoint: checked at once, not character by character.
  if (VISIBLE_ASCII.test(endpoint)) return undefined;
  for (let i = 0; i < endpoint.length; i++) {
    const code = endpoint.charCodeAt(i);
    const at = `(character ${i + 1})`;
    if (isControl(code)) return `"endpoint" contains a control character ${at}`;
    if (isBidiControl(code)) return `"endpoint" contains a bidirectional text control ${at}`;
    if (WHITESPACE.test(endpoint[i] as string)) return `"endpoint" contains whitespace ${at}`;
  }
  return undefined;
}

/**
 * Why an endpoint is not exactly its own WHATWG URL serialization, or undefined. A URL parser
 * rewrites such text (case, default port, dot segments, percent-encoding), so the address we
 * would request is not the one stored.
 */
export function serializationProblem(endpoint: string): string | undefined {
  let href: string;
  try {
    href = new URL(endpoint).href;
  } catch {
    return '"endpoint" is not a URL';
  }
  if (href === endpoint) return undefined;
  return (
    '"endpoint" is not written the way a URL parser writes it back (letter case, default ' +
    'port, "." or ".." segments, or characters that need percent-encoding)'
  );
}

/**
 * Why `text` is not canonical base64url (RFC 4648 §5), or undefined: only the URL-safe
 * alphabet, no padding or exactly the right padding, and no stray bits in the last character
 * (so decoding and encoding again gives the same text).
 */
export function base64urlProblem(text: string): string | undefined {
  const bare = withoutPadding(text);
  const padding = text.length - bare.length;
  if (!BASE64URL_ALPHABET.test(bare)) {
    return 'must use only the base64url alphabet (A-Z, a-z, 0-9, "-" and "_")';
  }
  if (bare.length % 4 === 1) return 'has a length no base64url text can have';
  if (padding > 0 && padding !== (4 - (bare.length % 4)) % 4) return 'has the wrong "=" padding';
  if (Buffer.from(bare, 'base64url').toString('base64url') !== bare) {
    return 'is not canonical base64url (its last character carries stray bits)';
  }
  return undefined;
}

/** `text` without its trailing "=" (a loop: a regex would backtrack on a long run of "="). */
export function withoutPadding(text: string): string {
  let end = text.length;
  while (end > 0 && text.charCodeAt(end - 1) === 0x3d) end--;
  return text.slice(0, end);
}

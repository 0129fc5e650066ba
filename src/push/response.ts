import type { Dispatcher } from 'undici';

/**
 * Up to 200 characters of a response body, read for at most `ms`: bodyTimeout only limits the
 * pause between chunks, so an endless or trickling body would hold the request and fill memory.
 */
export async function readReason(
  body: Dispatcher.ResponseData['body'],
  ms: number,
): Promise<string> {
  const timer = setTimeout(() => body.destroy(), ms);
  let text = '';
  try {
    for await (const chunk of body.setEncoding('utf8')) {
      text += chunk;
      if (text.length >= 200) break;
    }
  } catch {
    // Cut off: the status decides the outcome; what arrived so far is the reason.
  } finally {
    clearTimeout(timer);
  }
  return text.trim().slice(0, 200);
}

/** RFC 9110 §10.2.3: Retry-After is delay-seconds or an HTTP date. */
export function retryAfterMs(
  header: string | string[] | undefined,
  nowMs: number,
): number | undefined {
  const value = Array.isArray(header) ? header[0] : header;
  if (!value) return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value) * 1000;
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - nowMs);
}

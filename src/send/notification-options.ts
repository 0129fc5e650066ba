// What a notification shows beyond its title and text, as `npm run send`, POST /api/send and the
// page's form give it: links, pictures, buttons, the app badge and how it alerts. Light, like
// send-request.ts: the CLI checks its flags with it before any sending code loads.
import { HttpError } from '../errors.ts';
import { type Action, MAX_ACTIONS, type Notification } from './notification.ts';

type Options = Omit<Notification, 'title' | 'body'>;

const MAX_LINK_CHARS = 2000;
const MAX_LABEL_CHARS = 200;
const LINK_NAMES = ['url', 'icon', 'image', 'badge'] as const;
const FLAGS = ['silent', 'requireInteraction', 'renotify'] as const;
// ISO 8601 date and time; seconds, their fraction and the zone (Z or ±hh:mm) may be left out,
// and without a zone it is this machine's local time (as JavaScript's Date reads it).
const ISO_8601 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})?$/;

/** The options of the shared send parser that shape the notification: 400 (type) or 422 (value). */
export function parseNotificationOptions(input: Record<string, unknown>): Options {
  const options: Options = {};
  for (const name of LINK_NAMES) {
    const url = optionalText(input, name, MAX_LINK_CHARS);
    if (url === undefined) continue;
    const problem = linkProblem(url);
    if (problem) throw new HttpError(422, `${name} ${problem}`);
    options[name] = url;
  }
  const tag = optionalText(input, 'tag', MAX_LABEL_CHARS);
  if (tag) options.tag = tag;
  const actions = parseActions(input.actions);
  if (actions.length > 0) options.actions = actions;
  if (input.appBadge !== undefined && input.appBadge !== null) {
    const appBadge = wholeNumber(input.appBadge);
    if (appBadge === undefined) {
      throw new HttpError(422, 'appBadge must be a whole number, 0 or more (0 clears the badge)');
    }
    options.appBadge = appBadge;
  }
  for (const name of FLAGS) {
    const value = input[name];
    if (value === undefined || value === null || value === false) continue;
    if (value !== true) throw new HttpError(400, `${name} must be true or false`);
    options[name] = true;
  }
  // The Notifications API refuses renotify without a tag (a TypeError in showNotification).
  if (options.renotify && !options.tag) {
    throw new HttpError(422, 'renotify needs a tag: it alerts again when replacing that tag');
  }
  const timestamp = optionalText(input, 'timestamp', 40);
  if (timestamp !== undefined) options.timestamp = parseTimestamp(timestamp);
  return options;
}

/** Up to MAX_ACTIONS buttons, each {title, url}; none when absent. */
function parseActions(raw: unknown): Action[] {
  if (raw === undefined || raw === null) return [];
  if (!Array.isArray(raw)) throw new HttpError(400, 'actions must be a list of {"title", "url"}');
  if (raw.length > MAX_ACTIONS) throw new HttpError(422, `at most ${MAX_ACTIONS} actions`);
  return raw.map((entry: unknown, index) => {
    const name = `actions[${index}]`;
    const { title, url } = isRecord(entry) ? entry : {};
    if (typeof title !== 'string' || typeof url !== 'string') {
      throw new HttpError(400, `${name} must be {"title": "<text>", "url": "<link>"}`);
    }
    if (title.trim() === '') throw new HttpError(422, `${name}.title is empty`);
    if (title.length > MAX_LABEL_CHARS) {
      throw new HttpError(422, `${name}.title is longer than ${MAX_LABEL_CHARS} characters`);
    }
    const problem =
      url.length > MAX_LINK_CHARS
        ? `is longer than ${MAX_LINK_CHARS} characters`
        : linkProblem(url);
    if (problem) throw new HttpError(422, `${name}.url ${problem}`);
    return { title, url };
  });
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Why `link` cannot be a notification's link, or undefined: absolute http(s), or a `/path` here. */
function linkProblem(link: string): string | undefined {
  if (!/^(https?:\/\/|\/(?!\/))/.test(link)) return 'must start with https://, http:// or /';
  if (!URL.canParse(link, 'http://localhost')) return 'is not a valid URL';
  return undefined;
}

/** ISO 8601 to ms since 1970 (the Notifications API's EpochTimestamp, never negative). */
function parseTimestamp(text: string): number {
  const ms = ISO_8601.test(text) && dayExists(text) ? Date.parse(text) : Number.NaN;
  if (!Number.isFinite(ms) || ms < 0) {
    throw new HttpError(
      422,
      'timestamp must be a date and time in ISO 8601, such as 2026-12-06T21:30:00Z',
    );
  }
  return ms;
}

/** Date.parse rolls 2026-02-30 over into March: the day must be in its month. */
function dayExists(text: string): boolean {
  const [year, month, day] = text.slice(0, 10).split('-').map(Number) as [number, number, number];
  return new Date(Date.UTC(year, month - 1, day)).getUTCDate() === day && month >= 1 && month <= 12;
}

/** A JSON number or a string of digits (from the command line) as a whole number, 0 or more. */
export function wholeNumber(raw: unknown): number | undefined {
  const value =
    typeof raw === 'number' || (typeof raw === 'string' && /^\d+$/.test(raw)) ? Number(raw) : NaN;
  return Number.isSafeInteger(value) && value >= 0 ? value : undefined;
}

/** A string field of at most `max` characters: 400 when it is not a string, 422 when too long. */
export function optionalText(
  input: Record<string, unknown>,
  name: string,
  max: number,
): string | undefined {
  const value = input[name];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') throw new HttpError(400, `${name} must be a string`);
  if (value.length > max) throw new HttpError(422, `${name} is longer than ${max} characters`);
  return value;
}

// A checker for the declarative push message, written from the W3C Push API's text (the
// "Declarative push message" section added by w3c/push-api PR #385, commit 56c5432a; `app_badge`
// as in PR #402 and WebKit) and the Notifications Standard's NotificationOptions, not from our
// code: it says what a browser that parses the message would find wrong with it. Stricter than a
// browser on purpose: a member a browser would silently ignore (a misspelt name) is a problem here.

/** The JSON value of a parsed message, or the problems that make it no declarative push message. */
export interface Checked {
  problems: string[];
  message?: Record<string, unknown>;
  notification?: Record<string, unknown>;
}

const TOP_LEVEL = ['web_push', 'notification', 'app_badge', 'mutable'];
// Members: "Apart from title all members are derived from the NotificationOptions dictionary".
const MEMBERS: Record<string, (value: unknown) => boolean> = {
  title: isString,
  dir: (value) => value === 'auto' || value === 'ltr' || value === 'rtl',
  lang: isString,
  body: isString,
  navigate: isString,
  tag: isString,
  image: isString,
  icon: isString,
  badge: isString,
  vibrate: (value) => Array.isArray(value) && value.every((n) => isUnsigned(n, 2 ** 32 - 1)),
  timestamp: (value) => isUnsigned(value, 2 ** 64 - 1),
  renotify: isBoolean,
  silent: isBoolean,
  requireInteraction: isBoolean,
  data: () => true,
  actions: Array.isArray,
};
const URL_MEMBERS = ['navigate', 'image', 'icon', 'badge'];
const ACTION_MEMBERS = ['action', 'title', 'navigate', 'icon'];
/** What Chrome and Android show, and what the server sends at most. */
const MAX_ACTIONS = 2;

/**
 * Checks `payload` as pushed to a subscription of `origin`: every URL absolute and on that
 * origin, except the absolute ones the sender gave (`external`).
 */
export function checkDeclarative(
  payload: string,
  { origin, external = [] }: { origin: string; external?: readonly string[] },
): Checked {
  const problems: string[] = [];
  let message: unknown;
  try {
    message = JSON.parse(payload);
  } catch {
    return { problems: ['not JSON'] };
  }
  if (!isMap(message)) return { problems: ['not a JSON object'] };
  // Parser: "If message["web_push"] does not exist or is not 8030, then return failure."
  if (message.web_push !== 8030) problems.push(`web_push is ${String(message.web_push)}, not 8030`);
  for (const name of Object.keys(message)) {
    if (!TOP_LEVEL.includes(name)) problems.push(`unknown member ${name}`);
  }
  // app_badge: "A 64-bit unsigned integer"; mutable: "A boolean", both beside `notification`.
  if ('app_badge' in message && !isUnsigned(message.app_badge, 2 ** 64 - 1)) {
    problems.push('app_badge is not a 64-bit unsigned integer');
  }
  if ('mutable' in message && !isBoolean(message.mutable))
    problems.push('mutable is not a boolean');
  const notification = message.notification;
  if (!isMap(notification)) return { problems: [...problems, 'notification is not an object'] };

  // Parser: title and navigate must exist and be strings.
  for (const name of ['title', 'navigate']) {
    if (!isString(notification[name])) problems.push(`notification.${name} is missing`);
  }
  for (const [name, value] of Object.entries(notification)) {
    const valid = MEMBERS[name];
    if (!valid) problems.push(`notification.${name} is not a NotificationOptions member`);
    else if (!valid(value)) problems.push(`notification.${name} has the wrong type`);
  }
  const urls: [string, unknown][] = URL_MEMBERS.map((name) => [
    `notification.${name}`,
    notification[name],
  ]);
  // Notifications Standard, "create a notification": TypeErrors, so no notification at all.
  if (notification.silent === true && 'vibrate' in notification) {
    problems.push('silent with vibrate');
  }
  if (notification.renotify === true && !notification.tag) problems.push('renotify without tag');

  const actions = Array.isArray(notification.actions) ? notification.actions : [];
  if (actions.length > MAX_ACTIONS)
    problems.push(`${actions.length} actions, more than ${MAX_ACTIONS}`);
  for (const [index, action] of actions.entries()) {
    const name = `notification.actions[${index}]`;
    if (!isMap(action)) {
      problems.push(`${name} is not an object`);
      continue;
    }
    // NotificationAction: action and title required; navigate required by the Push API.
    for (const member of ['action', 'title', 'navigate']) {
      if (!isString(action[member])) problems.push(`${name}.${member} is missing`);
    }
    for (const member of Object.keys(action)) {
      if (!ACTION_MEMBERS.includes(member)) problems.push(`${name}.${member} is not a member`);
    }
    urls.push([`${name}.navigate`, action.navigate], [`${name}.icon`, action.icon]);
  }

  for (const [name, value] of urls) {
    if (!isString(value)) continue;
    const problem = urlProblem(value, origin, external);
    if (problem) problems.push(`${name} ${problem}`);
  }
  return { problems, message, notification };
}

/** The `notification` member of a payload, for a test that looks at one field of it. */
export function notificationOf(payload: string | undefined): Record<string, unknown> {
  const message: unknown = JSON.parse(payload ?? 'null');
  return isMap(message) && isMap(message.notification) ? message.notification : {};
}

/** "A string that holds a URL": absolute here (nothing to resolve it against), on `origin`. */
function urlProblem(
  value: string,
  origin: string,
  external: readonly string[],
): string | undefined {
  if (!URL.canParse(value)) return `is not an absolute URL: ${value}`;
  const url = new URL(value);
  if (!/^https?:$/.test(url.protocol)) return `is not http(s): ${value}`;
  if (url.origin !== origin && !external.includes(value)) return `is not on ${origin}: ${value}`;
  return undefined;
}

function isMap(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isString(value: unknown): value is string {
  return typeof value === 'string';
}

function isBoolean(value: unknown): value is boolean {
  return typeof value === 'boolean';
}

function isUnsigned(value: unknown, max: number): boolean {
  return typeof value === 'number' && Number.isInteger(value) && value >= 0 && value <= max;
}

import { isIP } from 'node:net';
import { resolve } from 'node:path';
import { ConfigError } from './errors.ts';

/** One push-service allowlist entry: an exact host, or a `*.suffix`, with an optional port. */
export interface HostRule {
  readonly host: string;
  readonly wildcard: boolean;
  readonly port?: string;
}

export interface Config {
  readonly port: number;
  readonly host: string;
  readonly httpPort: number;
  readonly subscriptionFile: string;
  readonly vapidFile: string;
  readonly certDir: string;
  readonly vapid: {
    readonly publicKey?: string;
    readonly privateKey?: string;
    readonly subject?: string;
  };
  readonly pushAllowedHosts: readonly HostRule[];
  readonly rateLimit: number;
  /** Offer HTTP/2 to push services (PUSH_HTTP2=1); HTTP/1.1 otherwise. */
  readonly pushHttp2: boolean;
  readonly sendToken?: string;
  readonly sendTokenFile: string;
  /** Extra DNS names for the server's certificate (TLS_NAMES), lower-cased. */
  readonly tlsNames: readonly string[];
  /** The operator's own certificate and key (TLS_CERT_FILE, TLS_KEY_FILE): nothing is generated. */
  readonly tlsCertFile?: string;
  readonly tlsKeyFile?: string;
  /** The secret that pairing tokens are MAC'd with (0600). */
  readonly pairingKeyFile: string;
}

/**
 * The push services of Chrome/Edge (FCM), Firefox (Mozilla), Safari (Apple) and Windows (WNS).
 * Chromium builds other than Chrome's stable channel (Beta, Dev, Canary, Linux distributions'
 * Chromium) subscribe at FCM's jmt17.google.com (Chromium's push_messaging_constants.cc).
 */
export const DEFAULT_PUSH_HOSTS = [
  'fcm.googleapis.com',
  'jmt17.google.com',
  'updates.push.services.mozilla.com',
  '*.push.apple.com',
  '*.notify.windows.com',
];

/** Reads and checks the environment once; every error names the variable. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const extraHosts = (env.PUSH_ALLOWED_HOSTS ?? '')
    .split(',')
    .map((entry) => entry.trim())
    .filter(Boolean);
  const publicKey = text(env.VAPID_PUBLIC_KEY);
  const privateKey = text(env.VAPID_PRIVATE_KEY);
  if (Boolean(publicKey) !== Boolean(privateKey)) {
    throw new ConfigError('set both VAPID_PUBLIC_KEY and VAPID_PRIVATE_KEY, or neither');
  }
  const tlsCertFile = text(env.TLS_CERT_FILE);
  const tlsKeyFile = text(env.TLS_KEY_FILE);
  if (Boolean(tlsCertFile) !== Boolean(tlsKeyFile)) {
    throw new ConfigError('set both TLS_CERT_FILE and TLS_KEY_FILE, or neither');
  }
  return Object.freeze({
    port: integer(env, 'PORT', 4443, 0, 65535),
    host: text(env.HOST) ?? 'localhost',
    httpPort: integer(env, 'HTTP_PORT', 8080, 0, 65535),
    subscriptionFile: resolve(text(env.SUBSCRIPTION_FILE) ?? 'subscription.json'),
    vapidFile: resolve(text(env.VAPID_FILE) ?? 'vapid.json'),
    certDir: resolve(text(env.CERT_DIR) ?? 'certs'),
    vapid: Object.freeze({ publicKey, privateKey, subject: text(env.VAPID_SUBJECT) }),
    pushAllowedHosts: Object.freeze([
      // The browsers' push services listen on 443 only: another port is not a push endpoint.
      ...DEFAULT_PUSH_HOSTS.map((entry) => parseHostRule(`${entry}:443`)),
      ...extraHosts.map((entry) => parseHostRule(entry)),
    ]),
    rateLimit: integer(env, 'RATE_LIMIT', 60, 0, 1_000_000),
    pushHttp2: integer(env, 'PUSH_HTTP2', 0, 0, 1) === 1,
    sendToken: text(env.SEND_TOKEN),
    sendTokenFile: resolve(text(env.SEND_TOKEN_FILE) ?? 'send-token'),
    tlsNames: Object.freeze(dnsNames(env.TLS_NAMES)),
    ...(tlsCertFile && tlsKeyFile
      ? { tlsCertFile: resolve(tlsCertFile), tlsKeyFile: resolve(tlsKeyFile) }
      : {}),
    pairingKeyFile: resolve(text(env.PAIRING_KEY_FILE) ?? 'pairing-key'),
  });
}

/** Parses `host`, `*.suffix`, `host:port` or `[v6]:port` into a rule, normalised like a URL host. */
export function parseHostRule(entry: string): HostRule {
  const wildcard = entry.startsWith('*.');
  const rest = wildcard ? entry.slice(2) : entry;
  let url: URL;
  try {
    url = new URL(`https://${rest}`);
  } catch {
    throw badHost(entry);
  }
  const bare = url.hostname.replace(/^\[|\]$/g, '');
  if (url.pathname !== '/' || url.username || url.search || url.hash || bare.endsWith('.')) {
    throw badHost(entry);
  }
  if (wildcard && isIP(bare)) throw badHost(entry);
  // new URL drops the default port, so "host:443" must be kept by hand.
  const port = url.port || (/:0*443$/.test(rest) ? '443' : undefined);
  return Object.freeze({ host: url.hostname, wildcard, ...(port ? { port } : {}) });
}

/** TLS_NAMES: comma-separated DNS names (a name your router gives this machine, say). */
function dnsNames(value: string | undefined): string[] {
  const names = (value ?? '')
    .split(',')
    .map((name) => name.trim().toLowerCase())
    .filter(Boolean);
  for (const name of names) {
    // RFC 1123 labels; a leading "*." is not allowed: the local CA issues no wildcards.
    if (
      !/^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/.test(
        name,
      )
    ) {
      throw new ConfigError(`TLS_NAMES: "${name}" is not a DNS name such as myserver.lan`);
    }
  }
  return [...new Set(names)];
}

function badHost(entry: string): ConfigError {
  return new ConfigError(
    `PUSH_ALLOWED_HOSTS: "${entry}" is not a host name, *.suffix or host:port entry`,
  );
}

function text(value: string | undefined): string | undefined {
  const trimmed = value?.trim();
  return trimmed ? trimmed : undefined;
}

function integer(
  env: NodeJS.ProcessEnv,
  name: string,
  fallback: number,
  min: number,
  max: number,
): number {
  const raw = text(env[name]);
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!/^\d+$/.test(raw) || value < min || value > max) {
    throw new ConfigError(`${name} must be a whole number from ${min} to ${max}, not "${raw}"`);
  }
  return value;
}

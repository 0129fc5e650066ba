import { setTimeout as sleep } from 'node:timers/promises';
import puppeteer, { type Browser } from 'puppeteer-core';
import { browserOrReason, findBrowser } from './find-browser.ts';

/** The one line shown when there is no Firefox: the skip reason, or the failure in CI. */
export const FIREFOX_MISSING =
  'Firefox not found: apt-get install -y firefox-esr (or set FIREFOX_PATH to its executable)';

const FIREFOX = {
  variable: 'FIREFOX_PATH',
  candidates: ['/usr/bin/firefox-esr'],
  missing: FIREFOX_MISSING,
};

/** Where Firefox is: FIREFOX_PATH when set (and only then), else Debian's firefox-esr. */
export const findFirefox = (env: NodeJS.ProcessEnv = process.env) => findBrowser(FIREFOX, env);

/** Firefox's path, or the reason to skip (outside CI) or fail (CI=true) without it. */
export const firefoxOrReason = (env: NodeJS.ProcessEnv = process.env) =>
  browserOrReason(FIREFOX, env);

/**
 * Preferences for a Firefox whose push client talks to `serverURL` (a ws:// URL on loopback),
 * that grants notifications without asking, and that reaches for nothing off this machine.
 * puppeteer-core already turns off updates, safe browsing and health reports.
 */
export function firefoxPrefs(serverURL: string): Record<string, unknown> {
  return {
    'dom.push.enabled': true,
    'dom.push.connection.enabled': true,
    'dom.push.serverURL': serverURL,
    'dom.push.testing.allowInsecureServerURL': true,
    // Reconnect within a second after the push service drops the socket (default 5 s).
    'dom.push.retryBaseInterval': 500,
    'permissions.default.desktop-notification': 1,
    'alerts.useSystemBackend': false,
    // Nothing off the machine: telemetry, captive-portal and connectivity checks, DNS over
    // HTTPS, region lookup, prefetching.
    'toolkit.telemetry.enabled': false,
    'toolkit.telemetry.server': 'data:,',
    'datareporting.usage.uploadEnabled': false,
    'network.captive-portal-service.enabled': false,
    'network.connectivity-service.enabled': false,
    'network.trr.mode': 5,
    'network.dns.disablePrefetch': true,
    'network.prefetch-next': false,
    'network.proxy.type': 0,
    'browser.region.network.url': '',
    'browser.region.update.enabled': false,
    'extensions.blocklist.enabled': false,
  };
}

/** Launches Firefox headless over WebDriver BiDi with `profile` (a temp dir) and firefoxPrefs. */
export function launchFirefox(options: {
  path: string;
  serverURL: string;
  profile: string;
}): Promise<Browser> {
  return puppeteer.launch({
    browser: 'firefox',
    executablePath: options.path,
    headless: true,
    userDataDir: options.profile,
    extraPrefsFirefox: firefoxPrefs(options.serverURL),
    // Release builds ignore puppeteer's services.settings.server (remote settings, which would
    // otherwise look up firefox.settings.services.mozilla.com) unless this is set.
    env: { ...process.env, MOZ_REMOTE_SETTINGS_DEVTOOLS: '1', MOZ_CRASHREPORTER_DISABLE: '1' },
    timeout: 30_000,
    // Bounds every WebDriver BiDi command, page.evaluate included.
    protocolTimeout: 20_000,
  });
}

/** Closes Firefox, killing it if it has not gone within `timeoutMs`. */
export async function closeFirefox(browser: Browser | undefined, timeoutMs = 10_000) {
  if (!browser) return;
  const closed = browser.close().then(
    () => true,
    () => false,
  );
  if (!(await Promise.race([closed, sleep(timeoutMs, false, { ref: false })])))
    browser.process()?.kill('SIGKILL');
}

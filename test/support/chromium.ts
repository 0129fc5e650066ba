import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { type Browser, type BrowserContext, chromium } from 'playwright-core';
import { browserOrReason, findBrowser } from './find-browser.ts';
import { nssHome } from './nss.ts';

/** The one line shown when there is no Chromium: the skip reason, or the failure in CI. */
export const CHROMIUM_MISSING =
  'Chromium not found: apt-get install -y chromium (or set CHROMIUM_PATH to its executable)';

const CANDIDATES = ['/usr/bin/chromium', '/usr/bin/chromium-browser'];

// Headless and offline: without the resolver rule Chromium still tries Google hosts (DESIGN.md).
export const CHROMIUM_ARGS: readonly string[] = [
  '--headless=new',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1',
];

const RULES = '--host-resolver-rules=';
const CHROMIUM = { variable: 'CHROMIUM_PATH', candidates: CANDIDATES, missing: CHROMIUM_MISSING };

/** Where Chromium is: CHROMIUM_PATH when set (and only then), else Debian's usual paths. */
export const findChromium = (env: NodeJS.ProcessEnv = process.env) => findBrowser(CHROMIUM, env);

/** Chromium's path, or the reason to skip (outside CI) or fail (CI=true) without it. */
export const chromiumOrReason = (env: NodeJS.ProcessEnv = process.env) =>
  browserOrReason(CHROMIUM, env);

/**
 * CHROMIUM_ARGS with the resolver rule letting the `allow` hosts through as well (the rule maps IP literals
 * too, so a LAN address needs this) and resolving each name in `map` to its address.
 */
export function chromiumArgs(
  options: { allow?: readonly string[]; map?: Readonly<Record<string, string>> } = {},
): string[] {
  const { allow = [], map = {} } = options;
  // An IPv6 literal is matched without its brackets: `EXCLUDE [fd77::1]` lets nothing through.
  const excluded = allow.map((host) => `EXCLUDE ${host.replace(/^\[|\]$/g, '')}`);
  const mapped = Object.entries(map).map(([name, address]) => `MAP ${name} ${address}`);
  return CHROMIUM_ARGS.map((arg) => {
    if (!arg.startsWith(RULES)) return arg;
    return `${RULES}${[...mapped, arg.slice(RULES.length), ...excluded].join(', ')}`;
  });
}

/** A running Chromium and the temporary HOME it runs with; close() ends both. */
export interface LaunchedChromium {
  browser: Browser;
  close(): Promise<void>;
}

/**
 * Launches Chromium with a temporary HOME of its own. With `trust`, that HOME's NSS database
 * trusts exactly `trust.caFiles` (made with `trust.certutil`): certificates they issue are
 * accepted with no certificate flag at all, as on a machine where the CA was installed.
 */
export async function launchChromium(options: {
  executablePath: string;
  args?: readonly string[];
  trust?: { certutil: string; caFiles: readonly string[] };
}): Promise<LaunchedChromium> {
  const { certutil, caFiles } = options.trust ?? {};
  const home = await nssHome(certutil, caFiles ?? []);
  const browser = await chromium
    .launch({
      executablePath: options.executablePath,
      args: [...(options.args ?? CHROMIUM_ARGS)],
      env: home.env,
      timeout: 15_000,
    })
    .catch(async (error: unknown) => {
      await home.close();
      throw error;
    });
  return {
    browser,
    async close() {
      await browser.close();
      await home.close();
    },
  };
}

/** Chromium with a profile of its own (a temporary folder); close() ends it and removes both. */
export interface ChromiumProfile {
  context: BrowserContext;
  close(): Promise<void>;
}

/**
 * Launches Chromium with a persistent profile in a temporary folder and a temporary HOME. Its
 * contexts are not incognito ones, which refuse what a real profile allows (push subscriptions).
 * `permissions` are granted to every origin. close() kills Chromium if it has not gone in 10 s.
 */
export async function launchChromiumProfile(options: {
  executablePath: string;
  args: readonly string[];
  permissions?: string[];
}): Promise<ChromiumProfile> {
  const home = await nssHome(undefined, []);
  const profile = await mkdtemp(join(tmpdir(), 'chromium-profile-'));
  const removeAll = async () => {
    await rm(profile, { recursive: true, force: true });
    await home.close();
  };
  // A persistent context gives no handle on its process: the wrapper notes the pid it execs with.
  const pidFile = join(home.home, 'chromium.pid');
  const wrapper = join(home.home, 'chromium');
  await writeFile(
    wrapper,
    `#!/bin/sh\necho $$ > "${pidFile}"\nexec "${options.executablePath}" "$@"\n`,
  );
  await chmod(wrapper, 0o755);
  const context = await chromium
    .launchPersistentContext(profile, {
      executablePath: wrapper,
      args: [...options.args],
      env: home.env,
      permissions: options.permissions ?? [],
      timeout: 15_000,
    })
    .catch(async (error: unknown) => {
      await removeAll();
      throw error;
    });
  return {
    context,
    async close() {
      const closed = context.close().then(
        () => true,
        () => false,
      );
      if (!(await Promise.race([closed, sleep(10_000, false, { ref: false })]))) {
        // playwright-core starts Chromium as a process group leader: end the whole group.
        const pid = Number(await readFile(pidFile, 'utf8'));
        try {
          process.kill(-pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
      await removeAll();
    },
  };
}

import type { BrowserContext, Page } from 'playwright-core';
import { chromiumArgs, launchChromium } from './chromium.ts';
import { fakePush } from './fake-push.ts';
import { LAN_IPV4, LAN_IPV6, type Lan } from './lan.ts';
import type { MintedSubscription } from './push-service.ts';
import { workerActivated } from './worker.ts';

/** A page opened by `LanChromium.open`, with what went wrong in it. */
export interface OpenedPage {
  context: BrowserContext;
  page: Page;
  /** Console errors and uncaught exceptions. */
  errors: string[];
}

export interface OpenOptions {
  viewport?: { width: number; height: number };
  userAgent?: string;
  /** Permissions besides `notifications` (say, the clipboard's). */
  permissions?: string[];
  /** Wait for the service worker to activate (true unless told otherwise). */
  worker?: boolean;
  /** Load the page despite an untrusted certificate, as a person clicking through the warning. */
  ignoreHTTPSErrors?: boolean;
}

/** Chromium running inside a LAN namespace: a phone on the LAN, or the server's own browser. */
export interface LanChromium {
  /** A fresh context (its own storage and worker) on `url`, closed when test `t` ends. */
  open(
    t: { after(close: () => unknown): void },
    url: string,
    options?: OpenOptions,
  ): Promise<OpenedPage>;
  close(): Promise<void>;
}

/**
 * Launches Chromium inside `lan`, let through to the LAN addresses, trusting only
 * `trust.caFiles` through NSS (no certificate flag; none without `trust`), with the stand-in
 * PushManager minting from `mint`.
 */
export async function startLanChromium(
  lan: Lan,
  options: {
    executablePath: string;
    trust?: { certutil: string; caFiles: readonly string[] };
    mint: () => MintedSubscription;
  },
): Promise<LanChromium> {
  const chromium = await launchChromium({
    executablePath: await lan.wrap(options.executablePath),
    args: chromiumArgs({ allow: [LAN_IPV4, LAN_IPV6] }),
    ...(options.trust ? { trust: options.trust } : {}),
  });
  return {
    async open(t, url, opening = {}) {
      const { viewport, userAgent, permissions = [], worker = true } = opening;
      const context = await chromium.browser.newContext({
        viewport: viewport ?? { width: 900, height: 1400 },
        colorScheme: 'light',
        ignoreHTTPSErrors: opening.ignoreHTTPSErrors ?? false,
        ...(userAgent ? { userAgent } : {}),
      });
      t.after(() => context.close());
      context.setDefaultTimeout(10_000);
      const origin = new URL(url).origin;
      await context.grantPermissions(['notifications', ...permissions], { origin });
      await fakePush(context, options.mint);
      const page = await context.newPage();
      const errors: string[] = [];
      page.on('console', (message) => {
        if (message.type() === 'error') errors.push(message.text());
      });
      page.on('pageerror', (error) => errors.push(error.message));
      await page.goto(url);
      if (worker) {
        const state = await workerActivated(page).catch(async (error: Error) => {
          // What the page said, and its errors, tell a failed registration from a slow one.
          const said = await page
            .locator('#status')
            .textContent()
            .catch(() => null);
          const detail = await page
            .locator('#detail')
            .textContent()
            .catch(() => null);
          throw new Error(
            `${error.message}; the page said ${JSON.stringify([said, detail])}, errors ${JSON.stringify(errors)}`,
          );
        });
        if (state !== 'activated') throw new Error(`the service worker is ${state}`);
      }
      await page.locator('#status:not([data-state="checking"])').waitFor();
      return { context, page, errors };
    },
    close: () => chromium.close(),
  };
}

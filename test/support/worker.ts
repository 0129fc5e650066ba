import type { BrowserContext, Page } from 'playwright-core';

/** What `registration.getNotifications()` shows, as plain data (absent where a browser lacks it). */
export interface ShownNotification {
  title: string;
  body: string;
  tag: string;
  icon: string;
  image?: string;
  badge?: string;
  actions?: { action: string; title: string }[];
  requireInteraction?: boolean;
  silent?: boolean | null;
  renotify?: boolean;
  timestamp?: number;
  data: { url?: string; actions?: Record<string, string> } | null;
}

/** Waits until the page's service worker is `activated` (`ready` can resolve while activating). */
export async function workerActivated(page: Page, timeoutMs = 30_000): Promise<string> {
  return page.evaluate(async (timeout) => {
    // A registration that failed never makes `ready` resolve, and evaluate() has no timeout.
    const registration = await Promise.race([
      navigator.serviceWorker.ready,
      new Promise<never>((_, reject) =>
        setTimeout(
          () => reject(new Error(`no service worker ready within ${timeout} ms`)),
          timeout,
        ),
      ),
    ]);
    const worker = registration.active;
    if (!worker) throw new Error('ready resolved without an active worker');
    if (worker.state !== 'activated') {
      await new Promise((resolve, reject) => {
        setTimeout(() => reject(new Error(`worker still ${worker.state}`)), timeout);
        worker.addEventListener('statechange', () => {
          if (worker.state === 'activated') resolve(undefined);
        });
      });
    }
    return worker.state;
  }, timeoutMs);
}

/** Runs in a page (`page.evaluate(readNotifications)`, any driver): what the worker has shown. */
export const readNotifications = async (): Promise<ShownNotification[]> => {
  const registration = await navigator.serviceWorker.ready;
  // Members some browsers lack (Firefox has no image, badge, renotify or timestamp) are read
  // loosely. No helper functions in here: the page gets this function's source alone.
  const shown = (await registration.getNotifications()) as (Notification &
    Partial<Omit<ShownNotification, 'data'>>)[];
  return shown.map((n) => ({
    title: n.title,
    body: n.body,
    tag: n.tag,
    icon: n.icon,
    image: n.image,
    badge: n.badge,
    actions: n.actions?.map(({ action, title }) => ({ action, title })),
    requireInteraction: n.requireInteraction,
    silent: n.silent,
    renotify: n.renotify,
    timestamp: n.timestamp,
    data: n.data,
  }));
};

/** Runs in a page (`page.evaluate(readEndpoint)`, any driver): its subscription's endpoint, or null. */
export const readEndpoint = async (): Promise<string | null> => {
  const registration = await navigator.serviceWorker.ready;
  return (await registration.pushManager.getSubscription())?.endpoint ?? null;
};

/**
 * Runs in a page: unsubscribes behind the server's back, as a browser that drops a subscription
 * on its own; true when there was one to drop.
 */
export const dropSubscription = async (): Promise<boolean | undefined> => {
  const registration = await navigator.serviceWorker.ready;
  return (await registration.pushManager.getSubscription())?.unsubscribe();
};

/** The notifications the worker has shown, read from the page. */
export function shownNotifications(page: Page): Promise<ShownNotification[]> {
  return page.evaluate(readNotifications);
}

/**
 * A CDP channel into the page's service worker: `push(data)` delivers a push message the way the
 * push service would (ServiceWorker.deliverPushMessage) and resolves once the worker's push event
 * has completed, so that getNotifications() afterwards sees what it showed.
 */
export async function pushChannel(context: BrowserContext, page: Page, origin: string) {
  const cdp = await context.newCDPSession(page);
  const scope = `${origin}/`;
  const registrationId = new Promise<string>((resolve) => {
    cdp.on('ServiceWorker.workerRegistrationUpdated', ({ registrations }) => {
      const found = registrations.find((r) => r.scopeURL === scope && !r.isDeleted);
      if (found) resolve(found.registrationId);
    });
  });
  let completed = 0;
  const wakers = new Set<() => void>();
  cdp.on('BackgroundService.backgroundServiceEventReceived', ({ backgroundServiceEvent }) => {
    if (backgroundServiceEvent.eventName !== 'Push event completed') return;
    completed++;
    for (const wake of wakers) wake();
  });
  await cdp.send('ServiceWorker.enable');
  await cdp.send('BackgroundService.startObserving', { service: 'pushMessaging' });
  await cdp.send('BackgroundService.setRecording', {
    shouldRecord: true,
    service: 'pushMessaging',
  });
  const id = await withTimeout(registrationId, 5000, `no service worker registration for ${scope}`);

  return {
    async push(data: string, timeoutMs = 5000): Promise<void> {
      const target = completed + 1;
      const done = new Promise<void>((resolve) => {
        const wake = () => {
          if (completed < target) return;
          wakers.delete(wake);
          resolve();
        };
        wakers.add(wake);
      });
      await cdp.send('ServiceWorker.deliverPushMessage', { origin, registrationId: id, data });
      await withTimeout(done, timeoutMs, 'the worker did not complete the push event');
    },
    detach: () => cdp.detach(),
  };
}

function withTimeout<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${message} within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

import type { BrowserContext, Page } from 'playwright-core';

/**
 * One entry of Chromium's push messaging log: "Push message received" (`Success`, `Was
 * Encrypted`, the decrypted `Payload` or the `Error Reason`), "Push event dispatched", "Push
 * event completed" (`Status`)...
 */
export interface PushEvent {
  name: string;
  metadata: Readonly<Record<string, string>>;
}

/**
 * Records what Chromium does with each push message for the page's profile, as DevTools'
 * Background Services panel shows it: the array fills as messages arrive over the browser's
 * own push connection, before any service worker code runs.
 */
export async function recordPushEvents(context: BrowserContext, page: Page): Promise<PushEvent[]> {
  const cdp = await context.newCDPSession(page);
  const events: PushEvent[] = [];
  cdp.on('BackgroundService.backgroundServiceEventReceived', ({ backgroundServiceEvent }) => {
    const { service, eventName, eventMetadata } = backgroundServiceEvent;
    if (service !== 'pushMessaging') return;
    const metadata = Object.fromEntries(eventMetadata.map(({ key, value }) => [key, value]));
    events.push({ name: eventName, metadata });
  });
  await cdp.send('BackgroundService.startObserving', { service: 'pushMessaging' });
  await cdp.send('BackgroundService.setRecording', {
    shouldRecord: true,
    service: 'pushMessaging',
  });
  return events;
}

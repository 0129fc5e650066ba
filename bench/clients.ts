// Side experiment (issue 4): the same encrypted requests from web-push's generateRequestDetails(),
// sent with node:https or with undici, same cached VAPID header and same concurrency.
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { Agent as UndiciAgent, request as undiciRequest } from 'undici';
import webpush from 'web-push';
import type { VapidKeys } from '../src/keys.ts';
import { createVapidHeaders } from '../src/push/vapid-header.ts';
import type { Subscription } from '../src/store/subscription.ts';

export type Client = 'https' | 'undici';
type Post = (details: webpush.RequestDetails) => Promise<number>;

/** Sends `payload` to every subscription over `client`; resolves to how many got a 2xx. */
export async function sendVia(
  client: Client,
  subscriptions: readonly Subscription[],
  payload: string,
  vapid: VapidKeys,
  concurrency: number,
): Promise<number> {
  const audience = new URL(subscriptions[0]?.endpoint ?? 'https://invalid').origin;
  const Authorization = createVapidHeaders(vapid)(audience);
  const options = {
    TTL: 86_400,
    headers: { Authorization },
    vapidDetails: null,
  } as unknown as webpush.RequestOptions;
  const { post, close } = client === 'https' ? httpsClient(concurrency) : undiciClient(concurrency);
  let next = 0;
  let delivered = 0;
  const worker = async () => {
    while (next < subscriptions.length) {
      const subscription = subscriptions[next++] as Subscription;
      const details = webpush.generateRequestDetails(subscription, payload, options);
      const status = await post(details);
      if (status >= 200 && status < 300) delivered++;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  await close();
  return delivered;
}

function httpsClient(concurrency: number): { post: Post; close: () => Promise<void> } {
  const agent = new HttpsAgent({ keepAlive: true, maxSockets: concurrency });
  const post: Post = (details) =>
    new Promise((resolve, reject) => {
      const headers = Object.fromEntries(
        Object.entries(details.headers).map(([name, value]) => [name, String(value)]),
      );
      const req = httpsRequest(details.endpoint, { method: 'POST', headers, agent }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      });
      req.on('error', reject);
      req.end(details.body);
    });
  return { post, close: async () => agent.destroy() };
}

function undiciClient(concurrency: number): { post: Post; close: () => Promise<void> } {
  const dispatcher = new UndiciAgent({ connections: concurrency });
  const post: Post = async (details) => {
    const headers = Object.fromEntries(
      Object.entries(details.headers).map(([name, value]) => [name, String(value)]),
    );
    const response = await undiciRequest(details.endpoint, {
      method: 'POST',
      headers,
      body: details.body ?? undefined,
      dispatcher,
    });
    await response.body.dump();
    return response.statusCode;
  };
  return { post, close: () => dispatcher.close() };
}

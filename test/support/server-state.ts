import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type webpush from 'web-push';
import type { ServerProcess } from './processes.ts';

/** What the server stores in its folder's subscription.json. */
export async function storedSubscriptions(
  server: Pick<ServerProcess, 'dir'>,
): Promise<webpush.PushSubscription[]> {
  return JSON.parse(await readFile(join(server.dir, 'subscription.json'), 'utf8'));
}

/** The server's VAPID public key (base64url), as the page asks for it. */
export async function serverPublicKey(server: Pick<ServerProcess, 'httpUrl'>): Promise<string> {
  const response = await fetch(`${server.httpUrl}/api/vapid-public-key`);
  return ((await response.json()) as { publicKey: string }).publicKey;
}

import assert from 'node:assert/strict';
import { createECDH, randomBytes, randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { after, before, test } from 'node:test';
import { Agent, request } from 'undici';
import webpush from 'web-push';
import { WebSocket } from 'ws';
import { eventually } from './support/eventually.ts';
import {
  type FirefoxPushService,
  startFirefoxPushService,
} from './support/firefox-push-service.ts';
import { decryptAes128gcm } from './support/push-service.ts';

// A WebSocket client speaking as Firefox's push client does (DESIGN.md), so the service that the
// Firefox test relies on is checked here without a browser.
const vapid = webpush.generateVAPIDKeys();
const vapidDetails = { subject: 'mailto:test@example.com', ...vapid };
let service: FirefoxPushService;
let agent: Agent;
const sockets: WebSocket[] = [];

before(async () => {
  service = await startFirefoxPushService();
  agent = new Agent({ connect: { ca: service.ca } });
});

after(async () => {
  for (const socket of sockets) socket.terminate();
  await agent.close();
  await service.close();
});

/** Opens a push connection and returns a function that sends a message and awaits a reply. */
async function connect() {
  const socket = new WebSocket(service.serverURL, 'push-notification');
  sockets.push(socket);
  const inbox: Record<string, unknown>[] = [];
  socket.on('message', (data) => inbox.push(JSON.parse(data.toString())));
  await once(socket, 'open');
  const next = (type: string) =>
    eventually(`a ${type} from the push service`, () => {
      const at = inbox.findIndex((m) => m.messageType === type);
      return at < 0 ? undefined : inbox.splice(at, 1)[0];
    });
  return {
    socket,
    next,
    async ask(message: Record<string, unknown>) {
      socket.send(JSON.stringify(message));
      return next(String(message.messageType));
    },
  };
}

/** Says hello (with `uaid`, if any) and registers one channel for the VAPID key, padded like Firefox. */
async function subscribe(uaid?: string) {
  const client = await connect();
  const hello = await client.ask({
    messageType: 'hello',
    use_webpush: true,
    ...(uaid && { uaid }),
  });
  const channelID = randomUUID();
  const key = `${vapid.publicKey}=`;
  const registered = await client.ask({ messageType: 'register', channelID, key });
  const ecdh = createECDH('prime256v1');
  const keys = {
    publicKey: ecdh.generateKeys(),
    privateKey: ecdh.getPrivateKey(),
    auth: randomBytes(16),
  };
  const subscription = {
    endpoint: String(registered.pushEndpoint),
    keys: { p256dh: keys.publicKey.toString('base64url'), auth: keys.auth.toString('base64url') },
  };
  return { client, uaid: String(hello.uaid), channelID, subscription, keys };
}

const push = (subscription: webpush.PushSubscription, details = vapidDetails) => {
  const { endpoint, headers, body } = webpush.generateRequestDetails(subscription, 'hello', {
    vapidDetails: details,
    TTL: 60,
  });
  return request(endpoint, { method: 'POST', headers, body: body as Buffer, dispatcher: agent });
};

test('a push for a channel is forwarded still encrypted, and Firefox’s ack is recorded', async () => {
  const { client, channelID, subscription, keys } = await subscribe();
  const response = await push(subscription);
  assert.equal(response.statusCode, 201);
  const notification = await client.next('notification');
  assert.equal(notification.channelID, channelID);
  assert.deepEqual(notification.headers, { encoding: 'aes128gcm' });
  const body = Buffer.from(String(notification.data), 'base64url');
  assert.equal(
    decryptAes128gcm(body, keys.privateKey, keys.publicKey, keys.auth).toString(),
    'hello',
  );

  const forwarded = service.forwarded.find((m) => m.version === notification.version);
  assert.ok(forwarded);
  assert.equal(forwarded.claims.aud, service.origin);
  const updates = [{ channelID, version: notification.version, code: 101 }];
  client.socket.send(JSON.stringify({ messageType: 'ack', updates }));
  assert.equal(await eventually('the ack', () => forwarded.ack), 101);
});

test('refuses a push signed with another key than the channel’s, or without TTL', async () => {
  const { subscription } = await subscribe();
  const other = { ...vapidDetails, ...webpush.generateVAPIDKeys() };
  assert.equal((await push(subscription, other)).statusCode, 401);
  const { headers, body } = webpush.generateRequestDetails(subscription, 'x', { vapidDetails });
  const { TTL: _, ...noTtl } = headers as Record<string, string>;
  const response = await request(subscription.endpoint, {
    method: 'POST',
    headers: noTtl,
    body: body as Buffer,
    dispatcher: agent,
  });
  assert.equal(response.statusCode, 400);
});

test('answers 410 for an unregistered channel and 404 for an endpoint it never made', async () => {
  const { client, channelID, subscription } = await subscribe();
  const reply = await client.ask({ messageType: 'unregister', channelID, code: 200 });
  assert.equal(reply.status, 200);
  assert.equal((await push(subscription)).statusCode, 410);
  const unknown = { ...subscription, endpoint: `${service.origin}/wpush/v2/unknown` };
  assert.equal((await push(unknown)).statusCode, 404);
});

test('a uaid reset drops the socket, gives a new uaid and makes every old channel 410', async () => {
  const first = await subscribe();
  const closed = once(first.client.socket, 'close');
  service.resetUaid();
  await closed;
  const again = await subscribe(first.uaid);
  assert.notEqual(again.uaid, first.uaid);
  assert.equal(service.gone(first.subscription.endpoint), 'dropped');
  assert.equal((await push(first.subscription)).statusCode, 410);
  assert.equal((await push(again.subscription)).statusCode, 201);
  // The same uaid back keeps it, and its channels.
  const kept = await connect();
  assert.equal((await kept.ask({ messageType: 'hello', uaid: again.uaid })).uaid, again.uaid);
  assert.equal((await push(again.subscription)).statusCode, 201);
});

test('a register sent twice keeps its endpoint, and a ping is answered', async () => {
  const { client, channelID, subscription } = await subscribe();
  const twice = await client.ask({ messageType: 'register', channelID, key: vapid.publicKey });
  assert.equal(twice.pushEndpoint, subscription.endpoint);
  client.socket.send('{}');
  const [pong] = await once(client.socket, 'message');
  assert.equal(String(pong), '{}');
});

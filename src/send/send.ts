import type { Config } from '../config.ts';
import { ConfigError, HttpError } from '../errors.ts';
import { loadKeys } from '../keys.ts';
import { createConfiguredPusher, type Pusher } from '../push/pusher.ts';
import { findDevice, listDevices } from '../store/devices.ts';
import { openStorage } from '../store/open.ts';
import { readAll, type SubscriptionStore } from '../store/store.ts';
import type { Subscription } from '../store/subscription.ts';
import { type SharedSend, sendSpans } from './batches.ts';
import { deliver } from './deliver.ts';
import { firstOrigin } from './origin.ts';
import type { SendQueue } from './queue.ts';
import type { Recipient, SendRequest, SendSummary } from './send-request.ts';

const NO_SUBSCRIPTION = 'no subscription is stored yet: open the page and click Subscribe';

/**
 * What a send needs: the subscriptions, the pusher, where links point for subscriptions stored
 * without their origin, the batch size, with a database the queue, and `log`, which hears of a
 * failed save of its results (no one waits for it).
 */
export interface SendDeps {
  store: SubscriptionStore;
  pusher: Pusher;
  /** The server's first origin: links of subscriptions stored without their own origin. */
  firstOrigin: () => string;
  /** Subscriptions per batch (SEND_BATCH). */
  batch: number;
  shared?: SharedSend;
  log: (line: string) => void;
}

/**
 * Pushes to the latest, every, or the named stored subscription; 409 when none is stored, 422
 * for an unknown name. Every one is read in batches, never all at once; with a queue, a send of
 * more than one batch is shared.
 */
export async function sendToStored(
  deps: SendDeps,
  request: SendRequest,
  onProgress?: (done: number, total: number) => void,
): Promise<SendSummary> {
  const { notification, delivery } = request;
  if (request.to !== 'all') {
    const target = await targetOf(deps.store, request.to);
    if (!target) throw new HttpError(409, NO_SUBSCRIPTION);
    return deliver(deps, [target], notification, delivery, onProgress);
  }
  const spans = await deps.store.spans(deps.batch);
  if (spans.length === 0) throw new HttpError(409, NO_SUBSCRIPTION);
  if (deps.shared && spans.length > 1) return deps.shared.send(spans, request, onProgress);
  return sendSpans(deps, spans, request, onProgress);
}

async function targetOf(
  store: SubscriptionStore,
  to: Exclude<Recipient, 'all'>,
): Promise<Subscription | undefined> {
  const latest = await store.latest();
  if (!latest || to === 'latest') return latest;
  // Names are told apart across the whole list (devices.ts), as the device list shows them.
  const { endpoint } = findDevice(listDevices(await readAll(store)), to.name);
  return store.get(endpoint);
}

/**
 * What `npm run send` does: open the store (and with DATABASE_URL the queue, which this process
 * works too) and the keys, push, save the results, and close it all. `log` hears of results not
 * saved; `note` of what the store did on the way (a migration).
 */
export async function sendConfigured(
  config: Config,
  request: SendRequest,
  options: {
    log: (line: string) => void;
    note?: (line: string) => void;
    onProgress?: (done: number, total: number) => void;
  },
): Promise<SendSummary> {
  const { log, note = () => {}, onProgress } = options;
  const { store, database } = await openStorage(config, note, { watch: false });
  try {
    // Checked before the keys: with nothing stored, that is the problem to tell.
    if (!(await store.latest())) throw new HttpError(409, NO_SUBSCRIPTION);
    const keys = await loadKeys(config);
    if (!keys)
      throw new ConfigError(`no VAPID keys in ${config.vapidFile}: start the server first`);
    const pusher = createConfiguredPusher(config, keys);
    // As the server would answer with its configured ports (it cannot be asked: it may not run).
    const origin = firstOrigin(config.host, config.port, config.httpPort);
    const deps: SendDeps = {
      store,
      pusher,
      firstOrigin: () => origin,
      batch: config.sendBatch,
      log,
    };
    // Started only for a send of several batches: this process then works batches too.
    let queue: Promise<SendQueue> | undefined;
    const shared: SharedSend = {
      async send(spans, sendRequest, progress) {
        if (!database) throw new Error('a shared send needs the database');
        const { startSendQueue } = await import('./queue.ts');
        const { sendLeaseSeconds: leaseSeconds } = config;
        queue ??= startSendQueue({ ...deps, database, leaseSeconds });
        return (await queue).send(spans, sendRequest, progress);
      },
    };
    try {
      return await sendToStored({ ...deps, ...(database ? { shared } : {}) }, request, onProgress);
    } finally {
      await (await queue?.catch(() => undefined))?.close();
      await pusher.close();
    }
  } finally {
    // The results wait for a write to share (store.record): this process has no other to come.
    await store.close();
  }
}

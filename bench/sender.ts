// One sender, in its own process (forked by bench/run.ts, built into dist/bench/ by npm run build) so
// its CPU time and peak RSS are its own.
// The runner passes SUBSCRIPTION_FILE, VAPID_FILE, PUSH_ALLOWED_HOSTS and NODE_EXTRA_CA_CERTS.
import { readFile } from 'node:fs/promises';
import webpush from 'web-push';
import { loadConfig } from '../src/config.ts';
import { loadKeys } from '../src/keys.ts';
import { sendConfigured } from '../src/send/send.ts';
import { parseSendRequest } from '../src/send/send-request.ts';
import type { Subscription } from '../src/store/subscription.ts';
import { type Client, sendVia } from './clients.ts';
import { mainThreadCpuUs, processCpuUs, threadsBetween, threadsCpuUs } from './cpu.ts';
import { cryptoFloorUs } from './floor.ts';

export type SenderKind = 'tutorial' | 'ours' | Client;

/** What to send, to every subscription in SUBSCRIPTION_FILE (`count` of them). */
export interface SenderJob {
  kind: SenderKind;
  count: number;
  title: string;
  body: string;
  concurrency: number;
  floorIterations: number;
}

export interface SenderResult {
  sent: number;
  delivered: number;
  elapsedMs: number;
  /** CPU µs during the send: summed over all threads, and on the main thread alone. */
  cpuUs: number;
  mainCpuUs: number;
  /** CPU µs of the whole process from its start to the end of the send, minus the floor's. */
  processCpuUs: number;
  /**
   * CPU µs of each thread during the send (to 10 ms): the main thread, then the others, busiest
   * first (encryption workers, V8's garbage collector helpers). Absent from older builds.
   */
  threadsCpuUs?: number[];
  rssBefore: number;
  maxRss: number;
  /** The crypto floor, measured in this process just before and just after sending. */
  floorUs: number;
  error?: string;
}

/** The threads' CPU when the last message was accounted for: the workers end with the send. */
let atLastMessage: Map<string, number> | undefined;

async function run(job: SenderJob): Promise<{ sent: number; delivered: number }> {
  const config = loadConfig();
  if (job.kind === 'ours') {
    // What `npm run send -- --all` does (scripts/send.ts), minus its progress line and summary.
    const request = parseSendRequest({ title: job.title, body: job.body, to: 'all' });
    const log = (line: string) => console.error(line);
    const onProgress = (done: number, total: number) => {
      if (done === total) atLastMessage = threadsCpuUs();
    };
    const { delivered, removed, failed } = await sendConfigured(config, request, {
      log,
      onProgress,
    });
    return { sent: delivered + removed + failed.length, delivered };
  }
  const vapid = await loadKeys(config);
  if (!vapid) throw new Error(`no VAPID keys in ${config.vapidFile}`);
  const text = await readFile(config.subscriptionFile, 'utf8');
  const subscriptions = JSON.parse(text) as Subscription[];
  const payload = JSON.stringify({ title: job.title, body: job.body });
  if (job.kind !== 'tutorial') {
    const delivered = await sendVia(job.kind, subscriptions, payload, vapid, job.concurrency);
    return { sent: subscriptions.length, delivered };
  }
  // The loop every tutorial shows: one at a time, a new VAPID JWT for each message.
  const vapidDetails = { ...vapid };
  let delivered = 0;
  for (const s of subscriptions) {
    await webpush.sendNotification(s, payload, { vapidDetails, TTL: 86_400 });
    delivered++;
  }
  return { sent: subscriptions.length, delivered };
}

// Without its runner nobody reads the result: stop.
process.on('disconnect', () => process.exit(1));
process.once('message', async (job: SenderJob) => {
  const payload = JSON.stringify({ title: job.title, body: job.body });
  let floorCpuUs = 0;
  const floor = () => {
    const before = process.cpuUsage();
    const us = cryptoFloorUs(job.floorIterations / 2, payload);
    const { user, system } = process.cpuUsage(before);
    floorCpuUs += user + system;
    return us;
  };
  const floorBefore = floor();
  const rssBefore = process.memoryUsage.rss();
  const main = mainThreadCpuUs();
  const threads = threadsCpuUs();
  const cpu = process.cpuUsage();
  const start = performance.now();
  let outcome: { sent: number; delivered: number; error?: string };
  try {
    outcome = await run(job);
  } catch (error) {
    outcome = { sent: 0, delivered: 0, error: String(error) };
  }
  const elapsedMs = performance.now() - start;
  const { user, system } = process.cpuUsage(cpu);
  const mainCpuUs = mainThreadCpuUs() - main;
  const threadCpuUs = threadsBetween(threads, atLastMessage ?? threadsCpuUs());
  const maxRss = process.resourceUsage().maxRSS * 1024;
  const usage = {
    cpuUs: user + system,
    mainCpuUs,
    processCpuUs: processCpuUs() - floorCpuUs,
    threadsCpuUs: threadCpuUs,
  };
  const floorUs = (floorBefore + floor()) / 2;
  const result: SenderResult = { ...outcome, elapsedMs, ...usage, rssBefore, maxRss, floorUs };
  // Exit at once: kept-alive sockets of the global agent must not hold the process open.
  process.send?.(result, () => process.exit(0));
});

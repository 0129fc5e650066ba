// npm run bench: the tutorial loop vs our `send --all` path against a local HTTPS push service.
import { rmSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateKeys, saveKeys } from '../src/keys.ts';
import { runSender, startPushServer } from './children.ts';
import { type BenchFlags, HELP, parseBenchFlags } from './flags.ts';
import { mint, pick, writeSubscriptions } from './mint.ts';
import { measurePosts, type PostLatency } from './post-latency.ts';
import type { SenderJob } from './sender.ts';
import { benchStartup } from './startup.ts';
import { cpuPerMessage, deliveryOk, formatRows, type Row, rateOf } from './table.ts';
import { printPosts, printTargets } from './targets.ts';

const POST_WARMUP = 20;
const TITLE = 'Simple Web Push';
const BODY = 'Benchmark message';
const PAYLOAD = JSON.stringify({ title: TITLE, body: BODY });
const log = (line: string) => process.stderr.write(`${line}\n`);

let flags: BenchFlags;
try {
  flags = parseBenchFlags(process.argv.slice(2));
} catch (error) {
  console.error(`error: ${(error as Error).message}\n\n${HELP}`);
  process.exit(2);
}
if (flags.help) {
  console.log(HELP);
  process.exit(0);
}

const dir = await mkdtemp(join(tmpdir(), 'bench-'));
process.once('SIGINT', () => {
  rmSync(dir, { recursive: true, force: true });
  process.exit(130);
});
const push = await startPushServer();
try {
  const sections = new Set(flags.only);
  const fanOut = sections.has('senders') || sections.has('posts');
  const maxN = fanOut ? Math.max(0, ...flags.ns, ...flags.stored) : 0;
  const minted = mint(push.origin, maxN + POST_WARMUP + flags.posts);
  const size = minted.subscriptions.length;
  const vapidFile = join(dir, 'vapid.json');
  await saveKeys(vapidFile, generateKeys('mailto:bench@example.com'));

  /** Runs one sender `repeat` times; the median run by rate, or a run whose delivery failed. */
  const run = async (latencyMs: number, n: number, name: string, job: SenderJob, base?: Row) => {
    // Each sender reads a file of exactly the subscriptions it sends to.
    const file = join(dir, `subscriptions-${job.count}.json`);
    await writeSubscriptions(file, minted.subscriptions.slice(0, job.count));
    const env = {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      NODE_EXTRA_CA_CERTS: push.caFile,
      PUSH_ALLOWED_HOSTS: push.host,
      SUBSCRIPTION_FILE: file,
      VAPID_FILE: vapidFile,
    };
    const runs: Row[] = [];
    for (let i = 1; i <= flags.repeat; i++) {
      const sample = pick(minted.receivers.slice(0, job.count), flags.verify);
      await push.reset({ size, latencyMs, payload: PAYLOAD, sample });
      log(`${latencyMs} ms, N=${n}: ${name} sending to ${job.count} (run ${i}/${flags.repeat})`);
      const result = await runSender(job, env, flags.cpuProf);
      const tally = await push.tally(job.count);
      const row: Row = { latencyMs, n, sender: name, result, tally, baseline: base };
      runs.push(row);
      const cpu = cpuPerMessage(row).toFixed(0);
      log(
        `  ${rateOf(row).toFixed(0)}/s, ${cpu} µs CPU/msg, floor ${result.floorUs.toFixed(0)} µs`,
      );
    }
    runs.sort((x, y) => rateOf(x) - rateOf(y));
    return runs.find((r) => !deliveryOk(r)) ?? (runs[Math.floor(runs.length / 2)] as Row);
  };

  const rows: Row[] = [];
  for (const latencyMs of sections.has('senders') ? flags.latencies : []) {
    for (const n of flags.ns) {
      const { concurrency, floorIterations } = flags;
      const job = { title: TITLE, body: BODY, concurrency, floorIterations, count: n };
      // With added latency the tutorial loop would take N x latency: it sends to a sample.
      const countA = latencyMs > 0 ? Math.min(flags.sampleA, n) : n;
      let a: Row | undefined;
      if (flags.senders.includes('tutorial')) {
        a = await run(latencyMs, n, '(a) tutorial loop', {
          ...job,
          kind: 'tutorial',
          count: countA,
        });
        rows.push(a);
      }
      if (flags.senders.includes('ours')) {
        rows.push(await run(latencyMs, n, '(b) send --all', { ...job, kind: 'ours' }, a));
      }
      if (latencyMs > 0) continue;
      for (const client of flags.clients) {
        rows.push(await run(latencyMs, n, `(c) ${client}`, { ...job, kind: client }, a));
      }
    }
  }

  const postRows: PostLatency[] = [];
  for (const stored of sections.has('posts') ? flags.stored : []) {
    await push.reset({ size, latencyMs: 0, payload: PAYLOAD, sample: [] });
    log(`POST /api/subscriptions with ${stored} stored`);
    const measured = await measurePosts({
      stored: minted.subscriptions.slice(0, stored),
      fresh: minted.subscriptions.slice(maxN),
      concurrency: flags.postConcurrency,
      warmup: POST_WARMUP,
      push,
    });
    postRows.push(measured);
  }

  const median = flags.repeat > 1 ? `, median of ${flags.repeat} runs` : '';
  if (rows.length > 0) printSenders(rows, median);
  if (postRows.length > 0) printPosts(postRows, flags.postConcurrency);
  if (fanOut) printTargets(rows, postRows);
  if (sections.has('startup')) await benchStartup(push, minted, flags.startupRuns, dir);
} finally {
  await push.close();
  await rm(dir, { recursive: true, force: true });
}

function printSenders(rows: Row[], median: string): void {
  console.log(
    `\nSenders (node ${process.version}, ${flags.concurrency} in flight for (c)${median}):\n`,
  );
  console.log(formatRows(rows));
  console.log(
    `\n* (a) with added latency sent to ${flags.sampleA} subscriptions only; its rate stands for` +
      ' all N (extrapolated: N / rate seconds).\n' +
      '  CPU and RSS are the sender process alone; RSS MB is before sending, +peak MB the growth' +
      ' to its peak.\n  floor: ephemeral P-256 key + ECDH + HKDF + AES-128-GCM per message, one' +
      ' core, measured in each sender\n  process (half just before sending, half just after),' +
      ' so it sees the same machine load.\n  (c): generateRequestDetails() sent with node:https or' +
      ' undici, cached VAPID header, no store.',
  );
}

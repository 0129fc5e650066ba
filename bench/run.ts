// npm run bench: the tutorial loop vs our `send --all` path against a local HTTPS push service.
import { rmSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateKeys, saveKeys } from '../src/keys.ts';
import { buildBefore } from './before.ts';
import { runSender, startPushServer } from './children.ts';
import { type BenchFlags, HELP, parseBenchFlags } from './flags.ts';
import { mint, pick, writeSubscriptions } from './mint.ts';
import { measurePosts, type PostLatency } from './post-latency.ts';
import { printPosts, printSenders } from './print.ts';
import type { SenderJob, SenderResult } from './sender.ts';
import { benchStartup } from './startup.ts';
import {
  coresBusy,
  cpuPerMessage,
  deliveryOk,
  mainCpuPerMessage,
  percent,
  pushCpuPerMessage,
  type Row,
  rateOf,
} from './table.ts';
import { printTargets } from './targets.ts';

const POST_WARMUP = 20;
const TITLE = 'Simple Web Push';
const BODY = 'Benchmark message';
const PAYLOAD = JSON.stringify({ title: TITLE, body: BODY });
const TUTORIAL = '(a) tutorial loop';
const log = (line: string) => process.stderr.write(`${line}\n`);

/** A sender of a scenario: its row name, job and environment, and its build (this one's if unset). */
interface Entry {
  name: string;
  job: SenderJob;
  env: NodeJS.ProcessEnv;
  script?: string;
}

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
  // Stored subscriptions beyond the largest N only fill the store: they may share keys.
  const minted = mint(push.origin, maxN + POST_WARMUP + flags.posts, Math.max(1, ...flags.ns));
  const size = minted.subscriptions.length;
  const vapidFile = join(dir, 'vapid.json');
  await saveKeys(vapidFile, generateKeys('mailto:bench@example.com'));

  /** The environment of a sender reading a file of exactly the `count` it sends to. */
  const senderEnv = async (count: number, extra: NodeJS.ProcessEnv) => {
    const file = join(dir, `subscriptions-${count}.json`);
    await writeSubscriptions(file, minted.subscriptions.slice(0, count));
    return {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      NODE_EXTRA_CA_CERTS: push.caFile,
      PUSH_ALLOWED_HOSTS: push.host,
      SUBSCRIPTION_FILE: file,
      VAPID_FILE: vapidFile,
      ...extra,
    };
  };

  // Each sender's start-up cost: the same process sending to one subscription, once per run.
  const startups = new Map<string, SenderResult>();
  const startupOf = async ({ name, job, env: extra, script }: Entry) => {
    const known = startups.get(name);
    if (known) return known;
    await push.reset({ size, latencyMs: 0, payload: PAYLOAD, sample: [] });
    log(`${name}: start-up run, sending to 1`);
    const one = { ...job, count: 1, floorIterations: 2 };
    const startup = await runSender(one, await senderEnv(1, extra), { script });
    if (startup.error || startup.delivered !== 1) log(`  start-up run failed: ${startup.error}`);
    startups.set(name, startup);
    return startup;
  };

  /** One run of one sender, with what the push service saw and how busy the machine was. */
  const runOnce = async (latencyMs: number, n: number, entry: Entry, startup: SenderResult) => {
    const { name, job, env: extra, script } = entry;
    const env = await senderEnv(job.count, extra);
    const sample = pick(minted.receivers.slice(0, job.count), flags.verify);
    await push.reset({ size, latencyMs, payload: PAYLOAD, sample });
    const result = await runSender(job, env, {
      script,
      profileDir: flags.cpuProf,
      beforeJob: (pid) => push.watch(pid, job.count),
    });
    const tally = await push.tally(job.count);
    const row: Row = { latencyMs, n, sender: name, result, tally, startup };
    const [main, all] = [mainCpuPerMessage(row), cpuPerMessage(row)].map((us) => us.toFixed(0));
    log(
      `  ${name}: ${rateOf(row).toFixed(0)}/s, cores busy ${percent(coresBusy(row))},` +
        ` CPU µs/msg ${main} main thread, ${all} all threads,` +
        ` push service ${pushCpuPerMessage(row).toFixed(0)}, floor ${result.floorUs.toFixed(0)} µs`,
    );
    return row;
  };

  /**
   * Runs a scenario's senders `repeat` times, taking turns so that load changes hit them alike;
   * each sender's median run by rate, or a run whose delivery failed. (a) is the others' baseline.
   */
  const runScenario = async (latencyMs: number, n: number, entries: Entry[]) => {
    const runs = new Map<Entry, Row[]>(entries.map((entry) => [entry, []]));
    for (const entry of entries) await startupOf(entry);
    for (let i = 1; i <= flags.repeat; i++) {
      log(`${latencyMs} ms, N=${n}, run ${i}/${flags.repeat}`);
      for (const entry of entries) {
        const startup = startups.get(entry.name) as SenderResult;
        runs.get(entry)?.push(await runOnce(latencyMs, n, entry, startup));
      }
    }
    const chosen = entries.map((entry) => {
      const rows = [...(runs.get(entry) ?? [])].sort((x, y) => rateOf(x) - rateOf(y));
      return rows.find((r) => !deliveryOk(r)) ?? (rows[Math.floor(rows.length / 2)] as Row);
    });
    const baseline = chosen.find((row) => row.sender === TUTORIAL);
    for (const row of chosen) if (row !== baseline) row.baseline = baseline;
    return chosen;
  };

  const before = flags.before ? await buildBefore(flags.before, dir) : undefined;
  if (before) log(`before: built from ${before.commit}`);
  const rows: Row[] = [];
  for (const latencyMs of sections.has('senders') ? flags.latencies : []) {
    for (const n of flags.ns) {
      const { concurrency, floorIterations } = flags;
      const job = { title: TITLE, body: BODY, concurrency, floorIterations, count: n };
      const entries: Entry[] = [];
      // With added latency the tutorial loop would take N x latency: it sends to a sample.
      const countA = latencyMs > 0 ? Math.min(flags.sampleA, n) : n;
      if (flags.senders.includes('tutorial')) {
        entries.push({ name: TUTORIAL, job: { ...job, kind: 'tutorial', count: countA }, env: {} });
      }
      for (const protocol of flags.senders.includes('ours') ? flags.protocols : []) {
        // PUSH_HTTP2=1 lets undici offer h2; the protocol column shows what was negotiated.
        const [suffix, env] = protocol === 'h2' ? [' h2', { PUSH_HTTP2: '1' }] : ['', {}];
        const ours = { ...job, kind: 'ours' } as const;
        if (before) {
          const name = `(b) before${suffix}`;
          entries.push({ name, job: ours, env, script: before.sender });
        }
        entries.push({ name: `(b) send --all${suffix}`, job: ours, env });
      }
      if (latencyMs === 0) {
        for (const client of flags.clients) {
          entries.push({ name: `(c) ${client}`, job: { ...job, kind: client }, env: {} });
        }
      }
      rows.push(...(await runScenario(latencyMs, n, entries)));
    }
  }

  const postRows: PostLatency[] = [];
  for (const stored of sections.has('posts') ? flags.stored : []) {
    await push.reset({ size, latencyMs: 0, payload: PAYLOAD, sample: [] });
    log(`POST /api/subscriptions with ${stored} stored`);
    const measured = await measurePosts({
      stored: minted.subscriptions.slice(0, stored),
      fresh: minted.subscriptions.slice(maxN),
      warmup: POST_WARMUP,
      push,
    });
    postRows.push(measured);
  }

  if (rows.length > 0) printSenders(rows, flags, before?.commit);
  if (postRows.length > 0) printPosts(postRows);
  if (fanOut) printTargets(rows, postRows);
  if (sections.has('startup')) {
    await benchStartup(push, minted, flags.startupRuns, dir, before);
  }
} finally {
  await push.close();
  await rm(dir, { recursive: true, force: true });
}

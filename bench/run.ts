// npm run bench: the tutorial loop vs our `send --all` path against a local HTTPS push service.
import { rmSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateKeys, saveKeys } from '../src/keys.ts';
import { childEnv } from '../test/support/processes.ts';
import { buildBefore } from './before.ts';
import { startPushServer } from './children.ts';
import { type BenchFlags, HELP, parseBenchFlags } from './flags.ts';
import { mint, writeSubscriptions } from './mint.ts';
import { measurePosts, type PostLatency } from './post-latency.ts';
import { printPosts, printSenders } from './print.ts';
import { benchScale } from './scale.ts';
import { createScenarios, type Entry, TUTORIAL } from './scenario.ts';
import { benchStartup } from './startup.ts';
import type { Row } from './table.ts';
import { printTargets } from './targets.ts';

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
  // Stored subscriptions beyond the largest N only fill the store: they may share keys.
  const minted = mint(push.origin, maxN + POST_WARMUP + flags.posts, Math.max(1, ...flags.ns));
  const size = minted.subscriptions.length;
  const vapidFile = join(dir, 'vapid.json');
  await saveKeys(vapidFile, generateKeys('mailto:bench@example.com'));

  /** The environment of a sender reading a file of exactly the `count` it sends to. */
  const senderEnv = async (count: number, extra: NodeJS.ProcessEnv) => {
    const file = join(dir, `subscriptions-${count}.json`);
    await writeSubscriptions(file, minted.subscriptions.slice(0, count));
    return childEnv(push, { SUBSCRIPTION_FILE: file, VAPID_FILE: vapidFile, ...extra });
  };

  const runScenario = createScenarios({ push, flags, minted, size, senderEnv, payload: PAYLOAD });

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
  // With --before, the server of that commit too, the two taking turns at going first.
  const servers = before
    ? [undefined, { server: before.server, name: `before ${before.commit}` }]
    : [undefined];
  for (const [index, stored] of (sections.has('posts') ? flags.stored : []).entries()) {
    for (const server of index % 2 === 0 ? servers : [...servers].reverse()) {
      await push.reset({ size, latencyMs: 0, payload: PAYLOAD, sample: [] });
      log(`POST /api/subscriptions with ${stored} stored${server ? ` (${server.name})` : ''}`);
      const measured = await measurePosts({
        stored: minted.subscriptions.slice(0, stored),
        fresh: minted.subscriptions.slice(maxN),
        warmup: POST_WARMUP,
        push,
        ...(server ? { before: server } : {}),
      });
      postRows.push(measured);
    }
  }

  if (rows.length > 0) printSenders(rows, flags, before?.commit);
  if (postRows.length > 0) printPosts(postRows);
  if (fanOut)
    printTargets(
      rows,
      postRows.filter((row) => row.server === 'today'),
    );
  if (sections.has('startup')) {
    await benchStartup(push, minted, flags.startupRuns, dir, before);
  }
  if (sections.has('scale')) await benchScale(push, flags, dir, vapidFile);
} finally {
  await push.close();
  await rm(dir, { recursive: true, force: true });
}

// npm run bench: the tutorial loop vs our `send --all` path against a local HTTPS push service.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { generateKeys, saveKeys } from '../src/keys.ts';
import { DEFAULT_CONCURRENCY } from '../src/push.ts';
import { runSender, startPushServer } from './children.ts';
import { mint, pick, writeSubscriptions } from './mint.ts';
import { measurePosts, type PostLatency } from './post-latency.ts';
import type { SenderJob } from './sender.ts';
import { formatRows, type Row } from './table.ts';
import { printPosts, printTargets } from './targets.ts';

const HELP = `Usage: npm run bench -- [options]

Sends one notification to N subscriptions with (a) the tutorial web-push loop and (b) our
send --all path, each in its own process, against a local HTTPS push service; then measures
POST /api/subscriptions latency with 100, 1,000 and 10,000 subscriptions stored.
  --n <list>               subscription counts (default 1000,10000)
  --latency <list>         added push-service latency per response, ms (default 0,50)
  --sample-a <count>       with latency, (a) sends to this many and is extrapolated (default 200)
  --verify <count>         messages per run the push service verifies and decrypts (default 200)
  --senders <list>         tutorial (a), ours (b) or both (default tutorial,ours)
  --client <list>          also send with node:https and undici at 0 ms (default https,undici; none)
  --concurrency <count>    requests in flight for --client runs (default ${DEFAULT_CONCURRENCY})
  --floor-iterations <n>   crypto floor iterations, in each sender (default 3000)
  --stored <list>          stored subscriptions for the POST latency (default 100,1000,10000)
  --posts <count>          POSTs per stored size (default 300)
  --post-concurrency <n>   POSTs in flight (default 8)
  --cpu-prof <dir>         write a CPU profile of each sender into <dir> (node --cpu-prof)
  --help                   show this help`;

const { values: flags } = parseArgs({
  options: {
    n: { type: 'string', default: '1000,10000' },
    latency: { type: 'string', default: '0,50' },
    'sample-a': { type: 'string', default: '200' },
    verify: { type: 'string', default: '200' },
    senders: { type: 'string', default: 'tutorial,ours' },
    client: { type: 'string', default: 'https,undici' },
    concurrency: { type: 'string', default: String(DEFAULT_CONCURRENCY) },
    'floor-iterations': { type: 'string', default: '3000' },
    stored: { type: 'string', default: '100,1000,10000' },
    posts: { type: 'string', default: '300' },
    'post-concurrency': { type: 'string', default: '8' },
    'cpu-prof': { type: 'string' },
    help: { type: 'boolean', default: false },
  },
});
if (flags.help) {
  console.log(HELP);
  process.exit(0);
}
const list = (name: keyof typeof flags) =>
  String(flags[name])
    .split(',')
    .filter((item) => item.trim() !== '' && item !== 'none')
    .map((item) => {
      const value = Number(item);
      if (!Number.isInteger(value) || value < 0) {
        console.error(`error: --${name} takes whole numbers, not "${item}"\n\n${HELP}`);
        process.exit(2);
      }
      return value;
    });
const [sampleA = 200] = list('sample-a');
const [verify = 200] = list('verify');
const [concurrency = DEFAULT_CONCURRENCY] = list('concurrency');
const [floorIterations = 3000] = list('floor-iterations');
const [posts = 300] = list('posts');
const [postConcurrency = 8] = list('post-concurrency');
const clients = String(flags.client)
  .split(',')
  .filter((c): c is 'https' | 'undici' => c === 'https' || c === 'undici');
const ns = list('n');
const storedSizes = list('stored');
const POST_WARMUP = 20;

const log = (line: string) => process.stderr.write(`${line}\n`);
const dir = await mkdtemp(join(tmpdir(), 'bench-'));
const push = await startPushServer();
try {
  const maxN = Math.max(0, ...ns, ...storedSizes);
  const minted = mint(push.origin, maxN + POST_WARMUP + posts);
  const vapidFile = join(dir, 'vapid.json');
  await saveKeys(vapidFile, generateKeys('mailto:bench@example.com'));
  const title = 'Simple Web Push';
  const body = 'Benchmark message';
  const payload = JSON.stringify({ title, body });
  const size = minted.subscriptions.length;

  const rows: Row[] = [];
  for (const latencyMs of list('latency')) {
    for (const n of ns) {
      const run = async (sender: string, job: SenderJob, baseline?: Row) => {
        const sample = pick(minted.receivers.slice(0, job.count), verify);
        await push.reset({ size, latencyMs, payload, sample });
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
        log(`${latencyMs} ms, N=${n}: ${sender} sending to ${job.count}...`);
        const result = await runSender(job, env, flags['cpu-prof']);
        const tally = await push.tally(job.count);
        const row: Row = { latencyMs, n, sender, result, tally, baseline };
        rows.push(row);
        return row;
      };
      const job = { title, body, concurrency, count: n, floorIterations };
      const countA = latencyMs > 0 ? Math.min(sampleA, n) : n;
      const senders = String(flags.senders).split(',');
      const a = senders.includes('tutorial')
        ? await run('(a) tutorial loop', { ...job, kind: 'tutorial', count: countA })
        : undefined;
      if (senders.includes('ours')) await run('(b) send --all', { ...job, kind: 'ours' }, a);
      if (latencyMs > 0) continue;
      for (const client of clients) await run(`(c) ${client}`, { ...job, kind: client }, a);
    }
  }

  const postRows: PostLatency[] = [];
  const fresh = minted.subscriptions.slice(maxN);
  for (const stored of storedSizes) {
    await push.reset({ size, latencyMs: 0, payload, sample: [] });
    log(`POST /api/subscriptions with ${stored} stored...`);
    const measured = await measurePosts({
      stored: minted.subscriptions.slice(0, stored),
      fresh,
      concurrency: postConcurrency,
      warmup: POST_WARMUP,
      push,
    });
    postRows.push(measured);
  }

  console.log(`\nSenders (node ${process.version}, ${concurrency} in flight for (c)):\n`);
  console.log(formatRows(rows));
  console.log(
    `\n* (a) with added latency sent to ${sampleA} subscriptions only; its rate stands for all N` +
      ' (extrapolated: it would take N / rate seconds).\n' +
      '  CPU and RSS are the sender process alone; RSS MB is before sending, +peak MB the growth' +
      ' to its peak.\n  floor: ephemeral P-256 key + ECDH + HKDF + AES-128-GCM per message, one core,' +
      ' measured in each sender process\n  (half just before sending, half just after), so it sees the same machine load.',
  );
  printPosts(postRows, postConcurrency);
  printTargets(rows, postRows);
} finally {
  await push.close();
  await rm(dir, { recursive: true, force: true });
}

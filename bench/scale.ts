// npm run bench -- --only scale: PostgreSQL beside subscription.json, in one run. A throwaway
// cluster (Debian's postgresql, fsync on) holds 100,000 and 1,000,000 subscriptions, imported with
// npm run import (timed); then send --all to each from both stores, from one process and from
// two, and POST /api/subscriptions latency with few and many stored.
import { createECDH, randomBytes } from 'node:crypto';
import { mkdir, open } from 'node:fs/promises';
import { join } from 'node:path';
import type { Subscription } from '../src/store/subscription.ts';
import {
  type Cluster,
  findPostgres,
  POSTGRES_MISSING,
  startCluster,
} from '../test/support/postgres.ts';
import { runScript, type ServerProcess, startServerProcess } from '../test/support/processes.ts';
import { type PushServer, runSender } from './children.ts';
import type { BenchFlags } from './flags.ts';
import { pick } from './mint.ts';
import { measurePosts, type PostLatency } from './post-latency.ts';
import { printPosts } from './print.ts';
import type { SampleKeys } from './push-server.ts';
import { align, deliveryOk, type Row, rateOf, rssGrowthMb } from './table.ts';

const log = (line: string) => process.stderr.write(`${line}\n`);
const TITLE = 'Simple Web Push';
const BODY = 'Benchmark message';
const PAYLOAD = JSON.stringify({ title: TITLE, body: BODY });
// Distinct key pairs minted; the rest reuse them (encrypting costs the same either way).
const DISTINCT = 1000;
// The file store is compared up to this size: beyond it, subscription.json is not the tool.
const FILE_MAX = 100_000;
const POST_WARMUP = 20;

interface Import {
  count: number;
  seconds: number;
  output: string;
}

/** The scale section: figures printed on stdout, progress on stderr. */
export async function benchScale(
  push: PushServer,
  flags: BenchFlags,
  dir: string,
  vapidFile: string,
) {
  const bin = findPostgres();
  if (!bin) {
    console.log(`\nScale: skipped, ${POSTGRES_MISSING}`);
    return;
  }
  log('scale: starting a PostgreSQL cluster (fsync on)');
  const cluster = await startCluster(bin, { fsync: true });
  const servers: ServerProcess[] = [];
  try {
    const sizes = [...new Set([...flags.scaleN, ...flags.scaleStored])].sort((a, b) => a - b);
    const receivers: SampleKeys[] = [];
    const files = new Map<number, string>();
    for (const size of sizes) {
      const file = join(dir, `scale-${size}.json`);
      log(`scale: writing ${size} subscriptions to ${file}`);
      await mintFile(file, push.origin, size, receivers);
      files.set(size, file);
    }
    const env = (extra: NodeJS.ProcessEnv): NodeJS.ProcessEnv => ({
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      NODE_EXTRA_CA_CERTS: push.caFile,
      PUSH_ALLOWED_HOSTS: push.host,
      VAPID_FILE: vapidFile,
      ...extra,
    });

    const databases = new Map<number, string>();
    const imports: Import[] = [];
    for (const size of sizes) {
      const url = await cluster.database();
      log(`scale: npm run import of ${size}`);
      const started = performance.now();
      const result = await runScript('import', [files.get(size) as string], {
        cwd: dir,
        env: env({ DATABASE_URL: url }),
      });
      const seconds = (performance.now() - started) / 1000;
      if (result.code !== 0) throw new Error(`import of ${size} failed: ${result.stderr}`);
      imports.push({ count: size, seconds, output: result.stdout.trim() });
      databases.set(size, url);
    }

    const rows: Row[] = [];
    const sendTo = async (n: number, sender: string, extra: NodeJS.ProcessEnv) => {
      const sample = pick(receivers.slice(0, Math.min(n, DISTINCT)), flags.verify);
      await push.reset({ size: n, latencyMs: 0, payload: PAYLOAD, sample });
      log(`scale: ${sender} sending to ${n}`);
      const job = {
        kind: 'ours',
        count: n,
        title: TITLE,
        body: BODY,
        concurrency: flags.concurrency,
        floorIterations: flags.floorIterations,
      } as const;
      const result = await runSender(job, env(extra));
      const row: Row = { latencyMs: 0, n, sender, result, tally: await push.tally(n) };
      log(`  ${rateOf(row).toFixed(0)}/s, +${rssGrowthMb(row).toFixed(1)} MB peak`);
      rows.push(row);
    };
    for (const n of flags.scaleN) {
      if (n <= FILE_MAX) {
        await sendTo(n, 'subscription.json', { SUBSCRIPTION_FILE: files.get(n) as string });
      }
      const url = databases.get(n) as string;
      await sendTo(n, 'postgresql, 1 process', { DATABASE_URL: url });
      if (n !== Math.min(...flags.scaleN)) continue;
      // A second process working batches beside the sender: a server on the same database.
      const serverDir = join(dir, 'scale-server');
      await mkdir(serverDir, { recursive: true });
      const server = await startServerProcess({
        dir: serverDir,
        env: env({ DATABASE_URL: url, PORT: '0', HTTP_PORT: '0', RATE_LIMIT: '0' }),
        timeoutMs: 60_000,
      });
      servers.push(server);
      await sendTo(n, 'postgresql, 2 processes', { DATABASE_URL: url });
      await server.stop();
    }

    const posts: PostLatency[] = [];
    let next = Math.max(...sizes);
    for (const stored of flags.scaleStored) {
      await push.reset({ size: next + 1000, latencyMs: 0, payload: PAYLOAD, sample: [] });
      log(`scale: POST /api/subscriptions with ${stored} stored in PostgreSQL`);
      const fresh = freshSubscriptions(push.origin, next, POST_WARMUP + flags.posts);
      next += fresh.length;
      const url = databases.get(stored) as string;
      posts.push(
        await measurePosts({
          stored: [],
          fresh,
          warmup: POST_WARMUP,
          push,
          database: { url, count: stored },
        }),
      );
    }
    printScale(rows, imports, posts, cluster);
  } finally {
    await Promise.all(servers.map((server) => server.stop('SIGKILL')));
    await cluster.remove();
  }
}

function printScale(rows: Row[], imports: Import[], posts: PostLatency[], cluster: Cluster) {
  console.log(
    `\nScale: send --all at 0 ms latency (PostgreSQL on port ${cluster.port}, fsync on):\n`,
  );
  const fileRate = (n: number) => {
    const file = rows.find((r) => r.n === n && r.sender === 'subscription.json');
    return file ? rateOf(file) : NaN;
  };
  const table = rows.map((row) => [
    String(row.n),
    row.sender,
    (row.result.elapsedMs / 1000).toFixed(1),
    rateOf(row).toFixed(0),
    Number.isFinite(fileRate(row.n))
      ? `${((100 * rateOf(row)) / fileRate(row.n)).toFixed(0)} %`
      : '',
    (row.result.rssBefore / 2 ** 20).toFixed(0),
    rssGrowthMb(row).toFixed(1),
    deliveryOk(row)
      ? `ok: ${row.tally.exactlyOnce}/${row.n} once, ${row.tally.verified}/${row.tally.sampled} verified`
      : `FAIL: ${failure(row)}`,
  ]);
  const header = [
    'N',
    'store, senders',
    'seconds',
    'notif/s',
    'vs file',
    'RSS MB',
    '+peak MB',
    'delivery',
  ];
  console.log(align([header, ...table]));
  console.log(
    '\n  "2 processes": the send CLI and one server on the same database, both working batches' +
      '\n  (SEND_BATCH 1000); on two cores no gain is expected. RSS is the sender process alone.',
  );
  console.log('\nnpm run import (each into an empty database, every entry checked as a POST):\n');
  console.log(
    align([
      ['N', 'seconds', 'per second', 'said'],
      ...imports.map((i) => [
        String(i.count),
        i.seconds.toFixed(1),
        (i.count / i.seconds).toFixed(0),
        i.output,
      ]),
    ]),
  );
  if (posts.length > 0) printPosts(posts);

  const goals: [string, boolean, string][] = [];
  const few = posts.find((p) => p.stored === Math.min(...posts.map((q) => q.stored)));
  const many = posts.find((p) => p.stored === Math.max(...posts.map((q) => q.stored)));
  if (few && many && few !== many) {
    const ratio = many.p50 / few.p50;
    goals.push([
      `POST p50 at ${many.stored} stored within 1.5x of ${few.stored}`,
      ratio <= 1.5,
      `${ratio.toFixed(2)}x`,
    ]);
  }
  for (const row of rows.filter((r) => r.sender === 'postgresql, 1 process')) {
    const file = fileRate(row.n);
    if (Number.isFinite(file)) {
      const share = rateOf(row) / file;
      goals.push([
        `send --all ${row.n}: PostgreSQL >= 80 % of the file's rate`,
        share >= 0.8,
        `${(100 * share).toFixed(0)} %`,
      ]);
    }
    goals.push([
      `send --all ${row.n}: sender's peak RSS growth < 100 MB`,
      rssGrowthMb(row) < 100,
      `${rssGrowthMb(row).toFixed(1)} MB`,
    ]);
  }
  goals.push([
    'every subscription got exactly one message',
    rows.every(deliveryOk),
    `${rows.length} runs`,
  ]);
  console.log('\nTargets (issue 19):\n');
  console.log(align(goals.map(([name, met, figure]) => [met ? 'met' : 'MISSED', name, figure])));
}

function failure({ result, tally, n }: Row): string {
  const counts = `${tally.exactlyOnce}/${n} once, ${tally.verified}/${tally.sampled} verified`;
  return [result.error, counts, ...tally.problems.slice(0, 2)].filter(Boolean).join('; ');
}

/**
 * Writes `count` subscriptions at `<origin>/push/<index>` as subscription.json does, a chunk at a
 * time. The first DISTINCT key pairs are minted (and kept in `receivers` for the push service's
 * sample), the rest reuse them.
 */
async function mintFile(file: string, origin: string, count: number, receivers: SampleKeys[]) {
  const handle = await open(file, 'w', 0o600);
  try {
    await handle.write(count === 0 ? '[]\n' : '[\n');
    const lines: string[] = [];
    for (let index = 0; index < count; index++) {
      if (index < DISTINCT) receivers[index] ??= receiver(index);
      const keys = receivers[index % DISTINCT] as SampleKeys;
      const subscription: Subscription = {
        endpoint: `${origin}/push/${index}`,
        expirationTime: null,
        keys: { p256dh: keys.publicKey, auth: keys.auth },
      };
      lines.push(JSON.stringify(subscription));
      if (lines.length === 10_000 || index === count - 1) {
        const last = index === count - 1;
        await handle.write(`${lines.join(',\n')}${last ? '\n]\n' : ',\n'}`);
        lines.length = 0;
      }
    }
  } finally {
    await handle.close();
  }
}

function receiver(index: number): SampleKeys {
  const ecdh = createECDH('prime256v1');
  const publicKey = ecdh.generateKeys('base64url');
  return {
    index,
    privateKey: ecdh.getPrivateKey('base64url'),
    publicKey,
    auth: randomBytes(16).toString('base64url'),
  };
}

/** `count` subscriptions of their own at indices from `from` on, for the POSTs. */
function freshSubscriptions(origin: string, from: number, count: number): Subscription[] {
  return Array.from({ length: count }, (_, i) => {
    const keys = receiver(from + i);
    return {
      endpoint: `${origin}/push/${from + i}`,
      expirationTime: null,
      keys: { p256dh: keys.publicKey, auth: keys.auth },
    };
  });
}

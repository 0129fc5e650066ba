// npm run bench -- --only scale: PostgreSQL beside subscription.json, in one run. A throwaway
// cluster (Debian's postgresql, fsync on) holds 100,000 and 1,000,000 subscriptions, imported with
// npm run import (timed); then send --all to each from both stores, from one process and from
// two, and POST /api/subscriptions latency with few and many stored.
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { findPostgres, POSTGRES_MISSING, startCluster } from '../test/support/postgres.ts';
import {
  childEnv,
  runScript,
  type ServerProcess,
  startServerProcess,
} from '../test/support/processes.ts';
import { type PushServer, runSender } from './children.ts';
import type { BenchFlags } from './flags.ts';
import { mint, mintFile, pick } from './mint.ts';
import { measurePosts, type PostLatency } from './post-latency.ts';
import { printScale } from './scale-print.ts';
import { type Row, rateOf, rssGrowthMb } from './table.ts';

const log = (line: string) => process.stderr.write(`${line}\n`);
const TITLE = 'Simple Web Push';
const BODY = 'Benchmark message';
const PAYLOAD = JSON.stringify({ title: TITLE, body: BODY });
// Distinct key pairs minted; the rest reuse them (encrypting costs the same either way).
const DISTINCT = 1000;
// The file store is compared up to this size: beyond it, subscription.json is not the tool.
const FILE_MAX = 100_000;
const POST_WARMUP = 20;

/** An import timed: how many, how long, and the line npm run import printed. */
export interface Import {
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
    const { receivers } = mint(push.origin, DISTINCT);
    const files = new Map<number, string>();
    for (const size of sizes) {
      const file = join(dir, `scale-${size}.json`);
      log(`scale: writing ${size} subscriptions to ${file}`);
      await mintFile(file, push.origin, size, receivers);
      files.set(size, file);
    }
    const env = (extra: NodeJS.ProcessEnv) => childEnv(push, { VAPID_FILE: vapidFile, ...extra });

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
      const fresh = mint(push.origin, POST_WARMUP + flags.posts, undefined, next).subscriptions;
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
    printScale(rows, imports, posts);
  } finally {
    await Promise.all(servers.map((server) => server.stop('SIGKILL')));
    await cluster.remove();
  }
}

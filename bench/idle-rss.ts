// The server's resident memory after start and after one subscribe, beside an empty Node script.
import { execFile } from 'node:child_process';
import { readFile, rm } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { postSubscription } from '../test/support/harness.ts';
import { childEnv, startServerProcess, tempDir } from '../test/support/processes.ts';
import type { PushServer } from './children.ts';
import type { Minted } from './mint.ts';

export interface RssRow {
  label: string;
  /** After the start-up lines; NaN for the empty script. */
  startMiB: number;
  idleMiB: number;
}

const IDLE_MS = 3_000;
const median = (values: number[]) =>
  [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? NaN;

async function vmRssMiB(pid: number | undefined): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1]) / 1024;
}

/**
 * `node dist/src/server.js` (what `npm start` runs, less its `--max-semi-space-size=2`, which
 * bounds a send's young generation, not an idle server's) in a fresh directory: RSS after start, then
 * 3 s after one subscribe. `restarted`: started once before, so its keys and certificate are on
 * disk, as on every start but the first.
 */
async function once(push: PushServer, minted: Minted, restarted: boolean) {
  const dir = await tempDir('bench-rss-');
  // The default rate limit, as `npm start` has it.
  const env = childEnv(push, { RATE_LIMIT: undefined });
  const start = () => startServerProcess({ dir, env, timeoutMs: 30_000 });
  if (restarted) await (await start()).stop();
  const server = await start();
  try {
    await push.reset({ size: 1, latencyMs: 0, payload: '', sample: [] });
    await sleep(500);
    const startMiB = await vmRssMiB(server.child.pid);
    const response = await postSubscription(server.httpUrl, minted.subscriptions[0]);
    const answer = await response.body.text();
    if (response.statusCode !== 201 || (await push.tally(1)).exactlyOnce !== 1) {
      throw new Error(`subscribe failed: ${response.statusCode} ${answer}`);
    }
    await sleep(IDLE_MS);
    return { startMiB, idleMiB: await vmRssMiB(server.child.pid) };
  } finally {
    await server.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

/** The server restarted and on its first start (it makes keys and certificate), an empty script. */
export async function idleRss(push: PushServer, minted: Minted, runs: number): Promise<RssRow[]> {
  const variants: [string, boolean][] = [
    ['npm start, keys and certificate on disk', true],
    ['npm start, first start (makes them)', false],
  ];
  const rows: RssRow[] = [];
  for (const [label, restarted] of variants) {
    const samples = [];
    for (let run = 0; run < runs; run++) samples.push(await once(push, minted, restarted));
    rows.push({
      label,
      startMiB: median(samples.map((s) => s.startMiB)),
      idleMiB: median(samples.map((s) => s.idleMiB)),
    });
  }
  const empty: number[] = [];
  for (let run = 0; run < runs; run++) {
    const script = 'console.log(process.memoryUsage.rss())';
    const { stdout } = await promisify(execFile)(process.execPath, ['-e', script]);
    empty.push(Number(stdout) / 2 ** 20);
  }
  rows.push({ label: 'node -e "" (an empty script)', startMiB: NaN, idleMiB: median(empty) });
  return rows;
}

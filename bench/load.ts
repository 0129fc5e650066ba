// npm run load: POST /api/subscriptions at concurrency 50 against the real server process.
// Prints req/s and latency percentiles; exits 1 on any error or lost subscription.
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Pool } from 'undici';
import { childEnv, startServerProcess, tempDir } from '../test/support/processes.ts';
import { startPushService } from '../test/support/push-service.ts';

const HELP = `Usage: npm run load -- [--requests 3000] [--concurrency 50]

Starts the server (RATE_LIMIT=0) and a local test push service, POSTs distinct subscriptions
(each welcomed with a real encrypted push), then counts subscription.json.`;

const { values } = parseArgs({
  options: {
    requests: { type: 'string', default: '3000' },
    concurrency: { type: 'string', default: '50' },
    help: { type: 'boolean', default: false },
  },
});
if (values.help) {
  console.log(HELP);
  process.exit(0);
}
const requests = Number(values.requests);
const concurrency = Number(values.concurrency);
if (
  !(Number.isInteger(requests) && requests > 0 && Number.isInteger(concurrency) && concurrency > 0)
) {
  console.error(`error: --requests and --concurrency must be positive whole numbers\n\n${HELP}`);
  process.exit(2);
}
const WARMUP = 100;

const push = await startPushService();
const dir = await tempDir('swps-load-');
const server = await startServerProcess({ dir, env: childEnv(push, { RATE_LIMIT: '0' }) });
const pool = new Pool(server.httpUrl, { connections: concurrency });
const statuses = new Map<string, number>();
const latencies: number[] = [];

/** Runs `count` subscribes, `concurrency` at a time; records latencies when `measure` is set. */
async function run(count: number, measure: boolean): Promise<void> {
  let started = 0;
  const worker = async () => {
    while (started < count) {
      started++;
      const body = JSON.stringify(push.subscribe());
      const t0 = performance.now();
      let outcome: string;
      try {
        const response = await pool.request({
          path: '/api/subscriptions',
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body,
        });
        const answer = (await response.body.json()) as { welcome?: { delivered?: boolean } };
        outcome =
          response.statusCode === 201 && answer.welcome?.delivered
            ? '201'
            : `${response.statusCode} ${JSON.stringify(answer)}`;
      } catch (error) {
        outcome = String((error as { code?: string }).code ?? error);
      }
      if (!measure) continue;
      latencies.push(performance.now() - t0);
      statuses.set(outcome, (statuses.get(outcome) ?? 0) + 1);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
}

let failed = false;
try {
  await run(WARMUP, false);
  const t0 = performance.now();
  await run(requests, true);
  const seconds = (performance.now() - t0) / 1000;
  await pool.close();
  const stopped = await server.stop('SIGTERM');
  const stored = JSON.parse(await readFile(join(dir, 'subscription.json'), 'utf8')).length;

  latencies.sort((a, b) => a - b);
  const at = (p: number) =>
    (latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))] ?? 0).toFixed(1);
  const errors = requests - (statuses.get('201') ?? 0);
  const expected = WARMUP + requests;
  console.log(
    `POST /api/subscriptions over HTTP: ${requests} requests at concurrency ${concurrency} (+${WARMUP} warm-up), RATE_LIMIT=0`,
  );
  console.log(`  ${(requests / seconds).toFixed(0)} req/s over ${seconds.toFixed(1)} s`);
  console.log(`  latency p50 ${at(0.5)} ms, p99 ${at(0.99)} ms, max ${at(1)} ms`);
  console.log(
    `  answers: ${[...statuses].map(([what, n]) => `${what} x${n}`).join(', ')}; errors ${errors}`,
  );
  console.log(
    `  subscription.json: ${stored} of ${expected} stored; welcome pushes received: ${push.received.length}`,
  );
  console.log(`  server exit code after SIGTERM: ${stopped}`);
  failed = errors > 0 || stored !== expected || stopped !== 0;
} finally {
  await server.stop('SIGKILL');
  await push.close();
  await rm(dir, { recursive: true, force: true });
}
process.exitCode = failed ? 1 : 0;

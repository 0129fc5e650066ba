import type { PostLatency } from './post-latency.ts';
import { align, cpuPerMessage, deliveryOk, type Row, ratioOf, rssGrowthMb } from './table.ts';

/** The POST /api/subscriptions latency table. */
export function printPosts(rows: PostLatency[], concurrency: number): void {
  console.log(
    `\nPOST /api/subscriptions (real server, ${concurrency} in flight, after warm-up):\n`,
  );
  const lines = rows.map((r) => [
    String(r.stored),
    String(r.posts),
    r.p50.toFixed(1),
    r.p99.toFixed(1),
    r.errors ? `${r.errors} not 201` : 'all 201',
  ]);
  console.log(align([['stored', 'POSTs', 'p50 ms', 'p99 ms', 'answers'], ...lines]));
}

/** Issue 4's targets, each met or missed, computed from this run. */
export function printTargets(rows: Row[], posts: PostLatency[]): void {
  const largest = Math.max(...rows.map((r) => r.n));
  const ours = (latencyMs: number) =>
    rows.find((r) => r.n === largest && r.latencyMs === latencyMs && r.sender.startsWith('(b)'));
  const results: [string, boolean | undefined, string][] = [];
  const at0 = ours(0);
  if (at0) {
    const ratio = ratioOf(at0);
    const multiple = cpuPerMessage(at0) / at0.result.floorUs;
    results.push([`0 ms, N=${largest}: (b) >= 3x (a)`, ratio >= 3, `${ratio.toFixed(1)}x`]);
    results.push([
      `0 ms, N=${largest}: (b) CPU <= 2x crypto floor`,
      multiple <= 2,
      `${cpuPerMessage(at0).toFixed(0)} µs = ${multiple.toFixed(2)}x ${at0.result.floorUs.toFixed(0)} µs`,
    ]);
  }
  const at50 = ours(50);
  if (at50) {
    const ratio = ratioOf(at50);
    results.push([`50 ms, N=${largest}: (b) >= 50x (a)`, ratio >= 50, `${ratio.toFixed(1)}x`]);
  }
  for (const row of [at0, at50]) {
    if (!row) continue;
    const growth = rssGrowthMb(row);
    results.push([
      `${row.latencyMs} ms, N=${largest}: (b) peak RSS growth < 100 MB`,
      growth < 100,
      `${growth.toFixed(1)} MB`,
    ]);
  }
  const bad = rows.filter((r) => !deliveryOk(r));
  results.push([
    'every subscription got exactly one message; samples verified',
    bad.length === 0,
    bad.length === 0 ? `${rows.length} runs` : `${bad.length} runs failed`,
  ]);
  const few = posts.find((p) => p.stored === Math.min(...posts.map((q) => q.stored)));
  const many = posts.find((p) => p.stored === Math.max(...posts.map((q) => q.stored)));
  if (few && many && few !== many) {
    const p50 = many.p50 / few.p50;
    const p99 = many.p99 / few.p99;
    results.push([
      `POST p50 at ${many.stored} stored within 2x of ${few.stored}`,
      p50 <= 2,
      `${p50.toFixed(2)}x (p99 ${p99.toFixed(2)}x)`,
    ]);
  }
  console.log('\nTargets (issue 4):\n');
  console.log(align(results.map(([name, ok, figure]) => [ok ? 'met   ' : 'MISSED', name, figure])));
}

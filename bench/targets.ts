import type { PostLatency } from './post-latency.ts';
import {
  align,
  coresBusy,
  cpuPerMessage,
  deliveryOk,
  mainCpuPerMessage,
  type Row,
  ratioOf,
  rssGrowthMb,
} from './table.ts';

type Goal = [name: string, met: boolean, figure: string];
const LATENCIES = [0, 50];
const DEFAULT = '(b) send --all';
const H2 = '(b) send --all h2';
// Issue 13: (b) at least 6x the tutorial loop at 0 ms latency, 100x at 50 ms.
const minimum = (latencyMs: number) => (latencyMs === 0 ? 6 : 100);
const ofFloor = (cpu: (row: Row) => number) => (row: Row) => cpu(row) / row.result.floorUs;

interface PerLatency {
  name: (latencyMs: number) => string;
  value: (row: Row) => number;
  met: (value: number, latencyMs: number) => boolean;
  unit?: string;
  digits?: number;
}
const PER_LATENCY: PerLatency[] = [
  {
    name: (latencyMs) => `(b) >= ${minimum(latencyMs)}x (a)`,
    value: ratioOf,
    met: (ratio, latencyMs) => ratio >= minimum(latencyMs),
    digits: 1,
  },
  {
    name: () => '(b) CPU on the sending thread <= 1.5x floor',
    value: ofFloor(mainCpuPerMessage),
    met: (multiple) => multiple <= 1.5,
  },
  {
    name: () => '(b) CPU summed over all threads <= 2x floor',
    value: ofFloor(cpuPerMessage),
    met: (multiple) => multiple <= 2,
  },
  {
    name: () => '(b) peak RSS growth < 100 MB',
    value: rssGrowthMb,
    met: (mb) => mb < 100,
    unit: ' MB',
    digits: 1,
  },
];

/** Issue 13's goals, each met or missed, computed from this run. */
export function printTargets(rows: Row[], posts: PostLatency[]): void {
  const largest = Math.max(...rows.map((r) => r.n));
  const find = (latencyMs: number, sender: string) =>
    rows.find((r) => r.n === largest && r.latencyMs === latencyMs && r.sender === sender);
  const goals: Goal[] = [];
  // Judged at each latency on the default (b) row; the h2 row's figure beside it.
  for (const latencyMs of LATENCIES) {
    const row = find(latencyMs, DEFAULT);
    const h2 = find(latencyMs, H2);
    for (const { name, value, met, unit = 'x', digits = 2 } of PER_LATENCY) {
      // No row, or no (a) row to compare with: nothing to judge.
      if (!row || Number.isNaN(value(row))) continue;
      const figure = (r: Row) => `${value(r).toFixed(digits)}${unit}`;
      const beside = h2 ? ` (h2 ${figure(h2)})` : '';
      const label = `${latencyMs} ms, N=${largest}: ${name(latencyMs)}`;
      goals.push([label, met(value(row), latencyMs), figure(row) + beside]);
    }
  }
  const bad = rows.filter((r) => !deliveryOk(r));
  if (rows.length > 0)
    goals.push([
      'every subscription got exactly one message; samples verified',
      bad.length === 0,
      bad.length === 0 ? `${rows.length} runs` : `${bad.length} of ${rows.length} runs failed`,
    ]);
  const few = posts.find((p) => p.stored === Math.min(...posts.map((q) => q.stored)));
  const many = posts.find((p) => p.stored === 10_000) ?? posts.at(-1);
  if (few && many && few !== many) {
    const p50 = many.p50 / few.p50;
    goals.push([
      `POST p50 at ${many.stored} stored within 2x of ${few.stored}`,
      p50 <= 2,
      `${p50.toFixed(2)}x (p99 ${(many.p99 / few.p99).toFixed(2)}x)`,
    ]);
  }
  console.log('\nTargets (issue 13; judged on (b) send --all, h2 in brackets):\n');
  printGoals(goals);
  printIssue22(rows, largest);
}

const printGoals = (goals: Goal[]) =>
  console.log(align(goals.map(([name, ok, figure]) => [ok ? 'met   ' : 'MISSED', name, figure])));

/** Issue 22's goals at 0 ms and the largest N, with (b) before's figures beside when it ran. */
function printIssue22(rows: Row[], n: number): void {
  const find = (sender: string) =>
    rows.find((r) => r.n === n && r.latencyMs === 0 && r.sender === sender);
  const row = find(DEFAULT);
  if (!row) return;
  const before = find('(b) before');
  const judged: [string, (r: Row) => number, (value: number) => boolean, (v: number) => string][] =
    [
      [`(b) >= 6x (a)`, ratioOf, (ratio) => ratio >= 6, (v) => `${v.toFixed(1)}x`],
      [
        'machine busy from the first request to the last >= 90%',
        coresBusy,
        (share) => share >= 0.9,
        (v) => `${(100 * v).toFixed(0)}%`,
      ],
      [
        '(b) CPU over all threads <= 1.5x floor',
        ofFloor(cpuPerMessage),
        (multiple) => multiple <= 1.5,
        (v) => `${v.toFixed(2)}x`,
      ],
    ];
  const goals: Goal[] = [];
  for (const [name, value, met, format] of judged) {
    if (Number.isNaN(value(row))) continue;
    const beside = before ? ` (before ${format(value(before))})` : '';
    goals.push([`0 ms, N=${n}: ${name}`, met(value(row)), format(value(row)) + beside]);
  }
  const figures = before ? ', (b) before in brackets' : '';
  console.log(`\nTargets (issue 22; judged on (b) send --all${figures}):\n`);
  printGoals(goals);
}

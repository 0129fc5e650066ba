import type { PostLatency } from './post-latency.ts';
import { printPosts } from './print.ts';
import type { Import } from './scale.ts';
import { align, deliveryOk, type Row, rateOf, rssGrowthMb } from './table.ts';

/** The scale section's tables and its targets (issue 19). */
export function printScale(rows: Row[], imports: Import[], posts: PostLatency[]): void {
  if (rows.length > 0) printSends(rows);
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
  printGoals(rows, posts);
}

const fileRate = (rows: Row[], n: number) => {
  const file = rows.find((r) => r.n === n && r.sender === 'subscription.json');
  return file ? rateOf(file) : NaN;
};

function printSends(rows: Row[]): void {
  console.log('\nScale: send --all at 0 ms latency (PostgreSQL with fsync on):\n');
  const table = rows.map((row) => [
    String(row.n),
    row.sender,
    (row.result.elapsedMs / 1000).toFixed(1),
    rateOf(row).toFixed(0),
    Number.isFinite(fileRate(rows, row.n))
      ? `${((100 * rateOf(row)) / fileRate(rows, row.n)).toFixed(0)} %`
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
}

function printGoals(rows: Row[], posts: PostLatency[]): void {
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
    const file = fileRate(rows, row.n);
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
  if (rows.length > 0) {
    goals.push([
      'every subscription got exactly one message',
      rows.every(deliveryOk),
      `${rows.length} runs`,
    ]);
  }
  console.log('\nTargets (issue 19):\n');
  console.log(align(goals.map(([name, met, figure]) => [met ? 'met' : 'MISSED', name, figure])));
}

function failure({ result, tally, n }: Row): string {
  const counts = `${tally.exactlyOnce}/${n} once, ${tally.verified}/${tally.sampled} verified`;
  return [result.error, counts, ...tally.problems.slice(0, 2)].filter(Boolean).join('; ');
}

import type { BenchFlags } from './flags.ts';
import type { PostLatency } from './post-latency.ts';
import { align, CORES, formatCpu, formatRows, type Row } from './table.ts';

/** The senders table, then their CPU per message, each with its notes. */
export function printSenders(rows: Row[], flags: BenchFlags, before?: string): void {
  const median = flags.repeat > 1 ? `, median of ${flags.repeat} runs` : '';
  console.log(
    `\nSenders (node ${process.version}, ${flags.concurrency} in flight for (c)${median}):\n`,
  );
  console.log(formatRows(rows));
  console.log(
    `\n* (a) with added latency sent to ${flags.sampleA} subscriptions only; its rate stands for` +
      ' all N (extrapolated: N / rate seconds).\n' +
      '  protocol: as the push service saw it negotiated (ALPN), with its number of connections;' +
      ' "(b) send --all h2"\n  runs with PUSH_HTTP2=1.' +
      ' RSS is the sender process alone; RSS MB is before sending, +peak MB the growth to its' +
      ' peak.\n  (c): generateRequestDetails() sent with node:https or undici, cached VAPID' +
      ' header, no store.\n  cores busy: from the first request to the push service to the' +
      " answer of the last, the sender's CPU\n  (every thread, /proc/<pid>/stat, to 10 ms) plus" +
      ` the push service's, over that wall time x ${CORES} cores.` +
      (before
        ? `\n  (b) before: the same send --all built from commit ${before}; runs took turns with` +
          ' the others.'
        : ''),
  );
  console.log('\nCPU µs per message, and as a multiple of the crypto floor:\n');
  console.log(formatCpu(rows));
  console.log(
    '\n  floor: ephemeral P-256 key + ECDH + HKDF + AES-128-GCM per message, one core, measured' +
      ' in each sender process\n  (half just before sending, half just after), so it sees the' +
      ' same machine load.\n  main thread: the sending thread alone, during the send' +
      ' (/proc/self/task/<pid>/stat, to 10 ms).\n  all threads: the whole process during the' +
      ' send (process.cpuUsage()), workers included.\n  process: the whole process from its' +
      ' start (process.resourceUsage()), less the floor measurements,\n  minus the same' +
      " sender's process sending to one subscription, per further message.\n  push service:" +
      " the push service's own process, from before the run to after it, per message.\n" +
      "  other threads: the sender's threads but the main one, busiest first (encryption workers," +
      " V8's helpers),\n  until the last message was accounted for (/proc/self/task, to 10 ms).",
  );
}

/** The POST /api/subscriptions latency table. */
export function printPosts(rows: PostLatency[]): void {
  console.log(
    '\nPOST /api/subscriptions (real server, one after another on one kept-alive connection,' +
      ' after warm-up):\n',
  );
  const fewest = (server: string) =>
    [...rows].filter((r) => r.server === server).sort((a, b) => a.stored - b.stored)[0];
  const few = fewest('today');
  const lines = [...rows]
    .sort((a, b) => a.stored - b.stored || (a.server === 'today' ? -1 : 1))
    .map((r) => [
      r.server,
      String(r.stored),
      String(r.posts),
      r.p50.toFixed(1),
      r.p99.toFixed(1),
      `${(r.p50 / (fewest(r.server)?.p50 ?? Number.NaN)).toFixed(2)}x`,
      r.errors ? `${r.errors} not 201` : 'all 201',
    ]);
  const vs = `p50 vs ${few?.stored}`;
  console.log(align([['server', 'stored', 'POSTs', 'p50 ms', 'p99 ms', vs, 'answers'], ...lines]));
}

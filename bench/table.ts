import { availableParallelism } from 'node:os';
import type { Tally } from './push-server.ts';
import type { SenderResult } from './sender.ts';

/** One sender's run in one scenario, with what the push service saw. */
export interface Row {
  latencyMs: number;
  n: number;
  sender: string;
  result: SenderResult;
  tally: Tally;
  /** The (a) row whose rate this row is compared with. */
  baseline?: Row;
  /** The same sender's process sending to one subscription: its start-up cost. */
  startup?: SenderResult;
}

const MB = 1024 * 1024;

/** Messages per second; a sampled run's rate stands for the whole N. */
export const rateOf = (row: Row) => row.result.sent / (row.result.elapsedMs / 1000);
const perMessage = (row: Row, us: number) => us / Math.max(1, row.result.sent);
/** CPU µs a message during the send, summed over all threads. */
export const cpuPerMessage = (row: Row) => perMessage(row, row.result.cpuUs);
/** CPU µs a message during the send, on the main (sending) thread. */
export const mainCpuPerMessage = (row: Row) => perMessage(row, row.result.mainCpuUs);
/** CPU µs a message of the whole process, minus what its start-up run took for one message. */
export function processCpuPerMessage({ result, startup }: Row): number {
  if (!startup) return NaN;
  return (result.processCpuUs - startup.processCpuUs) / (result.sent - startup.sent);
}
/** The push service's CPU µs a message, from its reset before the run to the tally after it. */
export const pushCpuPerMessage = (row: Row) => perMessage(row, row.tally.cpuUs);
/** The cores this machine has: the sender and the push service share them. */
export const CORES = availableParallelism();
/**
 * How busy the machine was from the first request to the last one's answer: the sender's and the
 * push service's CPU over that wall time and every core (1 = all cores busy all the time).
 */
export function coresBusy({ tally }: Row): number {
  const window = tally.window;
  if (!window || !(window.ms > 0)) return NaN;
  return (window.senderCpuUs + window.pushCpuUs) / (window.ms * 1000 * CORES);
}
export const rssGrowthMb = (row: Row) => (row.result.maxRss - row.result.rssBefore) / MB;
export const ratioOf = (row: Row) => (row.baseline ? rateOf(row) / rateOf(row.baseline) : NaN);
export const sampled = (row: Row) => row.result.sent < row.n;

/** Every target got exactly one message, nothing else arrived, and the whole sample checked out. */
export function deliveryOk(row: Row): boolean {
  const { tally, result } = row;
  return (
    !result.error &&
    result.delivered === result.sent &&
    tally.exactlyOnce === result.sent &&
    tally.missing + tally.duplicated + tally.unexpected === 0 &&
    tally.verified === tally.sampled &&
    tally.problems.length === 0
  );
}

function check(row: Row): string {
  const { tally, result } = row;
  const counted = `${tally.exactlyOnce}/${result.sent} once, ${tally.verified}/${tally.sampled} verified`;
  if (deliveryOk(row)) return `ok: ${counted}`;
  const extra = [
    result.error,
    tally.missing && `${tally.missing} missing`,
    tally.duplicated && `${tally.duplicated} duplicated`,
    tally.unexpected && `${tally.unexpected} unexpected`,
    ...tally.problems,
  ].filter(Boolean);
  return `FAIL: ${counted}; ${extra.join('; ')}`;
}

const fixed = (value: number, digits = 0) => (Number.isFinite(value) ? value.toFixed(digits) : '-');
export const percent = (share: number) => (Number.isFinite(share) ? `${fixed(100 * share)}%` : '-');

/** The benchmark table, one line per row, columns aligned. */
export function formatRows(rows: Row[]): string {
  const header = [
    'latency',
    'N',
    'sender',
    'protocol (connections)',
    'sent',
    'seconds',
    'notif/s',
    'vs (a)',
    'cores busy',
    'RSS MB',
    '+peak MB',
    'delivery check',
  ];
  const lines = rows.map((row) => {
    const star = sampled(row) ? '*' : '';
    return [
      `${row.latencyMs} ms`,
      String(row.n),
      row.sender,
      protocolOf(row),
      String(row.result.sent),
      fixed(row.result.elapsedMs / 1000, 1),
      `${fixed(rateOf(row))}${star}`,
      row.baseline ? `${fixed(ratioOf(row), 1)}x` : '',
      percent(coresBusy(row)),
      fixed(row.result.rssBefore / MB),
      fixed(rssGrowthMb(row), 1),
      check(row),
    ];
  });
  return align([header, ...lines]);
}

/** The protocols the push service saw, e.g. `h2 (1)`; with requests per protocol when mixed. */
export function protocolOf({ tally }: Row): string {
  const seen = Object.entries(tally.protocols);
  if (seen.length <= 1)
    return seen.map(([name, p]) => `${name} (${p.connections})`).join('') || '-';
  return seen.map(([name, p]) => `${name} (${p.connections}): ${p.requests} req`).join(', ');
}

/** CPU µs a message three ways, each also as a multiple of the crypto floor in the same process. */
export function formatCpu(rows: Row[]): string {
  const header = [
    'latency',
    'N',
    'sender',
    'floor µs',
    'main thread',
    'all threads',
    'process',
    'push service',
    'other threads µs',
  ];
  const lines = rows.map((row) => {
    const floor = row.result.floorUs;
    const cell = (us: number) => `${fixed(us)} = ${fixed(us / floor, 2)}x`;
    return [
      `${row.latencyMs} ms`,
      String(row.n),
      row.sender,
      fixed(floor),
      cell(mainCpuPerMessage(row)),
      cell(cpuPerMessage(row)),
      cell(processCpuPerMessage(row)),
      cell(pushCpuPerMessage(row)),
      otherThreads(row),
    ];
  });
  return align([header, ...lines]);
}

/** The sender's threads other than the main one, busiest first, in µs a message (4 at most). */
function otherThreads(row: Row): string {
  const [, ...others] = row.result.threadsCpuUs ?? [];
  if (others.length === 0) return '-';
  const shown = others.slice(0, 4).map((us) => fixed(perMessage(row, us)));
  return others.length > 4 ? `${shown.join(' ')} +${others.length - 4}` : shown.join(' ');
}

/** Left-aligned text columns separated by two spaces; numbers right-aligned. */
export function align(table: string[][]): string {
  const widths = (table[0] ?? []).map((_, i) => Math.max(...table.map((r) => (r[i] ?? '').length)));
  return table
    .map((r) =>
      r
        .map((cell, i) => {
          const width = widths[i] ?? 0;
          const number = /^[\d.,x*%-]+( ms|x| = [\d.-]+x)?$/.test(cell);
          return number ? cell.padStart(width) : cell.padEnd(width);
        })
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

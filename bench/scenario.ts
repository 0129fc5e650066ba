// One scenario of npm run bench (a latency and an N): its senders run in turns, each `repeat`
// times, in fresh processes, with what the push service saw and how busy the machine was.

import { type PushServer, runSender } from './children.ts';
import type { BenchFlags } from './flags.ts';
import type { Minted } from './mint.ts';
import { pick } from './mint.ts';
import type { SenderJob, SenderResult } from './sender.ts';
import {
  coresBusy,
  cpuPerMessage,
  deliveryOk,
  mainCpuPerMessage,
  percent,
  pushCpuPerMessage,
  type Row,
  rateOf,
} from './table.ts';

export const TUTORIAL = '(a) tutorial loop';

/** A sender of a scenario: its row name, job and environment, and its build (this one's if unset). */
export interface Entry {
  name: string;
  job: SenderJob;
  env: NodeJS.ProcessEnv;
  script?: string;
}

interface Setting {
  push: PushServer;
  flags: BenchFlags;
  minted: Minted;
  /** Endpoints the push service counts. */
  size: number;
  /** The environment of a sender reading a file of exactly the `count` it sends to. */
  senderEnv: (count: number, extra: NodeJS.ProcessEnv) => Promise<NodeJS.ProcessEnv>;
  payload: string;
}

const log = (line: string) => process.stderr.write(`${line}\n`);

/** Runs scenarios: `runScenario(latencyMs, n, entries)` gives one row per entry. */
export function createScenarios(setting: Setting) {
  const { push, flags, minted, size, senderEnv, payload } = setting;
  // Each sender's start-up cost: the same process sending to one subscription, once per run.
  const startups = new Map<string, SenderResult>();
  const startupOf = async ({ name, job, env: extra, script }: Entry) => {
    const known = startups.get(name);
    if (known) return known;
    await push.reset({ size, latencyMs: 0, payload, sample: [] });
    log(`${name}: start-up run, sending to 1`);
    const one = { ...job, count: 1, floorIterations: 2 };
    const startup = await runSender(one, await senderEnv(1, extra), { script });
    if (startup.error || startup.delivered !== 1) log(`  start-up run failed: ${startup.error}`);
    startups.set(name, startup);
    return startup;
  };

  /** One run of one sender, with what the push service saw and how busy the machine was. */
  const runOnce = async (latencyMs: number, n: number, entry: Entry, startup: SenderResult) => {
    const { name, job, env: extra, script } = entry;
    const env = await senderEnv(job.count, extra);
    const sample = pick(minted.receivers.slice(0, job.count), flags.verify);
    await push.reset({ size, latencyMs, payload, sample });
    const result = await runSender(job, env, {
      script,
      profileDir: flags.cpuProf,
      beforeJob: (pid) => push.watch(pid, job.count),
    });
    const tally = await push.tally(job.count);
    const row: Row = { latencyMs, n, sender: name, result, tally, startup };
    const [main, all] = [mainCpuPerMessage(row), cpuPerMessage(row)].map((us) => us.toFixed(0));
    log(
      `  ${name}: ${rateOf(row).toFixed(0)}/s, cores busy ${percent(coresBusy(row))},` +
        ` CPU µs/msg ${main} main thread, ${all} all threads,` +
        ` push service ${pushCpuPerMessage(row).toFixed(0)}, floor ${result.floorUs.toFixed(0)} µs`,
    );
    return row;
  };

  /**
   * Runs a scenario's senders `repeat` times, taking turns so that load changes hit them alike;
   * each sender's median run by rate, or a run whose delivery failed. (a) is the others' baseline.
   */
  const runScenario = async (latencyMs: number, n: number, entries: Entry[]) => {
    const runs = new Map<Entry, Row[]>(entries.map((entry) => [entry, []]));
    for (const entry of entries) await startupOf(entry);
    for (let i = 1; i <= flags.repeat; i++) {
      log(`${latencyMs} ms, N=${n}, run ${i}/${flags.repeat}`);
      for (const entry of entries) {
        const startup = startups.get(entry.name) as SenderResult;
        runs.get(entry)?.push(await runOnce(latencyMs, n, entry, startup));
      }
    }
    const chosen = entries.map((entry) => {
      const rows = [...(runs.get(entry) ?? [])].sort((x, y) => rateOf(x) - rateOf(y));
      return rows.find((r) => !deliveryOk(r)) ?? (rows[Math.floor(rows.length / 2)] as Row);
    });
    const baseline = chosen.find((row) => row.sender === TUTORIAL);
    for (const row of chosen) if (row !== baseline) row.baseline = baseline;
    return chosen;
  };

  return runScenario;
}

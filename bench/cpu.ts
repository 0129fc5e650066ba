import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

// proc(5): utime and stime are fields 14 and 15 of /proc/<pid>/stat (every thread of the
// process, living or ended) and of /proc/<pid>/task/<tid>/stat (one thread), in clock ticks.
const ticksPerSecond = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' })) || 100;
  } catch {
    return 100;
  }
})();

/** utime + stime of a /proc stat file, in µs (to a clock tick, 10 ms). */
function statCpuUs(file: string): number {
  const stat = readFileSync(file, 'utf8');
  // The command name (field 2) may hold spaces and parentheses: count from its closing one.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]);
  return (ticks / ticksPerSecond) * 1e6;
}

type ThreadCpuUsage = () => { user: number; system: number };

/**
 * CPU µs used so far by the main thread alone (not workers, not libuv's or V8's threads):
 * process.threadCpuUsage() where Node has it (not Node 20), else Linux's /proc, to 10 ms.
 */
export function mainThreadCpuUs(): number {
  const threadCpuUsage = Reflect.get(process, 'threadCpuUsage') as ThreadCpuUsage | undefined;
  if (threadCpuUsage) {
    const { user, system } = threadCpuUsage();
    return user + system;
  }
  return statCpuUs(`/proc/self/task/${process.pid}/stat`);
}

/** CPU µs of the whole process so far, every thread, from its start. */
export function processCpuUs(): number {
  const { userCPUTime, systemCPUTime } = process.resourceUsage();
  return userCPUTime + systemCPUTime;
}

/** CPU µs of another process so far, every thread (Linux's /proc, to 10 ms); NaN once it is gone. */
export function otherProcessCpuUs(pid: number): number {
  try {
    return statCpuUs(`/proc/${pid}/stat`);
  } catch {
    return NaN;
  }
}

/** CPU µs so far of each thread of this process, by thread id (Linux's /proc, to 10 ms). */
export function threadsCpuUs(): Map<string, number> {
  const threads = new Map<string, number>();
  for (const tid of readdirSync('/proc/self/task')) {
    try {
      threads.set(tid, statCpuUs(`/proc/self/task/${tid}/stat`));
    } catch {
      // Ended between the listing and the read.
    }
  }
  return threads;
}

/** The CPU µs each thread used between two readings, the main thread first, then the busiest. */
export function threadsBetween(before: Map<string, number>, after: Map<string, number>) {
  const used = [...after].map(([tid, us]) => [tid, us - (before.get(tid) ?? 0)] as const);
  const main = used.find(([tid]) => tid === String(process.pid))?.[1] ?? 0;
  const others = used.filter(([tid, us]) => tid !== String(process.pid) && us > 0);
  return [main, ...others.map(([, us]) => us).sort((a, b) => b - a)];
}

import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

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

// How busy the machine is during one send, measured in the push service (bench/push-server.ts):
// its own CPU and the sender's, from the first request to the answer of the sender's last one.
import { otherProcessCpuUs } from './cpu.ts';

/**
 * From the first request to the answer of the watched sender's last one: wall ms, and the CPU
 * µs of the sender (every thread, to 10 ms) and of the push service in that time.
 */
export interface BusyWindow {
  ms: number;
  senderCpuUs: number;
  pushCpuUs: number;
}

interface Mark {
  at: number;
  senderUs: number;
  pushUs: number;
}

/** Watches one sender at a time; `requested` and `answered` are called for every request. */
export function createBusyWatch() {
  // The sender being watched, how many answers end its send, and the CPU at both ends.
  let watched: { pid: number; requests: number } | undefined;
  let answers = 0;
  let first: Mark | undefined;
  let last: Mark | undefined;
  const mark = (pid: number): Mark => {
    const { user, system } = process.cpuUsage();
    return { at: performance.now(), senderUs: otherProcessCpuUs(pid), pushUs: user + system };
  };
  return {
    /** The sender `pid` is about to send `requests` requests. */
    watch(pid: number, requests: number) {
      watched = { pid, requests };
      answers = 0;
      first = last = undefined;
    },
    requested() {
      if (watched && !first) first = mark(watched.pid);
    },
    answered() {
      if (watched && ++answers === watched.requests) last = mark(watched.pid);
    },
    /** The window of the last watched send, if its last request was answered. */
    window(): BusyWindow | undefined {
      if (!first || !last) return undefined;
      const senderCpuUs = last.senderUs - first.senderUs;
      return { ms: last.at - first.at, senderCpuUs, pushCpuUs: last.pushUs - first.pushUs };
    },
    stop() {
      watched = first = last = undefined;
    },
  };
}

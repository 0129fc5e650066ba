import { type ChildProcess, fork } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FromPushServer, SampleKeys, Tally, ToPushServer } from './push-server.ts';
import type { SenderJob, SenderResult } from './sender.ts';

const TSX = import.meta.resolve('tsx');
const SENDER_DEADLINE_MS = 10 * 60_000;

function forkTs(file: string, env: NodeJS.ProcessEnv, nodeFlags: string[] = []): ChildProcess {
  return fork(fileURLToPath(new URL(file, import.meta.url)), [], {
    execArgv: ['--import', TSX, ...nodeFlags],
    env,
    // stderr piped, not inherited: a sender must not think it writes to a terminal.
    stdio: ['ignore', 'inherit', 'pipe', 'ipc'],
  });
}

function stderrOf(child: ChildProcess): () => string {
  let text = '';
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    text = (text + chunk).slice(-2000);
  });
  return () => text;
}

/** The next IPC message from `child`, or an error naming it if it exits or takes too long. */
async function nextMessage<T>(child: ChildProcess, name: string, stderr: () => string, ms: number) {
  const done = new AbortController();
  const signal = AbortSignal.any([done.signal, AbortSignal.timeout(ms)]);
  const exited = once(child, 'exit', { signal }).then(([code]) => {
    throw new Error(`${name} exited (${code}) early:\n${stderr()}`);
  });
  try {
    const [message] = await Promise.race([once(child, 'message', { signal }), exited]);
    return message as T;
  } catch (error) {
    if (!signal.aborted) throw error;
    child.kill('SIGKILL');
    throw new Error(`${name} took over ${ms / 1000} s`);
  } finally {
    exited.catch(() => {});
    done.abort();
  }
}

/** Handle on bench/push-server.ts, running in its own process. */
export interface PushServer {
  origin: string;
  host: string;
  caFile: string;
  reset(options: {
    size: number;
    latencyMs: number;
    payload: string;
    sample: SampleKeys[];
  }): Promise<void>;
  /** Measure the machine's CPU during this sender's send, which ends with its `requests`-th answer. */
  watch(pid: number, requests: number): Promise<void>;
  tally(targets: number): Promise<Tally>;
  close(): Promise<void>;
}

export async function startPushServer(): Promise<PushServer> {
  const child = forkTs('./push-server.ts', process.env);
  const stderr = stderrOf(child);
  const ask = async (message: ToPushServer) => {
    child.send(message);
    return nextMessage<FromPushServer>(child, 'the push service', stderr, 60_000);
  };
  const ready = await nextMessage<FromPushServer>(child, 'the push service', stderr, 60_000);
  if (ready.type !== 'ready') throw new Error(`push service said ${ready.type}`);
  return {
    origin: ready.origin,
    host: new URL(ready.origin).host,
    caFile: ready.caFile,
    async reset(options) {
      await ask({ type: 'reset', ...options });
    },
    async watch(pid, requests) {
      await ask({ type: 'watch', pid, requests });
    },
    async tally(targets) {
      const answer = await ask({ type: 'tally', targets });
      if (answer.type !== 'tally') throw new Error(`push service said ${answer.type}`);
      return answer.tally;
    },
    async close() {
      if (child.exitCode !== null) return;
      const exited = once(child, 'exit');
      child.send({ type: 'close' } satisfies ToPushServer);
      await exited;
    },
  };
}

/** The built sender of this checkout; `--before` builds another checkout's (bench/before.ts). */
export const SENDER = fileURLToPath(new URL('../dist/bench/sender.js', import.meta.url));

export interface SenderOptions {
  /** Write a CPU profile into this folder (node --cpu-prof). */
  profileDir?: string;
  /** The built sender to run: SENDER unless told. */
  script?: string;
  /** Called with the sender's pid before it is given its job (to watch it). */
  beforeJob?: (pid: number) => Promise<void>;
}

/** The node flags of `npm run send` in the checkout that built `script` (its dist/bench/sender.js). */
function sendFlagsOf(script: string): string[] {
  const packageJson = join(dirname(script), '../../package.json');
  const { scripts } = JSON.parse(readFileSync(packageJson, 'utf8')) as {
    scripts: { send: string };
  };
  return scripts.send.split(' ').filter((word) => word.startsWith('--'));
}

/** Runs one sender in a fresh process. */
export async function runSender(
  job: SenderJob,
  env: NodeJS.ProcessEnv,
  options: SenderOptions = {},
): Promise<SenderResult> {
  const { profileDir, script = SENDER, beforeJob } = options;
  const profile = profileDir ? ['--cpu-prof', '--cpu-prof-dir', profileDir] : [];
  // Built, with plain node and its flags, as `npm run send` runs: under tsx its encryption
  // workers would load tsx too (about 30 MB more at its peak).
  const child = fork(script, [], {
    execArgv: [...sendFlagsOf(script), ...profile],
    env,
    stdio: ['ignore', 'inherit', 'pipe', 'ipc'],
  });
  const stderr = stderrOf(child);
  if (beforeJob && child.pid !== undefined) await beforeJob(child.pid);
  child.send(job);
  const result = await nextMessage<SenderResult>(
    child,
    `sender ${job.kind}`,
    stderr,
    SENDER_DEADLINE_MS,
  );
  if (child.exitCode === null && child.signalCode === null) await once(child, 'exit');
  return result;
}

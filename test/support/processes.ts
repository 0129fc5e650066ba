import { type ChildProcess, type SpawnOptions, spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { chmod, mkdtemp } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { staleSince } from '../../src/build.ts';
import type { PushService } from './push-service.ts';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
/** The compiled entry points, run with plain node as `npm start` and `npm run <name>` run them. */
const SERVER = join(ROOT, 'dist/src/server.js');
/** The TypeScript loader, for children that are test code rather than the built program. */
const TSX = pathToFileURL(join(ROOT, 'node_modules/tsx/dist/loader.mjs')).href;
const script = (name: string) => join(ROOT, 'dist/scripts', `${name}.js`);
/** Whether this Node runs `.ts` files itself (type stripping, on by default from 22.18). */
export const STRIPS_TYPES = Boolean((process.features as { typescript?: unknown }).typescript);
/** `source: true` runs the TypeScript sources instead, with a Node that strips types. */
const entry = (built: string, source: string, fromSource = false) =>
  fromSource ? join(ROOT, source) : built;
// Testing an old build would pass or fail for the wrong code: `npm test` builds first.
const unbuilt = existsSync(SERVER) ? staleSince(SERVER) : 'dist/ is missing: run npm run build';
if (unbuilt) throw new Error(`the tests run the built code, but ${unbuilt}`);

/**
 * The environment a child needs to push to a test push service (trusted, allowed), without a
 * rate limit: PATH and HOME, and nothing else of this process's but `extra` (undefined unsets).
 */
export function childEnv(
  push: Pick<PushService, 'caFile' | 'host'>,
  extra: NodeJS.ProcessEnv = {},
): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    NODE_EXTRA_CA_CERTS: push.caFile,
    PUSH_ALLOWED_HOSTS: push.host,
    RATE_LIMIT: '0',
    ...extra,
  };
}

/** A fresh temporary directory to run the server or a CLI in. */
export function tempDir(prefix = 'swps-'): Promise<string> {
  return mkdtemp(join(tmpdir(), prefix));
}

/** A port that was free a moment ago (HTTP_PORT=0 means "off", so tests pick one). */
export async function freePort(): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  server.close();
  await once(server, 'close');
  return port;
}

/** How a child is started: `spawn` itself, or a wrapper that runs it somewhere else. */
export type Spawn = (command: string, args: string[], options: SpawnOptions) => ChildProcess;

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs `scripts/<name>.ts`, as built in dist/, in `cwd` as npm would, and collects its output.
 * `input` is piped to its standard input (none by default); the CLI may stop reading it early.
 */
export async function runScript(
  name: string,
  args: string[],
  options: {
    cwd: string;
    env: NodeJS.ProcessEnv;
    input?: string | Readable;
    source?: boolean;
    spawn?: Spawn;
  },
): Promise<CliResult> {
  const { input } = options;
  const file = entry(script(name), `scripts/${name}.ts`, options.source);
  const child = (options.spawn ?? spawn)(process.execPath, [file, ...args], {
    cwd: options.cwd,
    env: options.env,
    stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
  });
  if (child.stdin && input !== undefined) {
    // EPIPE when the CLI has read enough and exited: expected, not a failure of the test.
    child.stdin.on('error', () => {});
    if (typeof input === 'string') child.stdin.end(input);
    else pipeline(input, child.stdin).catch(() => {});
  }
  const [stdout, stderr] = [collect(child, 'stdout'), collect(child, 'stderr')];
  // 'close', not 'exit': it waits until stdout and stderr are read to the end.
  const [code] = (await once(child, 'close')) as [number | null];
  return { code, stdout: stdout(), stderr: stderr() };
}

/** Starts a TypeScript file of the project (such as a test/support child) with the same loader. */
export function spawnTypeScript(path: string, args: string[], cwd = ROOT): ChildProcess {
  return spawn(process.execPath, ['--import', TSX, join(ROOT, path), ...args], {
    cwd,
    env: { PATH: process.env.PATH, HOME: process.env.HOME },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

/** Runs `src/server.ts` (built) in `dir` until it exits by itself (start-up failures); SIGKILL after `timeoutMs`. */
export async function runServer(options: {
  dir: string;
  env: NodeJS.ProcessEnv;
  timeoutMs?: number;
  spawn?: Spawn;
}): Promise<CliResult> {
  const child = (options.spawn ?? spawn)(process.execPath, [SERVER], {
    cwd: options.dir,
    env: { PORT: '0', HOST: '127.0.0.1', HTTP_PORT: '0', ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const [stdout, stderr] = [collect(child, 'stdout'), collect(child, 'stderr')];
  const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 15_000);
  const [code] = (await once(child, 'close')) as [number | null];
  clearTimeout(timer);
  return { code, stdout: stdout(), stderr: stderr() };
}

export interface ServerProcess {
  child: ChildProcess;
  dir: string;
  httpsUrl: string;
  httpUrl: string;
  output(): string;
  /** Sends the signal and resolves to the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/**
 * A `spawn` whose children find `folder` read-only. chmod 555 stops everyone but root, and these
 * tests may run as root: then each child runs in a mount namespace of its own (unshare -m) with
 * the folder bind-mounted read-only, and nothing outside it changes.
 */
export async function readOnlyIn(folder: string): Promise<Spawn> {
  if (process.getuid?.() !== 0) {
    await chmod(folder, 0o555);
    return spawn;
  }
  const mount = 'mount -o bind,ro "$0" "$0" && exec "$@"';
  return (command, args, options) =>
    spawn('unshare', ['-m', 'sh', '-c', mount, folder, command, ...args], options);
}

interface StartOptions {
  dir: string;
  env: NodeJS.ProcessEnv;
  timeoutMs?: number;
  /** How to run it: `spawn` by default, or a LAN namespace's (test/support/lan.ts), readOnlyIn's. */
  spawn?: Spawn;
  /** Run src/server.ts itself, with a Node that strips types, instead of the build. */
  source?: boolean;
  /** Another build's dist/src/server.js (the benchmark's --before), instead of this one's. */
  server?: string;
}

/**
 * Starts `src/server.ts` (built) in `dir` and waits until it prints its URLs. The HTTP port is
 * picked free just before, so another test may take it in between: then it tries another one.
 */
export async function startServerProcess(options: StartOptions): Promise<ServerProcess> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOnce(options);
    } catch (error) {
      const raced = !options.env.HTTP_PORT && /port \d+ is already in use/.test(String(error));
      if (!raced || attempt === 3) throw error;
    }
  }
}

async function startOnce(options: StartOptions): Promise<ServerProcess> {
  const httpPort = options.env.HTTP_PORT ?? String(await freePort());
  const child = (options.spawn ?? spawn)(
    process.execPath,
    [options.server ?? entry(SERVER, 'src/server.ts', options.source)],
    {
      cwd: options.dir,
      env: { PORT: '0', HOST: '127.0.0.1', HTTP_PORT: httpPort, ...options.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  const stdout = collect(child, 'stdout');
  const stderr = collect(child, 'stderr');
  const output = () => stdout() + stderr();
  const exited = once(child, 'exit').then(([code]) => code as number | null);
  const deadline = Date.now() + (options.timeoutMs ?? 15_000);
  let httpsUrl: string | undefined;
  while (!httpsUrl) {
    httpsUrl = /Open (https:\/\/\S+)/.exec(stdout())?.[1];
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`the server did not start:\n${output()}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  return {
    child,
    dir: options.dir,
    httpsUrl,
    httpUrl: `http://127.0.0.1:${httpPort}`,
    output,
    async stop(signal = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}

function collect(child: ChildProcess, stream: 'stdout' | 'stderr'): () => string {
  let text = '';
  child[stream]?.setEncoding('utf8').on('data', (chunk: string) => {
    text += chunk;
  });
  return () => text;
}

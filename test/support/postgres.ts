// A throwaway PostgreSQL cluster for one test file, from Debian's `postgresql` package: initdb in
// a temporary folder, the server run as the postgres user on a loopback port (and its socket in
// that folder), stopped and removed in `after`. Every wait is bounded.
import { execFile } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { chown, readFile, rm } from 'node:fs/promises';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { after, before } from 'node:test';
import { promisify } from 'node:util';
import pg from 'pg';
import { freePort, tempDir } from './processes.ts';

/** The one line shown when there is no PostgreSQL: the skip reason, or the failure in CI. */
export const POSTGRES_MISSING = 'PostgreSQL not found: apt-get install -y postgresql';

const run = promisify(execFile);
const ROOT = '/usr/lib/postgresql';
// initdb and a start or stop take about a second each here; pg_ctl -w waits at most this long.
const WAIT_S = 30;

/** Debian's newest PostgreSQL bin folder (`/usr/lib/postgresql/<version>/bin`), if installed. */
export function findPostgres(): string | undefined {
  const versions = existsSync(ROOT) ? readdirSync(ROOT) : [];
  return versions
    .filter((version) => /^\d+$/.test(version))
    .sort((a, b) => Number(b) - Number(a))
    .map((version) => join(ROOT, version, 'bin'))
    .find((bin) => existsSync(join(bin, 'initdb')) && existsSync(join(bin, 'pg_ctl')));
}

/** The bin folder, or the reason to skip (outside CI) or fail (CI=true) without it. */
export function postgresOrReason(env: NodeJS.ProcessEnv = process.env): {
  bin?: string;
  skip: string | false;
  missing?: string;
} {
  const bin = findPostgres();
  if (bin) return { bin, skip: false };
  return env.CI === 'true'
    ? { skip: false, missing: POSTGRES_MISSING }
    : { skip: POSTGRES_MISSING };
}

/** A running cluster: fresh databases on demand, and the server stopped and started at will. */
export interface Cluster {
  readonly port: number;
  /** A new, empty database; resolves to its postgres:// URL. */
  database(): Promise<string>;
  /** Stops the server (fast shutdown: sessions are cut), as a database outage. */
  stop(): Promise<void>;
  /** Starts it again on the same port, with everything stored before (if it is stopped). */
  start(): Promise<void>;
  /** The server's log so far, for failure messages. */
  log(): Promise<string>;
}

/**
 * Registers `before` and `after` in the current suite: a cluster started before the tests and
 * removed after them. Returns the accessor; call it only when `bin` is known (not skipped).
 */
export function usePostgres(bin: string | undefined): () => Cluster {
  let cluster: (Cluster & { remove(): Promise<void> }) | undefined;
  before(async () => {
    if (bin) cluster = await startCluster(bin);
  });
  after(async () => {
    await cluster?.remove();
  });
  return () => {
    if (!cluster) throw new Error('the PostgreSQL cluster starts in before()');
    return cluster;
  };
}

/**
 * Starts a cluster in a temporary folder; `remove()` stops it and deletes the folder. `fsync`
 * off (the tests) is faster; the benchmark keeps it on, as a real database has it.
 */
export async function startCluster(
  bin: string,
  { fsync = false } = {},
): Promise<Cluster & { remove(): Promise<void> }> {
  const dir = await tempDir('swps-pg-');
  const data = join(dir, 'data');
  const logFile = join(dir, 'postgres.log');
  // PostgreSQL refuses to run as root: as root, its commands run as the postgres user.
  const asRoot = userInfo().uid === 0;
  if (asRoot) {
    const { uid, gid } = await postgresUser();
    await chown(dir, uid, gid);
  }
  const command = (name: string, args: string[]) => {
    const [file, argv] = asRoot
      ? ['runuser', ['-u', 'postgres', '--', join(bin, name), ...args]]
      : [join(bin, name), args];
    return run(file, argv, { cwd: dir, timeout: (WAIT_S + 5) * 1000 });
  };
  // Trust on loopback: a throwaway cluster that only this test file reaches. C locale: byte order.
  await command('initdb', ['-D', data, '-A', 'trust', '-U', 'postgres', '--no-sync', '--locale=C']);
  const log = () => readFile(logFile, 'utf8').catch(() => '');
  let port = 0;
  const start = async () => {
    // fsync off: nothing in a test needs to survive a crash of the machine.
    const options = `-k ${dir} -p ${port} -c listen_addresses=127.0.0.1 -c fsync=${fsync ? 'on' : 'off'}`;
    await command('pg_ctl', [
      '-D',
      data,
      '-l',
      logFile,
      '-w',
      '-t',
      String(WAIT_S),
      '-o',
      options,
      'start',
    ]);
  };
  const stop = async () => {
    await command('pg_ctl', ['-D', data, '-m', 'fast', '-w', '-t', String(WAIT_S), 'stop']);
  };
  for (let attempt = 1; ; attempt++) {
    port = await freePort();
    try {
      await start();
      break;
    } catch (error) {
      // Another process may have taken the port between freePort() and the start.
      if (attempt === 3)
        throw new Error(`PostgreSQL did not start: ${await log()}`, { cause: error });
    }
  }
  let databases = 0;
  let running = true;
  return {
    port,
    async database() {
      const name = `test${++databases}`;
      const admin = new pg.Client({ connectionString: urlOf(port, 'postgres') });
      await admin.connect();
      try {
        await admin.query(`CREATE DATABASE ${name}`);
      } finally {
        await admin.end();
      }
      return urlOf(port, name);
    },
    async stop() {
      await stop();
      running = false;
    },
    async start() {
      if (running) return;
      await start();
      running = true;
    },
    log,
    async remove() {
      if (running) {
        await stop().catch(() =>
          command('pg_ctl', ['-D', data, '-m', 'immediate', '-w', '-t', '10', 'stop']).catch(
            () => {},
          ),
        );
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
}

const urlOf = (port: number, database: string) =>
  `postgres://postgres@127.0.0.1:${port}/${database}`;

async function postgresUser(): Promise<{ uid: number; gid: number }> {
  const { stdout } = await run('id', ['-u', 'postgres']);
  const { stdout: group } = await run('id', ['-g', 'postgres']);
  return { uid: Number(stdout.trim()), gid: Number(group.trim()) };
}

import { type ChildProcess, execFile, type SpawnOptions, spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

/** Runs commands that see a hosts file of the test's own as /etc/hosts; see ownHosts. */
export interface OwnHosts {
  /** Starts `command` with the hosts file, as `spawn` would start it without. */
  spawn(command: string, args: string[], options: SpawnOptions): ChildProcess;
  close(): Promise<void>;
}

// A mount namespace of the process's own (unshare -m makes its mounts private), where the file
// is bind-mounted over /etc/hosts before the command replaces the shell.
const MOUNT = 'mount --bind "$0" /etc/hosts && exec "$@"';

/**
 * Writes a hosts file mapping each name of `names` to its address (localhost as usual) and runs
 * commands in mount namespaces of their own where it is /etc/hosts: the names resolve so for
 * those processes alone, never for the rest of the machine. Needs root and util-linux's unshare:
 * rejects with what went wrong when a process so started cannot resolve the names.
 */
export async function ownHosts(names: Readonly<Record<string, string>>): Promise<OwnHosts> {
  const dir = await mkdtemp(join(tmpdir(), 'own-hosts-'));
  const file = join(dir, 'hosts');
  const lines = Object.entries(names).map(([name, address]) => `${address} ${name}`);
  await writeFile(file, ['127.0.0.1 localhost', '::1 localhost', ...lines, ''].join('\n'));
  const wrap = (command: string, args: string[]) => [
    '-m',
    'sh',
    '-c',
    MOUNT,
    file,
    command,
    ...args,
  ];
  try {
    for (const [name, address] of Object.entries(names)) {
      const { stdout } = await promisify(execFile)('unshare', wrap('getent', ['hosts', name]), {
        timeout: 5000,
      });
      if (!stdout.startsWith(`${address} `)) throw new Error(`${name} resolved to "${stdout}"`);
    }
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
  return {
    spawn: (command, args, options) => spawn('unshare', wrap(command, args), options),
    close: () => rm(dir, { recursive: true, force: true }),
  };
}

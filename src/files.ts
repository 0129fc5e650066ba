import { randomBytes } from 'node:crypto';
import { open, readFile, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ConfigError } from './errors.ts';

/**
 * Writes a file atomically: temp file, fsync, rename, fsync of the directory. `data` may be a
 * list of buffers, written with one writev: no large string or buffer to build first.
 */
export async function writeFileAtomic(
  file: string,
  data: string | readonly Buffer[],
  mode = 0o600,
): Promise<void> {
  const temp = join(dirname(file), `.${basename(file)}.${randomBytes(4).toString('hex')}.tmp`);
  const handle = await open(temp, 'wx', mode);
  try {
    if (typeof data === 'string') {
      await handle.writeFile(data);
    } else {
      const size = data.reduce((sum, buffer) => sum + buffer.length, 0);
      const { bytesWritten } = await handle.writev(data);
      // libuv returns a short count, not an error, when the disk fills part-way.
      if (bytesWritten !== size) throw new Error(`wrote ${bytesWritten} of ${size} bytes`);
    }
    await handle.sync();
  } catch (error) {
    await handle.close();
    await rm(temp, { force: true });
    throw error;
  }
  await handle.close();
  try {
    await rename(temp, file);
  } catch (error) {
    await rm(temp, { force: true });
    throw error;
  }
  // The rename is only durable once the directory entry is on disk too.
  const dir = await open(dirname(file), 'r');
  try {
    await dir.sync();
  } finally {
    await dir.close();
  }
}

/** Reads a UTF-8 file, or undefined when it does not exist; any other failure names the file. */
export async function readIfExists(file: string): Promise<string | undefined> {
  try {
    return await readFile(file, 'utf8');
  } catch (error) {
    const { code } = error as NodeJS.ErrnoException;
    if (code === 'ENOENT') return undefined;
    throw new ConfigError(`cannot read ${file} (${code ?? String(error)})`, { cause: error });
  }
}

const LOCK_STALE_MS = 10_000;
const LOCK_WAIT_MS = 5_000;

/**
 * Runs `work` while holding `<file>.lock`, so the server and the send CLI never interleave
 * their read-modify-write of the same file. A lock older than 10 s, or whose process has ended
 * (a server restarted after SIGKILL), is left by a crash: taken over.
 */
export async function withLock<T>(file: string, work: () => Promise<T>): Promise<T> {
  const lock = `${file}.lock`;
  const deadline = Date.now() + LOCK_WAIT_MS;
  for (;;) {
    try {
      const handle = await open(lock, 'wx', 0o600);
      await handle.writeFile(String(process.pid));
      await handle.close();
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const age = Date.now() - ((await stat(lock).catch(() => undefined))?.mtimeMs ?? Date.now());
      if (age > LOCK_STALE_MS || (await holderIsGone(lock))) await rm(lock, { force: true });
      else if (Date.now() > deadline) throw new Error(`${lock} is held by another process`);
      else await sleep(10);
    }
  }
  try {
    return await work();
  } finally {
    await rm(lock, { force: true });
  }
}

/** Whether the process whose id is in the lock file has ended; false when unsure. */
async function holderIsGone(lock: string): Promise<boolean> {
  const pid = Number(await readFile(lock, 'utf8').catch(() => ''));
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return false;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

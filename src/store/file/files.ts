import { randomBytes } from 'node:crypto';
import { lstat, open, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { ConfigError } from '../../errors.ts';
import { processIsGone, withLock } from './lock.ts';

/**
 * Writes a file atomically: temp file, fsync, rename, fsync of the directory. `data` may be a
 * list of buffers, written with one writev: no large string or buffer to build first.
 */
export async function writeFileAtomic(
  file: string,
  data: string | readonly Buffer[],
  mode = 0o600,
): Promise<void> {
  const temp = tempFor(file);
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

/**
 * Removes the temp files that interrupted writes of `file` left behind (a crash between creating
 * and renaming one), and resolves to how many. Only names of writeFileAtomic's own pattern for
 * this file, in its folder, and only those whose writer has ended or that are older than the file
 * itself (the newest completed write). Under the file's lock, so no write is in progress.
 * Says how many in one line to `log`, when there were any.
 */
export async function removeLeftoverTemps(
  file: string,
  log: (line: string) => void,
): Promise<number> {
  const names = await readdir(dirname(file)).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return [];
    throw error;
  });
  const candidates = names.filter((name) => tempWriter(file, name) !== undefined);
  // Nothing to do, so no lock to take: a start in a folder without leftovers writes nothing.
  if (candidates.length === 0) return 0;
  const removed = await withLock(file, async () => {
    const newest = (await stat(file).catch(() => undefined))?.mtimeMs ?? 0;
    let removed = 0;
    for (const name of candidates) {
      const temp = join(dirname(file), name);
      const info = await lstat(temp).catch(() => undefined);
      if (!info?.isFile()) continue;
      const pid = tempWriter(file, name) ?? 0;
      const ended = pid > 0 && processIsGone(pid, info.mtimeMs);
      if (!ended && info.mtimeMs >= newest) continue;
      await rm(temp, { force: true });
      removed++;
    }
    return removed;
  });
  if (removed > 0) {
    log(
      `Removed ${removed} temp file(s) left in ${dirname(file)} by an interrupted write of ${basename(file)}.`,
    );
  }
  return removed;
}

/** `.<name>.<writer pid, 8 hex><random, 8 hex>.tmp`, next to the file. */
function tempFor(file: string): string {
  const writer = process.pid.toString(16).padStart(8, '0');
  return join(dirname(file), `.${basename(file)}.${writer}${randomBytes(4).toString('hex')}.tmp`);
}

/**
 * For a temp file name of `file`: its writer's process id, 0 for one written before the id was
 * part of the name (8 random hex digits alone), undefined for any other name.
 */
function tempWriter(file: string, name: string): number | undefined {
  const prefix = `.${basename(file)}.`;
  if (!name.startsWith(prefix) || !name.endsWith('.tmp')) return undefined;
  const middle = name.slice(prefix.length, -'.tmp'.length);
  if (/^[0-9a-f]{8}$/.test(middle)) return 0;
  if (/^[0-9a-f]{16}$/.test(middle)) return Number.parseInt(middle.slice(0, 8), 16);
  return undefined;
}

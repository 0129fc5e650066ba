import { randomBytes } from 'node:crypto';
import { closeSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { open, rm } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { ConfigError } from '../../errors.ts';

// A lock without a valid process id is one being created (the id is written just after) or
// damaged: only this old is it taken over.
const NO_PID_STALE_MS = 60_000;
const WAIT_MS = 30_000;
const MAX_PID = 0x7fffffff;

/** A lock file as found: who holds it, whether they are gone, and what tells it from another. */
export interface LockHolder {
  pid: number | undefined;
  gone: boolean;
  /** Inode numbers are reused at once: the random token in the content tells two locks apart. */
  signature: string;
}

/**
 * Runs `work` while holding `<file>.lock`, so the server and the send CLI never write the same
 * file at the same time. The lock holds its process id; it is taken over only when that process
 * has ended (a crash), or when it holds no valid id and is over a minute old. A live holder keeps
 * it as long as its work takes; waiting for it fails after `waitMs` (30 s), naming the holder.
 */
export async function withLock<T>(
  file: string,
  work: () => Promise<T>,
  { waitMs = WAIT_MS } = {},
): Promise<T> {
  const lock = `${file}.lock`;
  const mine = await acquire(lock, waitMs);
  try {
    return await work();
  } finally {
    removeIfMine(lock, mine);
  }
}

// Taking and giving back the lock use sync calls: on a small local file they take microseconds,
// while their thread-pool round trips took over 1 ms of each write at 100 stored.

/** Removes a lock file we made (`content` is what we wrote): never one that replaced it. */
function removeIfMine(path: string, content: string): void {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return;
  }
  if (text === content) rmSync(path, { force: true });
}

/**
 * Whether the process `pid` has ended, judged for something it made at `madeMs`. Our own id on
 * something made before this process started belongs to an earlier process with the same id
 * (after a reboot, or in a container where the server is always pid 1).
 */
export function processIsGone(pid: number, madeMs: number): boolean {
  if (pid === process.pid) return madeMs < performance.timeOrigin;
  try {
    process.kill(pid, 0);
    return false;
  } catch (error) {
    // EPERM: it exists, as another user. Anything else: unsure, so alive.
    return (error as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

/** Reads the lock file: undefined when there is none. */
export async function readLock(lock: string): Promise<LockHolder | undefined> {
  let handle: Awaited<ReturnType<typeof open>>;
  try {
    handle = await open(lock, 'r');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  try {
    // One handle for both: the id and the age are those of the same file.
    const info = await handle.stat();
    const text = await handle.readFile('utf8');
    const signature = `${info.ino}:${info.mtimeMs}:${text}`;
    const first = text.split('\n', 1)[0]?.trim() ?? '';
    const pid = /^\d{1,10}$/.test(first) ? Number(first) : 0;
    if (pid > 0 && pid <= MAX_PID) {
      return { pid, gone: processIsGone(pid, info.mtimeMs), signature };
    }
    return { pid: undefined, gone: Date.now() - info.mtimeMs > NO_PID_STALE_MS, signature };
  } finally {
    await handle.close();
  }
}

/**
 * Removes the stale lock `seen` unless it was replaced meanwhile; resolves to whether it did.
 * Waiters that found the same stale lock take turns through `<lock>.break`: the check and the
 * removal are then one step, so a lock made by the quickest of them is never deleted by another.
 */
export async function takeOver(lock: string, seen: LockHolder): Promise<boolean> {
  const breaker = `${lock}.break`;
  const mine = create(breaker);
  if (!mine) {
    // Another waiter is at it; or one crashed at it: then its turn is over.
    if ((await readLock(breaker))?.gone) await rm(breaker, { force: true });
    return false;
  }
  try {
    if ((await readLock(lock))?.signature !== seen.signature) return false;
    await rm(lock, { force: true });
    return true;
  } finally {
    removeIfMine(breaker, mine);
  }
}

async function acquire(lock: string, waitMs: number): Promise<string> {
  const deadline = Date.now() + waitMs;
  for (let pause = 5; ; pause = Math.min(2 * pause, 50)) {
    const mine = create(lock);
    if (mine) return mine;
    const holder = await readLock(lock);
    if (!holder) continue; // released in the meantime
    if (holder.gone && (await takeOver(lock, holder))) continue;
    if (Date.now() >= deadline) {
      const who = holder.pid ? `process ${holder.pid}` : 'a process that wrote no id in it';
      throw new ConfigError(`${lock} is still held by ${who} after ${waitMs / 1000} s`);
    }
    await sleep(pause);
  }
}

/** Creates the lock: our process id, and a token to know it by. Undefined when it exists. */
function create(lock: string): string | undefined {
  let fd: number;
  try {
    fd = openSync(lock, 'wx', 0o600);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return undefined;
    throw error;
  }
  const content = `${process.pid}\n${randomBytes(8).toString('hex')}\n`;
  try {
    writeFileSync(fd, content);
    return content;
  } catch (error) {
    rmSync(lock, { force: true });
    throw error;
  } finally {
    closeSync(fd);
  }
}

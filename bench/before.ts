// npm run bench -- --before <commit>: the senders built from an earlier commit, run in the same
// bench beside this checkout's, so before and after meet the same machine and the same load.
import { execFileSync } from 'node:child_process';
import { mkdir, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import { ROOT } from '../test/support/processes.ts';

export interface Before {
  /** The commit, abbreviated, for the notes under the table. */
  commit: string;
  /** Its built bench/sender.ts, for runSender's `script`. */
  sender: string;
  /** Its built scripts/send.ts: `npm run send` as it was. */
  sendScript: string;
  /** Its built src/server.ts: the server as it was, for the POST latency. */
  server: string;
}

/**
 * The files of `ref` (git archive: no worktree is registered), with this checkout's node_modules,
 * built as `npm run build` builds them, under `dir`.
 */
export async function buildBefore(ref: string, dir: string): Promise<Before> {
  const git = (args: string[]) => execFileSync('git', args, { cwd: ROOT, maxBuffer: 1 << 30 });
  const commit = git(['rev-parse', '--short', `${ref}^{commit}`])
    .toString()
    .trim();
  const root = join(dir, `before-${commit}`);
  await mkdir(root);
  execFileSync('tar', ['-x', '-C', root], { input: git(['archive', '--format=tar', commit]) });
  await symlink(join(ROOT, 'node_modules'), join(root, 'node_modules'), 'dir');
  const tsc = join(ROOT, 'node_modules/typescript/bin/tsc');
  execFileSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.build.json')], { cwd: root });
  const built = (file: string) => join(root, 'dist', file);
  return {
    commit,
    sender: built('bench/sender.js'),
    sendScript: built('scripts/send.js'),
    server: built('src/server.js'),
  };
}

import { access, constants, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Config } from './config.ts';
import { ConfigError } from './errors.ts';

/**
 * Stops the start in one line when a file the server writes could not be written, rather than
 * answering 500 to the first write. Every write makes a temp file (and the store a lock) beside
 * its file and renames it: what must exist and be writable is the folder. Creates nothing.
 */
export async function checkWritable(config: Config): Promise<void> {
  const written: [file: string, variable: string][] = [
    // The store, with its lock and temp files beside it.
    [config.subscriptionFile, 'SUBSCRIPTION_FILE'],
    // The list of spent pairing links, written on every pairing, beside the key made on the first.
    [`${config.pairingKeyFile}.spent`, 'PAIRING_KEY_FILE'],
  ];
  // Only read by the server; without one, start-up says to run npm run token, which writes it.
  if (!config.sendToken && !(await exists(config.sendTokenFile))) {
    written.push([config.sendTokenFile, 'SEND_TOKEN_FILE']);
  }
  for (const [file, variable] of written) {
    const problem = await folderProblem(dirname(file));
    if (problem) throw new ConfigError(`cannot write ${file} (${variable}): ${problem}`);
  }
}

/** Why no file can be made in `dir`, or undefined when one can. */
async function folderProblem(dir: string): Promise<string | undefined> {
  try {
    if (!(await stat(dir)).isDirectory()) return `${dir} is not a folder`;
    await access(dir, constants.W_OK | constants.X_OK);
    return undefined;
  } catch (error) {
    const { code } = error as NodeJS.ErrnoException;
    if (code === 'ENOENT') return `the folder ${dir} does not exist`;
    if (code === 'ENOTDIR') return `${dir} is not a folder`;
    if (code === 'EACCES') return `no permission to make files in ${dir}`;
    if (code === 'EROFS') return `${dir} is on a read-only file system`;
    return `${dir}: ${code ?? String(error)}`;
  }
}

async function exists(file: string): Promise<boolean> {
  return stat(file).then(
    () => true,
    () => false,
  );
}

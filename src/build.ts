import { readdirSync, statSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = dirname(fileURLToPath(import.meta.url));
/** Whether this code runs from the compiled copy in dist/ (npm start) or from the sources. */
export const BUILT = basename(dirname(HERE)) === 'dist';
/** The project's folder: public/ and the sources are found from here, wherever it runs from. */
export const ROOT = resolve(HERE, BUILT ? '../..' : '..');
const SOURCE_DIRS = ['src', 'scripts'];

/** Why dist/ must not run, or undefined when it is current (or when running from the sources). */
export function staleBuild(): string | undefined {
  return BUILT ? staleSince(fileURLToPath(import.meta.url)) : undefined;
}

/**
 * A source file changed after `builtFile` was compiled, or undefined. tsc rewrites every output
 * on each build, so a source newer than any output is an edit that was never built: running the
 * old code silently would be worse than stopping.
 */
export function staleSince(builtFile: string, root = ROOT): string | undefined {
  const builtAt = statSync(builtFile).mtimeMs;
  for (const dir of SOURCE_DIRS) {
    let names: string[];
    try {
      // Its folders too: src/ is grouped by concern (src/http, src/push, ...).
      names = readdirSync(join(root, dir), { recursive: true, encoding: 'utf8' });
    } catch {
      continue; // deployed without the sources: nothing to compare with
    }
    const changed = names.find(
      (name) => name.endsWith('.ts') && statSync(join(root, dir, name)).mtimeMs > builtAt,
    );
    if (changed) return `${dir}/${changed} changed since the last build: run npm run build`;
  }
  return undefined;
}

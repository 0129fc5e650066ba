import { readdir, readFile } from 'node:fs/promises';
import type { ServerResponse } from 'node:http';
import { extname, join } from 'node:path';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.webmanifest': 'application/manifest+json',
  '.json': 'application/json',
  '.png': 'image/png',
  '.svg': 'image/svg+xml',
  '.ico': 'image/x-icon',
};

/**
 * Serves the files directly in `dir`, looked up by exact name: a path that is not one of them
 * (`..`, encoded slashes, anything outside) simply does not match, so nothing else can leak.
 */
export async function createStatic(dir: string) {
  const files = new Map<string, string>();
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    if (entry.isFile() && !entry.name.startsWith('.') && TYPES[extname(entry.name)]) {
      files.set(`/${entry.name}`, join(dir, entry.name));
    }
  }
  files.set('/', join(dir, 'index.html'));

  return {
    has: (pathname: string) => files.has(pathname),
    async serve(pathname: string, res: ServerResponse, head: boolean): Promise<void> {
      const file = files.get(pathname) as string;
      const body = await readFile(file);
      res.writeHead(200, {
        'Content-Type': TYPES[extname(file)] as string,
        'Content-Length': body.length,
        // Revalidate every time: a stale sw.js or app.js is the classic Web Push bug.
        'Cache-Control': 'no-cache',
      });
      res.end(head ? undefined : body);
    },
  };
}

export type StaticFiles = Awaited<ReturnType<typeof createStatic>>;

import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { BUILT, ROOT, staleBuild, staleSince } from '../src/build.ts';
import { runScript, tempDir } from './support/processes.ts';

const dirs: string[] = [];
after(() => Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true }))));

/** A project folder with one source and its build output, the source `ageMs` older than it. */
async function project(sourceAgeMs: number): Promise<{ root: string; built: string }> {
  const root = await mkdtemp(join(tmpdir(), 'build-'));
  dirs.push(root);
  await mkdir(join(root, 'src'));
  await mkdir(join(root, 'dist/src'), { recursive: true });
  const built = join(root, 'dist/src/build.js');
  await writeFile(join(root, 'src/app.ts'), 'export {};\n');
  await writeFile(built, 'export {};\n');
  const now = Date.now() / 1000;
  await utimes(built, now, now);
  await utimes(join(root, 'src/app.ts'), now - sourceAgeMs / 1000, now - sourceAgeMs / 1000);
  return { root, built };
}

test('the sources know they are not the build, and find the project folder', () => {
  assert.equal(BUILT, false);
  assert.equal(staleBuild(), undefined);
  assert.match(join(ROOT, 'package.json'), /package\.json$/);
});

test('a build newer than every source is current', async () => {
  const { root, built } = await project(60_000);
  assert.equal(staleSince(built, root), undefined);
});

test('a source edited after the build makes it stale, naming the file and the fix', async () => {
  const { root, built } = await project(-60_000);
  assert.equal(
    staleSince(built, root),
    'src/app.ts changed since the last build: run npm run build',
  );
});

test('a source edited after the build in a folder of src/ makes it stale too', async () => {
  const { root, built } = await project(60_000);
  await mkdir(join(root, 'src/push'));
  await writeFile(join(root, 'src/push/pusher.ts'), 'export {};\n');
  const later = Date.now() / 1000 + 60;
  await utimes(join(root, 'src/push/pusher.ts'), later, later);
  assert.equal(
    staleSince(built, root),
    'src/push/pusher.ts changed since the last build: run npm run build',
  );
});

test('a build deployed without its sources is taken as it is', async () => {
  const { root, built } = await project(0);
  await rm(join(root, 'src'), { recursive: true });
  assert.equal(staleSince(built, root), undefined);
});

test('the built CLIs answer --help with plain node, no loader', async () => {
  const cwd = await tempDir();
  dirs.push(cwd);
  const result = await runScript('keys', ['--help'], { cwd, env: { PATH: process.env.PATH } });
  assert.equal(result.code, 0, result.stderr);
  assert.match(result.stdout, /^Usage: npm run keys/);
});

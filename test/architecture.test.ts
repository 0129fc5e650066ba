import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { dirname, join, relative, resolve } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

// docs/architecture.md: the folders of src/ import one another one way only, and src/ never
// imports the scripts, the benchmark or the tests.
const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const SRC = join(ROOT, 'src');
// Static imports and exports, bare `import '…'`, `import('…')`, and worker entries named with `new URL('…')`.
const SPECIFIER = /(?:\bfrom\s*|\bimport\s*\(?\s*|\bnew URL\(\s*)['"](\.{1,2}\/[^'"]+)['"]/g;

/** Every .ts file under src/, relative to it, with the src/ files it imports (also relative). */
async function importGraph(): Promise<Map<string, string[]>> {
  const graph = new Map<string, string[]>();
  const files = (await readdir(SRC, { recursive: true })).filter((f) => f.endsWith('.ts'));
  for (const file of files) {
    const text = await readFile(join(SRC, file), 'utf8');
    const targets = [...text.matchAll(SPECIFIER)].map((match) =>
      relative(SRC, resolve(SRC, dirname(file), (match[1] as string).replace(/\.js$/, '.ts'))),
    );
    graph.set(file, targets);
  }
  return graph;
}

/** A folder of src/ is one room; a file at the top of src/ is a room of its own. */
const roomOf = (file: string) => (file.includes('/') ? file.slice(0, file.indexOf('/')) : file);

/** One cycle in `edges`, as the list of its nodes, or undefined when there is none. */
function findCycle(edges: Map<string, Set<string>>): string[] | undefined {
  const state = new Map<string, 'open' | 'done'>();
  const path: string[] = [];
  const visit = (node: string): string[] | undefined => {
    if (state.get(node) === 'done') return undefined;
    if (state.get(node) === 'open') return [...path.slice(path.indexOf(node)), node];
    state.set(node, 'open');
    path.push(node);
    for (const next of edges.get(node) ?? []) {
      const cycle = visit(next);
      if (cycle) return cycle;
    }
    path.pop();
    state.set(node, 'done');
    return undefined;
  };
  for (const node of edges.keys()) {
    const cycle = visit(node);
    if (cycle) return cycle;
  }
  return undefined;
}

test('src/ imports nothing from scripts/, bench/ or test/, and every import it names exists', async () => {
  const graph = await importGraph();
  for (const [file, targets] of graph) {
    for (const target of targets) {
      assert.ok(!target.startsWith('..'), `src/${file} imports ${target}, outside src/`);
      assert.ok(graph.has(target), `src/${file} imports src/${target}, which does not exist`);
    }
  }
});

test('no file of src/ imports itself back through others', async () => {
  const graph = await importGraph();
  const edges = new Map([...graph].map(([file, targets]) => [file, new Set(targets)]));
  assert.equal(findCycle(edges)?.join(' -> '), undefined);
});

test('the rooms of src/ (its folders and top-level files) import one another one way only', async () => {
  const rooms = new Map<string, Set<string>>();
  for (const [file, targets] of await importGraph()) {
    const from = roomOf(file);
    const edges = rooms.get(from) ?? new Set<string>();
    for (const target of targets) if (roomOf(target) !== from) edges.add(roomOf(target));
    rooms.set(from, edges);
  }
  assert.ok(rooms.size >= 6, 'src/ is read');
  assert.equal(findCycle(rooms)?.join(' -> '), undefined);
});

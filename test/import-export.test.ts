import assert from 'node:assert/strict';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { useHarness } from './support/harness.ts';
import { postgresOrReason, usePostgres } from './support/postgres.ts';
import { type CliResult, runScript } from './support/processes.ts';

const found = postgresOrReason();
test('finds PostgreSQL', { skip: found.skip }, () => {
  assert.ok(found.bin, found.missing);
});
const cluster = usePostgres(found.bin);
const { push, env, newDir } = useHarness('swps-transfer-');

/** subscription.json as the store writes it: one subscription per line, newest last. */
const fileFor = (subscriptions: readonly unknown[]) =>
  subscriptions.length === 0
    ? '[]\n'
    : `[\n${subscriptions.map((s) => JSON.stringify(s)).join(',\n')}\n]\n`;

/** Runs npm run import or export in `dir` against `database`; never a stack trace. */
async function run(
  name: 'import' | 'export',
  dir: string,
  args: string[],
  database?: string,
): Promise<CliResult> {
  const extra: Record<string, string> = database ? { DATABASE_URL: database } : {};
  const result = await runScript(name, args, { cwd: dir, env: env(extra) });
  assert.doesNotMatch(result.stdout + result.stderr, /\n\s+at /, 'no stack trace');
  return result;
}

async function written(dir: string, subscriptions: readonly unknown[]): Promise<string> {
  const file = join(dir, 'import.json');
  await writeFile(file, fileFor(subscriptions));
  return file;
}

describe('npm run import and npm run export', {
  skip: found.skip || found.missing || false,
}, () => {
  test('import adds each subscription once; importing again changes nothing', async () => {
    const [dir, database] = [await newDir(), await cluster().database()];
    const subscriptions = Array.from({ length: 30 }, () => push().subscribe());
    const file = await written(dir, subscriptions);
    const first = await run('import', dir, [file], database);
    assert.equal(first.code, 0, first.stderr);
    assert.match(
      first.stdout,
      /^added 30, updated 0, unchanged 0 \(database "test\d+" on 127\.0\.0\.1:\d+\)\n$/,
    );
    const again = await run('import', dir, [file], database);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /^added 0, updated 0, unchanged 30 /);
    const exported = await run('export', dir, [], database);
    assert.equal(exported.code, 0, exported.stderr);
    assert.equal(
      exported.stdout,
      fileFor(subscriptions),
      'the same subscriptions in the same order',
    );
    assert.equal(
      exported.stderr,
      `exported 30 subscription(s) from ${/database "\S+" on [^)\s]+/.exec(first.stdout)?.[0]}\n`,
    );
  });

  test('an import updates changed subscriptions and counts them', async () => {
    const [dir, database] = [await newDir(), await cluster().database()];
    const [a, b] = [push().subscribe(), push().subscribe()];
    await run('import', dir, [await written(dir, [a, b])], database);
    const renewed = { ...a, expirationTime: 1_900_000_000_000 };
    const result = await run(
      'import',
      dir,
      [await written(dir, [renewed, push().subscribe()])],
      database,
    );
    assert.match(result.stdout, /^added 1, updated 1, unchanged 0 /);
  });

  test('an export imported into an empty database exports the same bytes', async () => {
    const [dir, first, second] = [
      await newDir(),
      await cluster().database(),
      await cluster().database(),
    ];
    const subscriptions = Array.from({ length: 25 }, (_, i) => ({
      ...push().subscribe(),
      expirationTime: i % 2 ? null : 1_700_000_000_000 + i,
      // The device fields of some: a name, when it was added, the last send's result.
      ...(i % 3 === 0 ? { name: `Phone ${i}`, addedAt: '2026-12-01T10:00:00.000Z' } : {}),
      ...(i % 4 === 0
        ? {
            lastResult: {
              at: '2026-12-02T10:00:00.000Z',
              outcome: 'failed',
              status: 410,
              reason: 'Gone',
            },
          }
        : {}),
    }));
    await run('import', dir, [await written(dir, subscriptions)], first);
    const backup = join(dir, 'backup.json');
    const exported = await run('export', dir, [backup], first);
    assert.equal(exported.code, 0, exported.stderr);
    assert.equal((await stat(backup)).mode & 0o777, 0o600, 'auth secrets: mode 600');
    const imported = await run('import', dir, [backup], second);
    assert.match(imported.stdout, /^added 25, updated 0, unchanged 0 /);
    const again = await run('export', dir, [], second);
    assert.equal(again.stdout, await readFile(backup, 'utf8'));
    assert.equal(again.stdout, fileFor(subscriptions));
  });

  test('an entry that a POST would refuse is named by its index, and nothing is imported', async () => {
    const [dir, database] = [await newDir(), await cluster().database()];
    const good = Array.from({ length: 3 }, () => push().subscribe());
    const cases: [unknown, RegExp][] = [
      [
        { ...push().subscribe(), keys: { p256dh: 'BAD', auth: 'x' } },
        /"keys\.auth" must be exactly 16 bytes|"keys\.p256dh"/,
      ],
      [
        { ...push().subscribe(), endpoint: 'https://evil.example/push/1' },
        /not a known push service/,
      ],
      ['not an object', /PushSubscription object/],
    ];
    for (const [bad, reason] of cases) {
      const file = await written(dir, [...good, bad]);
      const result = await run('import', dir, [file], database);
      assert.equal(result.code, 1, result.stderr);
      assert.equal(result.stdout, '');
      assert.match(
        result.stderr,
        /^error: \S+import\.json: the entry at index 3: .*; nothing was imported\n$/,
      );
      assert.match(result.stderr, reason);
      assert.equal((await run('export', dir, [], database)).stdout, '[]\n');
    }
    const broken = join(dir, 'broken.json');
    await writeFile(broken, '[{"endpoint":');
    const result = await run('import', dir, [broken], database);
    assert.equal(result.code, 1);
    assert.match(
      result.stderr,
      /^error: \S+broken\.json is not valid JSON; nothing was imported\n$/,
    );
  });

  test('without DATABASE_URL they work on subscription.json: an export is the file itself', async () => {
    const dir = await newDir();
    const subscriptions = Array.from({ length: 4 }, () => push().subscribe());
    const result = await run('import', dir, [await written(dir, subscriptions)]);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /^added 4, updated 0, unchanged 0 \(\S+subscription\.json\)\n$/);
    const stored = await readFile(join(dir, 'subscription.json'), 'utf8');
    assert.equal(stored, fileFor(subscriptions));
    assert.equal((await run('export', dir, [])).stdout, stored);
  });
});

// npm run export: the stored subscriptions as a subscription.json, to a file or stdout.
import { once } from 'node:events';
import { open } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { loadConfig } from '../src/config.ts';
import { openStorage } from '../src/store/open.ts';
import { writeExport } from '../src/store/transfer.ts';
import { runCli, UsageError } from './cli.ts';

const HELP = `Usage: npm run export -- <file>     or     npm run --silent export > <file>

Writes the subscriptions stored in the database named by DATABASE_URL (without it, those in
subscription.json) as a subscription.json array, oldest first: a backup, and the way back to
one machine. Importing it into an empty database exports the same bytes. A <file> is written
with mode 600 (the subscriptions' auth secrets are in it); without one, to standard output
(--silent keeps npm's own lines out of it).
  --help   show this help`;

await runCli(HELP, async () => {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: { help: { type: 'boolean', default: false } },
  });
  if (values.help) {
    console.log(HELP);
    return;
  }
  if (positionals.length > 1) throw new UsageError('give at most one file to write');
  const [file] = positionals;
  const { store } = await openStorage(loadConfig(), (line) => console.error(line), {
    watch: false,
  });
  const output = file ? await open(file, 'w', 0o600) : undefined;
  try {
    await output?.chmod(0o600);
    const count = await writeExport(store, async (chunk) => {
      if (output) await output.write(chunk);
      else if (!process.stdout.write(chunk)) await once(process.stdout, 'drain');
    });
    await output?.sync();
    console.error(
      `exported ${count} subscription(s) from ${store.where}${file ? ` to ${file}` : ''}`,
    );
  } finally {
    await output?.close();
    await store.close();
  }
});

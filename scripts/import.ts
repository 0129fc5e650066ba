// npm run import -- <file>: copy a subscription.json into the database (DATABASE_URL).
import { parseArgs } from 'node:util';
import { loadConfig } from '../src/config.ts';
import { openStorage } from '../src/store/open.ts';
import { readImport } from '../src/store/transfer.ts';
import { runCli, UsageError } from './cli.ts';

const HELP = `Usage: npm run import -- <file>

Copies the subscriptions in <file> (a subscription.json) into the database named by
DATABASE_URL (without it, into subscription.json or SUBSCRIPTION_FILE), oldest first.
Every entry is checked as POST /api/subscriptions checks it: one bad entry is named by its
index and nothing is imported. Entries already stored as they are stay as they are, so
importing the same file twice adds nothing. Prints how many were added and updated.
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
  const [file, ...rest] = positionals;
  if (!file || rest.length > 0) throw new UsageError('give one file to import');
  const config = loadConfig();
  const subscriptions = await readImport(file, config.pushAllowedHosts);
  const { store } = await openStorage(config, (line) => console.error(line), { watch: false });
  try {
    const { created, updated, unchanged } = await store.addAll(subscriptions);
    console.log(`added ${created}, updated ${updated}, unchanged ${unchanged} (${store.where})`);
  } finally {
    await store.close();
  }
});

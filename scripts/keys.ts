// npm run keys: make VAPID keys (or change their subject) in vapid.json.
import { parseArgs } from 'node:util';
import { loadConfig } from '../src/config.ts';
import { ConfigError } from '../src/errors.ts';
import { generateKeys, readKeys, saveKeys, subjectProblem } from '../src/keys.ts';
import { runCli, UsageError } from './cli.ts';

const HELP = `Usage: npm run keys -- [--subject mailto:you@example.com] [--force]

Creates VAPID keys in vapid.json (or VAPID_FILE) and prints the public key.
  --subject  how push services can reach you: mailto: or https: (not localhost)
  --force    replace existing keys: every stored subscription stops working
  --help     show this help`;

await runCli(HELP, async () => {
  const { values } = parseArgs({
    options: {
      subject: { type: 'string' },
      force: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    console.log(HELP);
    return;
  }
  const problem = values.subject && subjectProblem(values.subject);
  if (problem) throw new UsageError(problem);
  const { vapidFile } = loadConfig();
  const existing = await readKeys(vapidFile);
  if (existing && !values.force) {
    if (!values.subject) {
      throw new ConfigError(
        `${vapidFile} already holds keys. Replacing them breaks every stored subscription ` +
          '(each is bound to the old public key; browsers must subscribe again). ' +
          'Use --force to replace them anyway, or --subject alone to change the subject.',
      );
    }
    await saveKeys(vapidFile, { ...existing, subject: values.subject });
    console.log(`Subject set to ${values.subject}; the keys are unchanged.`);
    console.log(existing.publicKey);
    return;
  }
  const keys = generateKeys(values.subject ?? existing?.subject);
  await saveKeys(vapidFile, keys);
  console.log(
    `${existing ? 'Replaced' : 'Created'} VAPID keys in ${vapidFile} (subject ${keys.subject}).`,
  );
  if (existing) console.log('Restart the server; every browser must subscribe again.');
  console.log(keys.publicKey);
});

// npm run token: make the bearer token that enables POST /api/send.
import { parseArgs } from 'node:util';
import { loadConfig } from '../src/config.ts';
import { createSendToken } from '../src/http/token.ts';
import { readIfExists } from '../src/store/file/files.ts';
import { runCli } from './cli.ts';

const HELP = `Usage: npm run token -- [--force]

Creates a random token in send-token (or SEND_TOKEN_FILE), mode 600, and prints it.
Scripts and devices send it as "Authorization: Bearer <token>" to POST /api/send.
Restart the server after creating or replacing it.
  --force  replace an existing token (devices using the old one stop working)
  --help   show this help`;

await runCli(HELP, async () => {
  const { values } = parseArgs({
    options: {
      force: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    console.log(HELP);
    return;
  }
  const { sendTokenFile } = loadConfig();
  const existing = (await readIfExists(sendTokenFile))?.trim();
  if (existing && !values.force) {
    console.error(`${sendTokenFile} already exists (use --force to replace it); its token:`);
    console.log(existing);
    return;
  }
  const token = await createSendToken(sendTokenFile);
  console.error(
    `${existing ? 'Replaced' : 'Created'} ${sendTokenFile} (mode 600); restart the server.`,
  );
  console.log(token);
});

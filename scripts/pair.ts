// npm run pair: a pairing link for one phone, printed where the server runs (SSH is enough).
import { parseArgs } from 'node:util';
import { loadConfig } from '../src/config.ts';
import { ConfigError } from '../src/errors.ts';
import { linkLines } from '../src/pairing/banner.ts';
import { lanOrigin } from '../src/pairing/link.ts';
import { createPairing } from '../src/pairing/tokens.ts';
import { runCli } from './cli.ts';

const HELP = `Usage: npm run pair

Prints a link that pairs one phone with the server (it works once, for 10 minutes), the
certificate authority's download URL and, on a terminal, a QR code of the link to scan.
The server need not be running: the link is signed with the key in pairing-key (or
PAIRING_KEY_FILE), made with mode 600 on first use. HOST and PORT are read as the server
reads them, so the link names the address a phone on your network can reach.
  --help  show this help`;

await runCli(HELP, async () => {
  const { values } = parseArgs({ options: { help: { type: 'boolean', default: false } } });
  if (values.help) {
    console.log(HELP);
    return;
  }
  const config = loadConfig();
  if (config.port === 0) {
    throw new ConfigError('PORT is 0 (any free port): set the PORT the server listens on');
  }
  const lan = lanOrigin(config.host, config.port);
  if ('problem' in lan && lan.problem === 'loopback-only') {
    throw new ConfigError(
      `HOST is ${config.host}, which a phone cannot reach: run the server and this command with HOST=0.0.0.0 (HOST=0.0.0.0 npm run pair)`,
    );
  }
  if (!('origin' in lan)) throw new ConfigError(lan.message);
  const minted = await createPairing({ keyFile: config.pairingKeyFile }).mint();
  const qr = process.stdout.isTTY === true;
  for (const line of await linkLines(lan.origin, minted, { qr, certDir: config.certDir })) {
    console.log(line);
  }
});

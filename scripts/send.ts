// npm run send -- "message": push a notification to the latest (or every) subscription.
import { parseArgs } from 'node:util';
import { loadConfig } from '../src/config.ts';
import { removeLeftoverTemps } from '../src/files.ts';
import { createProgress } from '../src/progress.ts';
import { parseSendRequest, type SendSummary, sendFromDisk } from '../src/send.ts';
import { runCli, UsageError } from './cli.ts';

const HELP = `Usage: npm run send -- [options] "message"

Pushes a notification to the latest subscription (or every one with --all).
  --title <text>        title (default: Simple Web Push)
  --url <url>           page to open when the notification is clicked
  --icon <url>          icon to show
  --tag <text>          replaces an earlier notification with the same tag
  --ttl <seconds>       how long the push service keeps it for an offline browser (default 86400)
  --urgency <level>     very-low, low, normal or high
  --topic <name>        replaces an undelivered message with the same topic (<= 32 base64url chars)
  --all                 send to every stored subscription
  --help                show this help`;

await runCli(HELP, async () => {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      title: { type: 'string' },
      url: { type: 'string' },
      icon: { type: 'string' },
      tag: { type: 'string' },
      ttl: { type: 'string' },
      urgency: { type: 'string' },
      topic: { type: 'string' },
      all: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    console.log(HELP);
    return;
  }
  if (positionals.length === 0) throw new UsageError('the message is missing');
  const { all, help, ...options } = values;
  const request = parseSendRequest({
    ...options,
    body: positionals.join(' '),
    to: all ? 'all' : 'latest',
  });

  const config = loadConfig();
  // This CLI writes the store too (it removes gone subscriptions): it cleans up after a crash.
  await removeLeftoverTemps(config.subscriptionFile, (line) => console.error(line));

  // On a terminal only: a pipe or a log file gets nothing but the summary.
  const progress = createProgress({
    write: (text) => process.stderr.write(text),
    isTTY: process.stderr.isTTY === true,
  });
  let summary: SendSummary;
  try {
    summary = await sendFromDisk(config, request, progress.update);
  } finally {
    progress.finish();
  }
  print(summary);
  // Exit 1 when anything failed, or when nothing was delivered (the only subscription was gone).
  if (summary.failed.length > 0 || summary.delivered === 0) process.exitCode = 1;
});

function print({ delivered, removed, failed }: SendSummary): void {
  if (delivered > 0) console.log(`delivered ${delivered}`);
  if (removed > 0) console.log(`removed ${removed} expired (the push service says they are gone)`);
  if (failed.length > 0) {
    console.log(`failed ${failed.length}`);
    for (const { host, status, reason } of failed) {
      console.log(`  ${host}: ${status ? `${status} ` : ''}${reason}`);
    }
  }
}

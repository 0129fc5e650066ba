// npm run send -- "message": push a notification to the latest, a named or every subscription.
import { parseArgs } from 'node:util';
import { loadConfig } from '../src/config.ts';
import { createProgress } from '../src/send/progress.ts';
import { MAX_BODY_CHARS, parseSendRequest, type SendSummary } from '../src/send/send-request.ts';
import { removeLeftoverTemps } from '../src/store/file/files.ts';
import { runCli, UsageError } from './cli.ts';
import { readMessage } from './stdin.ts';

const HELP = `Usage: npm run send -- [options] "message"

Pushes a notification to the latest subscription (or one device with --to, every one with --all).
A message of - is read from standard input (at most ${MAX_BODY_CHARS} characters).
  --title <text>        title (default: Simple Web Push)
  --url <url>           page to open when the notification is clicked (a /path or https://…)
  --icon <url>          icon to show
  --image <url>         picture shown large where the platform can
  --badge <url>         small monochrome icon for Android's status bar
  --action "Title=URL"  a button opening URL; repeat for a second one (at most 2)
  --app-badge <n>       number on the installed app's icon; 0 clears it
  --silent              no sound or vibration
  --require-interaction stays on screen until dismissed
  --tag <text>          replaces an earlier notification with the same tag
  --renotify            alert again when replacing the same --tag
  --timestamp <time>    when it happened, ISO 8601 (2026-12-06T21:30:00Z)
  --ttl <seconds>       how long the push service keeps it for an offline browser (default 86400)
  --urgency <level>     very-low, low, normal or high
  --topic <name>        replaces an undelivered message with the same topic (<= 32 base64url chars)
  --to <name>           send to the device of that name (any case) or the one it begins;
                        npm run devices lists them. --to all is --all
  --all                 send to every stored subscription
  --json                print the report as JSON on stdout, as POST /api/send answers
  --quiet               print nothing when everything was delivered
  --help                show this help

Delivered and removed go to stdout; failures and errors to stderr. Exit code 0 when every push
was delivered, 1 when any failed or nothing was delivered or stored, 2 for wrong usage (and for
a --to that names no device, or more than one: the error lists the names).`;

await runCli(HELP, async () => {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      title: { type: 'string' },
      url: { type: 'string' },
      icon: { type: 'string' },
      image: { type: 'string' },
      badge: { type: 'string' },
      action: { type: 'string', multiple: true },
      'app-badge': { type: 'string' },
      silent: { type: 'boolean', default: false },
      'require-interaction': { type: 'boolean', default: false },
      tag: { type: 'string' },
      renotify: { type: 'boolean', default: false },
      timestamp: { type: 'string' },
      ttl: { type: 'string' },
      urgency: { type: 'string' },
      topic: { type: 'string' },
      to: { type: 'string' },
      all: { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
      quiet: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    console.log(HELP);
    return;
  }
  if (values.json && values.quiet) throw new UsageError('--json and --quiet exclude each other');
  const { all, to, help, json, quiet, action, ...options } = values;
  if (all && to !== undefined && to.trim().toLowerCase() !== 'all') {
    throw new UsageError('--all and --to <name> exclude each other');
  }
  const { 'app-badge': appBadge, 'require-interaction': requireInteraction, ...same } = options;
  const request = parseSendRequest({
    ...same,
    appBadge,
    requireInteraction,
    actions: action?.map(parseAction),
    body: await readMessage(positionals, () => process.stdin),
    to: all ? 'all' : (to ?? 'latest'),
  });

  const config = loadConfig();
  // This CLI writes the store too (it removes gone subscriptions): it cleans up after a crash.
  if (!config.databaseUrl) {
    await removeLeftoverTemps(config.subscriptionFile, (line) => console.error(line));
  }
  // Loaded only now: --help and wrong usage answer without web-push and undici.
  const { sendConfigured } = await import('../src/send/send.ts');
  // On a terminal only: a pipe or a log file gets nothing but the summary.
  const progress = createProgress({
    write: (text) => process.stderr.write(text),
    isTTY: process.stderr.isTTY === true,
  });
  let summary: SendSummary;
  try {
    summary = await sendConfigured(config, request, {
      onProgress: progress.update,
      log: (line) => {
        console.error(`error: ${line}`);
        process.exitCode = 1;
      },
      note: (line) => console.error(line),
    });
  } finally {
    progress.finish();
  }
  if (json) console.log(JSON.stringify(summary));
  else if (!quiet) printOutcomes(summary);
  printFailures(summary);
  // Exit 1 when anything failed, or when nothing was delivered (the only subscription was gone).
  if (summary.failed.length > 0 || summary.delivered === 0) process.exitCode = 1;
});

/** `--action "Open log=/log"`: the title up to the first `=`, the link after it (which may hold more). */
function parseAction(text: string): { title: string; url: string } {
  const at = text.indexOf('=');
  if (at < 1)
    throw new UsageError(`--action must be "Title=URL", such as "Open log=/log", not "${text}"`);
  return { title: text.slice(0, at), url: text.slice(at + 1) };
}

function printOutcomes({ delivered, removed }: SendSummary): void {
  if (delivered > 0) console.log(`delivered ${delivered}`);
  if (removed > 0) console.log(`removed ${removed} expired (the push service says they are gone)`);
}

/** Always on stderr, whatever else is asked: `send ... >/dev/null` must still show them. */
function printFailures({ delivered, failed }: SendSummary): void {
  if (delivered === 0 && failed.length === 0) {
    console.error('error: nothing was delivered: the subscription is gone; subscribe again');
  }
  if (failed.length === 0) return;
  console.error(`failed ${failed.length}`);
  for (const { host, status, reason } of failed) {
    console.error(`  ${host}: ${status ? `${status} ` : ''}${reason}`);
  }
}

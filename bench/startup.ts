// npm run bench -- --only startup: how long a send takes to start, and how small the server stays.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { generateKeys, saveKeys } from '../src/keys.ts';
import { childEnv, ROOT } from '../test/support/processes.ts';
import type { Before } from './before.ts';
import type { PushServer } from './children.ts';
import { idleRss, type RssRow } from './idle-rss.ts';
import type { Minted } from './mint.ts';
import { writeSubscriptions } from './mint.ts';
import { align } from './table.ts';

const WEB_PUSH_CLI = join(ROOT, 'node_modules/web-push/src/cli.js');
const SEND = join(ROOT, 'dist/scripts/send.js');
const now = () => performance.timeOrigin + performance.now();
const median = (values: number[]) =>
  [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? NaN;

/** Runs a command to its end; milliseconds from spawn to exit. */
function timed(command: string, args: string[], env: NodeJS.ProcessEnv): Promise<number> {
  const start = now();
  const child = spawn(command, args, { cwd: ROOT, env, stdio: 'ignore' });
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', () => resolve(now() - start));
  });
}

/** Each command `runs` times, interleaved so machine load hits them alike: median ms each. */
async function medians(commands: [string, string, string[]][], runs: number, env = {}) {
  const times = commands.map(() => [] as number[]);
  const base = { PATH: process.env.PATH, HOME: process.env.HOME, ...env };
  for (let run = 0; run < runs; run++) {
    for (const [i, [, command, args]] of commands.entries()) {
      times[i]?.push(await timed(command, args, base));
    }
  }
  return commands.map(([label], i) => ({ label, ms: median(times[i] ?? []) }));
}

/** Milliseconds from spawning each sender to the push service receiving its request. */
async function toArrival(
  push: PushServer,
  minted: Minted,
  runs: number,
  dir: string,
  before?: Before,
) {
  const [subscription] = minted.subscriptions;
  const [receiver] = minted.receivers;
  if (!subscription || !receiver) throw new Error('no subscription minted');
  const vapid = generateKeys('mailto:bench@example.com');
  await saveKeys(join(dir, 'vapid.json'), vapid);
  await writeSubscriptions(join(dir, 'subscription.json'), [subscription]);
  const env = childEnv(push, {
    SUBSCRIPTION_FILE: join(dir, 'subscription.json'),
    VAPID_FILE: join(dir, 'vapid.json'),
  });
  const webPushArgs = [
    ...['send-notification', `--endpoint=${subscription.endpoint}`],
    ...[`--key=${subscription.keys.p256dh}`, `--auth=${subscription.keys.auth}`, '--payload=x'],
    ...[`--vapid-subject=${vapid.subject}`, `--vapid-pubkey=${vapid.publicKey}`],
    `--vapid-pvtkey=${vapid.privateKey}`,
  ];
  const ours = JSON.stringify({ title: 'Simple Web Push', body: 'x' });
  const senders: [string, string, string[], string][] = [
    ['npm run send -- "x"', 'npm', ['run', 'send', '--', 'x'], ours],
    ['node dist/scripts/send.js "x"', process.execPath, [SEND, 'x'], ours],
    ...(before
      ? [
          [
            `the same, built from ${before.commit}`,
            process.execPath,
            [before.sendScript, 'x'],
            ours,
          ] as [string, string, string[], string],
        ]
      : []),
    ['web-push send-notification (its CLI)', process.execPath, [WEB_PUSH_CLI, ...webPushArgs], 'x'],
  ];
  const arrivals = senders.map(() => [] as number[]);
  const totals = senders.map(() => [] as number[]);
  let problems = 0;
  for (let run = 0; run < runs; run++) {
    for (const [i, [, command, args, payload]] of senders.entries()) {
      await push.reset({ size: 1, latencyMs: 0, payload, sample: [receiver] });
      const start = now();
      const total = await timed(command, args, env);
      const tally = await push.tally(1);
      if (tally.exactlyOnce !== 1 || tally.verified !== 1 || tally.firstAt === undefined)
        problems++;
      arrivals[i]?.push((tally.firstAt ?? NaN) - start);
      totals[i]?.push(total);
    }
  }
  const rows = senders.map(([label], i) => ({
    label,
    arrivalMs: median(arrivals[i] ?? []),
    exitMs: median(totals[i] ?? []),
  }));
  return { rows, problems };
}

/** The startup section: cold starts, time to the first push, idle RSS; printed with its targets. */
export async function benchStartup(
  push: PushServer,
  minted: Minted,
  runs: number,
  dir: string,
  before?: Before,
) {
  const log = (line: string) => process.stderr.write(`${line}\n`);
  log(`startup: cold starts, ${runs} runs each`);
  const cold = await medians(
    [
      ['npm run send -- --help', 'npm', ['run', 'send', '--', '--help']],
      ['node dist/scripts/send.js --help', process.execPath, [SEND, '--help']],
      ['node -e "require(\'web-push\')"', process.execPath, ['-e', "require('web-push')"]],
      ['node node_modules/web-push/src/cli.js --help', process.execPath, [WEB_PUSH_CLI, '--help']],
      ['node -e "" (any Node process)', process.execPath, ['-e', '']],
    ],
    runs,
  );
  log('startup: from spawning a sender to the push service receiving the push');
  const arrival = await toArrival(push, minted, runs, dir, before);
  log('startup: idle RSS of the server');
  const rss = await idleRss(push, minted, runs);

  const ms = (value: number) => `${value.toFixed(0)} ms`;
  console.log(`\nCold start (node ${process.version}, median of ${runs} runs):\n`);
  console.log(align([['command', 'wall'], ...cold.map((row) => [row.label, ms(row.ms)])]));
  console.log(`\nTime to the push service (one subscription, median of ${runs} runs):\n`);
  const arrivals = arrival.rows.map((row) => [row.label, ms(row.arrivalMs), ms(row.exitMs)]);
  console.log(align([['sender', 'push received', 'exited'], ...arrivals]));
  if (arrival.problems > 0)
    console.log(`  FAIL: ${arrival.problems} sends not received and verified`);
  console.log(
    `\nServer RSS (VmRSS, median of ${runs} runs; subscribe = one POST and its welcome push):\n`,
  );
  const mib = (value: number) => (Number.isNaN(value) ? '-' : `${value.toFixed(1)} MiB`);
  const lines = rss.map((row: RssRow) => [row.label, mib(row.startMiB), mib(row.idleMiB)]);
  console.log(align([['process', 'after start', 'after subscribe, idle 3 s'], ...lines]));
  console.log(
    '\n  A first start makes its certificates in a child process (src/tls/maker.ts) that exits.',
  );
  printStartupTargets(cold, rss);
}

function printStartupTargets(cold: { label: string; ms: number }[], rss: RssRow[]) {
  const [npmForm, nodeForm, , webPushCli] = cold.map((row) => row.ms);
  const [server, first] = rss;
  const ratio = (nodeForm ?? NaN) / (webPushCli ?? NaN);
  const results: [string, boolean, string][] = [
    [
      'node dist/scripts/send.js --help within 1.5x of web-push --help',
      ratio <= 1.5,
      `${ratio.toFixed(2)}x`,
    ],
    [
      'npm run send -- --help under 0.6 s',
      (npmForm ?? NaN) < 600,
      `${(npmForm ?? NaN).toFixed(0)} ms`,
    ],
  ];
  if (server) {
    const idle = server.idleMiB;
    results.push([
      `server idle RSS after start and one subscribe <= 64 MiB (on Node 20)`,
      idle <= 64,
      `${idle.toFixed(1)} MiB`,
    ]);
  }
  if (server && first) {
    const gaps = [first.startMiB - server.startMiB, first.idleMiB - server.idleMiB];
    results.push([
      'first start within 4 MiB of a restart, after start and idle (issue 17)',
      gaps.every((gap) => Math.abs(gap) <= 4),
      gaps.map((gap) => `${gap >= 0 ? '+' : ''}${gap.toFixed(1)} MiB`).join(', '),
    ]);
  }
  console.log('\nTargets (issues 10 and 17):\n');
  console.log(align(results.map(([name, ok, figure]) => [ok ? 'met   ' : 'MISSED', name, figure])));
}

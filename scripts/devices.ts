// npm run devices: the subscribed devices, with their names, browsers and last results.
import { parseArgs } from 'node:util';
import { loadConfig } from '../src/config.ts';
import type { LastResult } from '../src/store/device-fields.ts';
import { listDevices } from '../src/store/devices.ts';
import { openStore } from '../src/store/store.ts';
import { runCli } from './cli.ts';

const HELP = `Usage: npm run devices -- [--json]

Lists the devices subscribed to this server, the latest last: name, browser, when it was
added, and what became of the last send that included it. The one marked * is the one
npm run send reaches by default; npm run send -- --to <name> reaches another.
  --json  print the list as JSON, as GET /api/devices answers
  --help  show this help`;

const UNITS: [Intl.RelativeTimeFormatUnit, number][] = [
  ['year', 365 * 86400],
  ['month', 30 * 86400],
  ['day', 86400],
  ['hour', 3600],
  ['minute', 60],
];
const relative = new Intl.RelativeTimeFormat('en', { numeric: 'always' });

await runCli(HELP, async () => {
  const { values } = parseArgs({
    options: {
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    console.log(HELP);
    return;
  }
  const { subscriptionFile } = loadConfig();
  const devices = listDevices((await openStore(subscriptionFile)).list());
  if (values.json) {
    console.log(JSON.stringify(devices, null, 2));
    return;
  }
  if (devices.length === 0) {
    console.log('No devices yet: open the server’s page and click Subscribe.');
    return;
  }
  const now = Date.now();
  const rows = [
    ['', 'NAME', 'BROWSER', 'ADDED', 'LAST RESULT'],
    ...devices.map((device) => [
      device.latest ? '*' : '',
      device.name,
      device.browser,
      device.addedAt ? day(device.addedAt) : 'unknown',
      said(device.lastResult, now),
    ]),
  ];
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((row) => [...(row[i] ?? '')].length)));
  for (const row of rows) {
    const cells = row.map((cell, i) => (i < row.length - 1 ? pad(cell, widths?.[i] ?? 0) : cell));
    console.log(cells.join('  ').trimEnd());
  }
  console.log(
    '\n* npm run send reaches this one by default (--to <name> another, --all every one).',
  );
});

function pad(cell: string, width: number): string {
  return cell + ' '.repeat(width - [...cell].length);
}

/** 2026-12-06 20:51, local time. */
function day(iso: string): string {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  const two = (n: number) => String(n).padStart(2, '0');
  const ymd = `${date.getFullYear()}-${two(date.getMonth() + 1)}-${two(date.getDate())}`;
  return `${ymd} ${two(date.getHours())}:${two(date.getMinutes())}`;
}

/** "delivered 2 minutes ago", "failed 3 hours ago: 403 BadJwtToken", "nothing sent yet". */
function said(result: LastResult | null, now: number): string {
  if (!result) return 'nothing sent yet';
  const when = ago(Date.parse(result.at), now);
  if (result.outcome === 'delivered') return `delivered ${when}`;
  return `failed ${when}: ${result.status ? `${result.status} ` : ''}${result.reason}`;
}

function ago(at: number, now: number): string {
  if (Number.isNaN(at)) return 'at an unknown time';
  const seconds = Math.max(0, (now - at) / 1000);
  for (const [unit, size] of UNITS) {
    if (seconds >= size) return relative.format(-Math.floor(seconds / size), unit);
  }
  return 'just now';
}

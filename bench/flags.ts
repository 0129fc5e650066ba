import { parseArgs } from 'node:util';
import { DEFAULT_CONCURRENCY } from '../src/push/pusher.ts';
import type { Client } from './clients.ts';

export const HELP = `Usage: npm run bench -- [options]

Sends one notification to N subscriptions with (a) the tutorial web-push loop and (b) our
send --all path (over HTTP/1.1, and with PUSH_HTTP2=1), each in its own process, against a local
HTTPS push service that speaks HTTP/2 and HTTP/1.1; prints CPU per message on the sending thread,
over all threads and for the whole process minus start-up, each against the crypto floor; then
measures POST /api/subscriptions latency (sequential, one connection) with 100, 10,000 and
100,000 subscriptions stored; then start-up: cold starts of the send CLI beside web-push's, the
time from starting a send to the push, and the server's idle RSS. Each sender row also shows how
busy the machine's cores were from the first request to the last (the sender's and the push
service's CPU over that time and every core).
  --only <list>            senders, posts, startup, or several (default senders,posts,startup)
  --n <list>               subscription counts (default 1000,10000)
  --latency <list>         added push-service latency per response, ms (default 0,50)
  --sample-a <count>       with latency, (a) sends to this many and is extrapolated (default 200)
  --verify <count>         messages per run the push service verifies and decrypts (default 200)
  --senders <list>         tutorial (a), ours (b), or both (default tutorial,ours)
  --protocol <list>        (b) with PUSH_HTTP2 unset (h1), =1 (h2), or both (default h1,h2)
  --client <list>          also send with node:https and undici at 0 ms (default https,undici; none)
  --concurrency <count>    requests in flight for --client runs (default ${DEFAULT_CONCURRENCY})
  --repeat <count>         run each sender this many times and show the median (default 1);
                           the runs of one scenario take turns, so load hits every sender alike
  --before <commit>        also run (b) and the one-device send built from that commit, beside
                           today's ("(b) before")
  --floor-iterations <n>   crypto floor iterations, in each sender (default 3000)
  --stored <list>          stored subscriptions for the POST latency (default 100,10000,100000)
  --posts <count>          POSTs per stored size, one after another (default 200)
  --cpu-prof <dir>         write a CPU profile of each sender into <dir> (node --cpu-prof)
  --startup-runs <count>   runs of each start-up measurement, for its median (default 7)
  --scale-n <list>         scale: send --all to these many (default 100000,1000000; the file
                           store up to 100000)
  --scale-stored <list>    scale: POST latency with these many in PostgreSQL (default 100,1000000)
  --help                   show this help`;

export type Section = 'senders' | 'posts' | 'startup' | 'scale';
export type Protocol = 'h1' | 'h2';
const SECTIONS: readonly Section[] = ['senders', 'posts', 'startup', 'scale'];
// Scale needs PostgreSQL and minutes: only when asked for.
const DEFAULT_SECTIONS = 'senders,posts,startup';

export interface BenchFlags {
  only: Section[];
  startupRuns: number;
  ns: number[];
  latencies: number[];
  sampleA: number;
  verify: number;
  senders: ('tutorial' | 'ours')[];
  protocols: Protocol[];
  clients: Client[];
  concurrency: number;
  repeat: number;
  floorIterations: number;
  stored: number[];
  posts: number;
  scaleN: number[];
  scaleStored: number[];
  cpuProf?: string;
  before?: string;
  help: boolean;
}

/** A wrong flag value: printed with the help text, exit code 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}

/** Parses the bench's flags; throws UsageError (or parseArgs' ERR_PARSE_ARGS_*) on bad input. */
export function parseBenchFlags(args: string[]): BenchFlags {
  const { values } = parseArgs({
    args,
    options: {
      n: { type: 'string', default: '1000,10000' },
      latency: { type: 'string', default: '0,50' },
      'sample-a': { type: 'string', default: '200' },
      verify: { type: 'string', default: '200' },
      senders: { type: 'string', default: 'tutorial,ours' },
      protocol: { type: 'string', default: 'h1,h2' },
      client: { type: 'string', default: 'https,undici' },
      concurrency: { type: 'string', default: String(DEFAULT_CONCURRENCY) },
      repeat: { type: 'string', default: '1' },
      'floor-iterations': { type: 'string', default: '3000' },
      stored: { type: 'string', default: '100,10000,100000' },
      posts: { type: 'string', default: '200' },
      'cpu-prof': { type: 'string' },
      before: { type: 'string' },
      only: { type: 'string', default: DEFAULT_SECTIONS },
      'scale-n': { type: 'string', default: '100000,1000000' },
      'scale-stored': { type: 'string', default: '100,1000000' },
      'startup-runs': { type: 'string', default: '7' },
      help: { type: 'boolean', default: false },
    },
  });
  type Name = Exclude<keyof typeof values, 'help'>;
  const words = (name: Name) =>
    String(values[name] ?? '')
      .split(',')
      .filter((word) => word !== '' && word !== 'none');
  const numbers = (name: Name): number[] =>
    words(name).map((item) => {
      if (!/^\d+$/.test(item)) throw new UsageError(`--${name} takes whole numbers, not "${item}"`);
      return Number(item);
    });
  const one = (name: Name, min = 0): number => {
    const [value] = numbers(name);
    if (value === undefined || value < min)
      throw new UsageError(`--${name} must be at least ${min}`);
    return value;
  };
  const senders = words('senders');
  const clients = words('client');
  const protocols = words('protocol');
  const only = words('only');
  const wrong = [
    ...only.filter((section) => !SECTIONS.some((known) => known === section)),
    ...senders.filter((s) => s !== 'tutorial' && s !== 'ours'),
    ...clients.filter((c) => c !== 'https' && c !== 'undici'),
    ...protocols.filter((p) => p !== 'h1' && p !== 'h2'),
  ];
  if (wrong.length > 0) {
    throw new UsageError(`unknown section, sender, client or protocol: ${wrong.join(', ')}`);
  }
  return {
    only: SECTIONS.filter((section) => only.includes(section)),
    startupRuns: one('startup-runs', 1),
    ns: numbers('n'),
    latencies: numbers('latency'),
    sampleA: one('sample-a', 1),
    verify: one('verify'),
    senders: senders as BenchFlags['senders'],
    clients: clients as Client[],
    protocols: protocols as Protocol[],
    concurrency: one('concurrency', 1),
    repeat: one('repeat', 1),
    floorIterations: one('floor-iterations', 2),
    stored: numbers('stored'),
    posts: one('posts'),
    scaleN: numbers('scale-n'),
    scaleStored: numbers('scale-stored'),
    ...(values['cpu-prof'] ? { cpuProf: values['cpu-prof'] } : {}),
    ...(values.before ? { before: values.before } : {}),
    help: values.help ?? false,
  };
}

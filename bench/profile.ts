// npm run profile: a CPU profile (node --cpu-prof) of `send --all` at N subscriptions against the
// benchmark's push service, summed by function: the top self times, per thread.
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { generateKeys, saveKeys } from '../src/keys.ts';
import { runSender, startPushServer } from './children.ts';
import { mint, writeSubscriptions } from './mint.ts';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

const { values } = parseArgs({
  options: {
    n: { type: 'string', default: '10000' },
    top: { type: 'string', default: '15' },
    keep: { type: 'string' },
  },
});
const n = Number(values.n);
const top = Number(values.top);
const dir = await mkdtemp(join(tmpdir(), 'profile-'));
const profiles = values.keep ?? join(dir, 'profiles');
const push = await startPushServer();
try {
  const { subscriptions } = mint(push.origin, n);
  const file = join(dir, 'subscriptions.json');
  await writeSubscriptions(file, subscriptions);
  await saveKeys(join(dir, 'vapid.json'), generateKeys('mailto:bench@example.com'));
  await push.reset({ size: n, latencyMs: 0, payload: '', sample: [] });
  const env = {
    ...process.env,
    NODE_EXTRA_CA_CERTS: push.caFile,
    PUSH_ALLOWED_HOSTS: push.host,
    SUBSCRIPTION_FILE: file,
    VAPID_FILE: join(dir, 'vapid.json'),
  };
  const job = { kind: 'ours', count: n, title: 'Profile', body: 'x', concurrency: 100 } as const;
  const result = await runSender({ ...job, floorIterations: 2 }, env, { profileDir: profiles });
  const tally = await push.tally(n);
  console.log(
    `send --all to ${n}: ${result.delivered} delivered, ${tally.exactlyOnce} exactly once, ` +
      `${(result.elapsedMs / 1000).toFixed(2)} s, ${(result.cpuUs / n).toFixed(0)} µs CPU/msg`,
  );
  // Measured by the kernel, not sampled: the profiles below also count time a thread waited.
  const [main = 0, ...others] = (result.threadsCpuUs ?? []).map((us) => (us / n).toFixed(0));
  console.log(`CPU µs a message by thread: main ${main}, others ${others.join(', ') || '-'}`);
  // One CPU.<date>.<time>.<pid>.<thread>.<seq>.cpuprofile per thread; thread 0 is the main one.
  const names = (await readdir(profiles)).filter((name) => name.endsWith('.cpuprofile')).sort();
  for (const name of names) {
    const thread = Number(name.split('.')[4]);
    const profile = JSON.parse(await readFile(join(profiles, name), 'utf8')) as Profile;
    console.log(`\n${thread === 0 ? 'main thread' : `thread ${thread}`}:\n`);
    console.log(formatTop(profile, top));
  }
} finally {
  await push.close();
  await rm(dir, { recursive: true, force: true });
}

/** The `count` functions with the most self time, as a Markdown table. */
function formatTop(profile: Profile, count: number): string {
  const byNode = new Map(profile.nodes.map((node) => [node.id, node]));
  const selfUs = new Map<string, number>();
  let totalUs = 0;
  profile.samples.forEach((id, index) => {
    const frame = byNode.get(id)?.callFrame;
    const delta = profile.timeDeltas[index] ?? 0;
    if (!frame || frame.functionName === '(idle)') return;
    totalUs += delta;
    const file = frame.url.replace(/^.*\/node_modules\//, '').replace(/^.*\/(src|bench)\//, '$1/');
    const where = file ? ` ${file}:${frame.lineNumber + 1}` : '';
    const key = `${frame.functionName || '(anonymous)'}${where}`;
    selfUs.set(key, (selfUs.get(key) ?? 0) + delta);
  });
  const rows = [...selfUs].sort((a, b) => b[1] - a[1]).slice(0, count);
  const lines = [
    `busy ${(totalUs / 1000).toFixed(0)} ms (idle left out)\n`,
    '| self ms | % | function |',
    '| ---: | ---: | --- |',
  ];
  for (const [key, us] of rows) {
    lines.push(`| ${(us / 1000).toFixed(0)} | ${((100 * us) / totalUs).toFixed(1)} | ${key} |`);
  }
  return lines.join('\n');
}

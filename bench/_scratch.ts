import { startPushServer } from './children.ts';
import { mint } from './mint.ts';
import { measurePosts } from './post-latency.ts';

const push = await startPushServer();
const { subscriptions } = mint(push.origin, 10400);
await push.reset({ size: 10400, latencyMs: 0, payload: '', sample: [] });
process.env.NODE_OPTIONS = `--cpu-prof --cpu-prof-dir=/tmp/bx/sprof`;
for (const c of [1, 8]) {
  const r = await measurePosts({ stored: subscriptions.slice(0, 100), fresh: subscriptions.slice(10000, 10320), concurrency: c, warmup: 20, push });
  console.log(c, r);
}
await push.close();

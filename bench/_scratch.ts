import { readFileSync } from 'node:fs';
import { Agent, request } from 'undici';
import webpush from 'web-push';
import { startPushServer } from './children.ts';
import { cryptoFloorUs } from './floor.ts';
import { mint } from './mint.ts';

const push = await startPushServer();
const N = 10000;
const { subscriptions } = mint(push.origin, N);
const payload = JSON.stringify({ title: 'Simple Web Push', body: 'Benchmark message' });
const v = webpush.generateVAPIDKeys();
const { Authorization } = webpush.getVapidHeaders(push.origin, 'mailto:a@example.com', v.publicKey, v.privateKey, 'aes128gcm');
const opts = { TTL: 86400, headers: { Authorization }, vapidDetails: null } as unknown as webpush.RequestOptions;
const cpu = () => { const c = process.cpuUsage(); return c.user + c.system; };
const ca = readFileSync(push.caFile, 'utf8');
const C = 100;
async function post(dispatcher: Agent, d: webpush.RequestDetails) {
  const headers = Object.fromEntries(Object.entries(d.headers).map(([k, v]) => [k, String(v)]));
  const r = await request(d.endpoint, { method: 'POST', headers, body: d.body ?? undefined, dispatcher });
  await r.body.dump();
}
async function interleaved(dispatcher: Agent) {
  let next = 0;
  await Promise.all(Array.from({ length: C }, async () => {
    while (next < N) await post(dispatcher, webpush.generateRequestDetails(subscriptions[next++]!, payload, opts));
  }));
}
async function batched(dispatcher: Agent, batch: number) {
  // Workers take prepared requests; whoever finds the queue empty encrypts the next batch.
  let next = 0;
  const ready: webpush.RequestDetails[] = [];
  await Promise.all(Array.from({ length: C }, async () => {
    for (;;) {
      if (ready.length === 0) {
        if (next >= N) return;
        const end = Math.min(N, next + batch);
        while (next < end) ready.push(webpush.generateRequestDetails(subscriptions[next++]!, payload, opts));
      }
      await post(dispatcher, ready.pop()!);
    }
  }));
}
for (let round = 0; round < 3; round++) {
  for (const mode of ['interleaved', 'batched32', 'batched100'] as const) {
    await push.reset({ size: N, latencyMs: Number(process.env.LAT ?? 0), payload, sample: [] });
    const floor = cryptoFloorUs(1500, payload);
    const dispatcher = new Agent({ connections: C, connect: { ca } });
    const c0 = cpu(); const t0 = performance.now();
    if (mode === 'interleaved') await interleaved(dispatcher);
    else await batched(dispatcher, mode === 'batched32' ? 32 : 100);
    const us = (cpu() - c0) / N; const rate = N / ((performance.now() - t0) / 1000);
    await dispatcher.close();
    const t = await push.tally(N);
    console.log(mode.padEnd(12), `cpu ${us.toFixed(0)} floor ${floor.toFixed(0)} (${(us / floor).toFixed(2)}x) rate ${rate.toFixed(0)}/s once ${t.exactlyOnce}`);
  }
}
await push.close();

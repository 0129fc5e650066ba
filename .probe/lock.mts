import { readdir } from 'node:fs/promises';
import { Agent, request } from 'undici';
import { startPushService } from '../test/support/push-service.ts';
import { childEnv, startServerProcess, tempDir } from '../test/support/processes.ts';

const push = await startPushService();
const dir = await tempDir();
const env = childEnv(push);
let server = await startServerProcess({ dir, env });
const post = (url: string) => request(`${url}/api/subscriptions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(push.subscribe()) }).then(async (r) => { await r.body.text(); return r.statusCode; }, (e) => e.code);
const burst = Array.from({ length: 200 }, () => post(server.httpUrl));
for (let i = 0; i < 30; i++) { if ((await readdir(dir)).some((f) => f.endsWith('.lock'))) break; await new Promise((r) => setTimeout(r, 2)); }
server.child.kill('SIGKILL');
const codes = await Promise.all(burst);
console.log('codes', codes.reduce((m: any, c) => ((m[c] = (m[c] ?? 0) + 1), m), {}));
console.log(await readdir(dir));
server = await startServerProcess({ dir, env });
const t = Date.now();
console.log('after restart', await post(server.httpUrl), Date.now() - t, 'ms');
console.log(server.output());
await server.stop();
await push.close();

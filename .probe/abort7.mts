import { createServer } from 'node:http';
import { once } from 'node:events';
import { request } from 'undici';
const chunk = Buffer.alloc(1 << 20, 'x');
const server = createServer((req, res) => {
  req.resume(); res.writeHead(500);
  const pump = () => { while (res.write(chunk)) {} }; res.on('drain', pump); pump();
});
server.listen(0, '127.0.0.1'); await once(server, 'listening');
const url = `http://127.0.0.1:${(server.address() as any).port}/`;
const t = Date.now(); setInterval(() => console.log("rss", Math.round(process.memoryUsage().rss/1e6), Date.now()-t), 2000).unref();
 setInterval(() => (globalThis as any).gc(), 200).unref();

try {
  const r = await request(url, { method: "POST", body: "x", signal: AbortSignal.timeout(7000) });
  console.log('headers', Date.now() - t);
  const text = await r.body.text();
  console.log('text', text.length);
} catch (e) { console.log('rejected', Date.now() - t, (e as Error).name, (e as Error).message); }
server.closeAllConnections(); server.close();

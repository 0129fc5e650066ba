import { createServer } from 'node:https';
import { once } from 'node:events';
import { generate } from 'selfsigned';
import { Agent, request } from 'undici';
const pems = await generate([{ name: 'commonName', value: 'endless' }], { keyType: 'ec', algorithm: 'sha256', extensions: [{ name: 'subjectAltName', altNames: [{ type: 7, ip: '127.0.0.1' }] }] });
const chunk = Buffer.alloc(1 << 20, 'x');
const server = createServer({ key: pems.private, cert: pems.cert }, (req, res) => {
  req.resume(); res.writeHead(500);
  const pump = () => { while (res.write(chunk)) {} }; res.on('drain', pump); pump();
});
server.listen(0, '127.0.0.1'); await once(server, 'listening');
const url = `https://127.0.0.1:${(server.address() as any).port}/`;
const t = Date.now();
setInterval(() => console.log("rss", Math.round(process.memoryUsage().rss/1e6), Date.now()-t), 2000).unref();
const T = Number(process.env.T);
const signal = AbortSignal.timeout(T);
if (process.env.LISTEN) signal.addEventListener('abort', () => console.log('abort event', Date.now() - t));
try {
  const r = await request(url, { method: "POST", body: "x", signal, dispatcher: new Agent({ connect: { ca: [pems.cert] } }) });
  console.log("headers", Date.now() - t);
  const text = await r.body.text();
  console.log("text", text.length);
} catch (e) { console.log("rejected", Date.now() - t, (e as Error).name, (e as Error).message); }
server.closeAllConnections(); server.close();

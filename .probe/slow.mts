import net from 'node:net';
import tls from 'node:tls';
import { startPushService } from '../test/support/push-service.ts';
import { childEnv, startServerProcess, tempDir } from '../test/support/processes.ts';

const push = await startPushService();
const dir = await tempDir();
const server = await startServerProcess({ dir, env: childEnv(push) });
console.log(server.httpsUrl, server.httpUrl);
const http = new URL(server.httpUrl); const https = new URL(server.httpsUrl);
const t0 = Date.now();
function slow(kind: string, secure: boolean, body: boolean) {
  return new Promise<void>((resolve) => {
    const port = Number(secure ? https.port : http.port);
    const sock: net.Socket = secure ? tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false }) : net.connect(port, '127.0.0.1');
    const head = body ? 'POST /api/subscriptions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n' : 'GET / HTTP/1.1\r\nHost: x\r\nX-Slow: ';
    let i = 0; let got = '';
    sock.on(secure ? 'secureConnect' : 'connect', () => { if (body) sock.write(head); });
    const timer = setInterval(() => { if (!body && i < head.length) sock.write(head[i++]!); else sock.write('a'); }, 1000);
    sock.on('data', (d) => { got += d; });
    sock.on('error', () => {});
    sock.on('close', () => { clearInterval(timer); console.log(kind, 'closed after', Date.now() - t0, JSON.stringify(got.slice(0, 40))); resolve(); });
  });
}
function idle(kind: string, secure: boolean, handshake: boolean) {
  return new Promise<void>((resolve) => {
    const port = Number(secure ? https.port : http.port);
    const sock = secure && handshake ? tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false }) : net.connect(port, '127.0.0.1');
    sock.on('error', () => {});
    sock.on('close', () => { console.log(kind, 'closed after', Date.now() - t0); resolve(); });
  });
}
await Promise.all([idle("http-idle", false, false), idle("tls-idle", true, true), slow("http-header", false, false)]);
console.log(await server.stop());
console.log(server.output());
await push.close();

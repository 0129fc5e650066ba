// Runs inside a test's own network namespace (see lan.ts): answers one JSON command per line on
// stdin with one JSON line on stdout. A forward is a Unix socket (the file system is shared with
// the test) whose connections it opens to host:port from a local address inside the namespace,
// so a test outside can talk to a server there as a LAN client would. It exits when stdin ends.
import { createConnection, createServer } from 'node:net';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

const dir = process.argv[2];
let count = 0;
const servers = [];

createInterface({ input: process.stdin }).on('line', (line) => {
  const { host, port, from } = JSON.parse(line);
  const socket = join(dir, `forward-${++count}.sock`);
  const server = createServer((client) => {
    const upstream = createConnection({ host, port, localAddress: from });
    client.pipe(upstream).pipe(client);
    const end = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
  });
  servers.push(server);
  server.listen(socket, () => process.stdout.write(`${JSON.stringify({ socket })}\n`));
});
process.stdin.on('end', () => {
  for (const server of servers) server.close();
  process.exit(0);
});
process.stdout.write(`${JSON.stringify({ ready: true })}\n`);

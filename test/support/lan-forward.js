// Runs inside a test's own network namespace (see lan.ts): answers one JSON command per line on
// stdin with one JSON line on stdout. The file system is shared with the test, so Unix sockets
// cross the namespace's border:
// - {host, port, from}: a Unix socket whose connections it opens to host:port from a local address
//   inside the namespace, so a test outside can talk to a server there as a LAN client would.
// - {listen: {host, port}, to}: listens on host:port inside the namespace and passes each
//   connection to the Unix socket `to`, so a server inside can reach one the test runs outside.
// It exits when stdin ends.
import { createConnection } from 'node:net';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { createRelay } from './relay.js';

const dir = process.argv[2];
let count = 0;
const servers = [];

function relay(open) {
  const server = createRelay(open);
  servers.push(server);
  return server;
}

createInterface({ input: process.stdin }).on('line', (line) => {
  const command = JSON.parse(line);
  if (command.listen) {
    const server = relay(() => createConnection(command.to));
    server.listen(command.listen.port, command.listen.host, () =>
      process.stdout.write(`${JSON.stringify({ listening: true })}\n`),
    );
    return;
  }
  const { host, port, from } = command;
  const socket = join(dir, `forward-${++count}.sock`);
  const server = relay(() => createConnection({ host, port, localAddress: from }));
  server.listen(socket, () => process.stdout.write(`${JSON.stringify({ socket })}\n`));
});
process.stdin.on('end', () => {
  for (const server of servers) server.close();
  process.exit(0);
});
process.stdout.write(`${JSON.stringify({ ready: true })}\n`);

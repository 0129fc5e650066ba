// Plain JS: lan-forward.js runs it inside the namespace without a TypeScript loader.
import { createServer } from 'node:net';

/** A server that pipes each connection both ways into a new connection made by `open`. */
export function createRelay(open) {
  return createServer((client) => {
    const upstream = open();
    client.pipe(upstream).pipe(client);
    const end = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
  });
}

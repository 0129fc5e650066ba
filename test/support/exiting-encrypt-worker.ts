// The real encryption worker, except that it exits instead of answering its second batch, as a
// worker that crashes would: test/encrypt-pool.test.ts.
import { parentPort } from 'node:worker_threads';

const port = parentPort;
if (port) {
  const post = port.postMessage.bind(port);
  let answers = 0;
  port.postMessage = (...args: Parameters<typeof post>) => {
    if (++answers === 2) process.exit(3);
    post(...args);
  };
}
// Loaded after the patch; its port delivers nothing until it listens.
await import('../../src/push/encrypt-worker.ts');

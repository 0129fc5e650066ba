// Preloaded with `node --require` by test/startup.test.ts: when the process exits, prints the
// package files it loaded (require.cache, which holds CommonJS files however they were loaded),
// and how many worker threads it started. Each line names the process by its script ("server.js",
// "maker.js"), since a child the process starts inherits the preload and prints its own lines.
const threads = require('node:worker_threads');
const { syncBuiltinESMExports } = require('node:module');
const { basename } = require('node:path');

let started = 0;
threads.Worker = class extends threads.Worker {
  constructor(...args) {
    super(...args);
    started++;
  }
};
// So that `import { Worker } from 'node:worker_threads'` gets the counting one too.
syncBuiltinESMExports();

const script = basename(process.argv[1] ?? '-');
process.on('exit', () => {
  const files = Object.keys(require.cache).filter((file) => file.includes('/node_modules/'));
  const names = files.map((file) => file.slice(file.lastIndexOf('/node_modules/') + 14));
  process.stderr.write(`loaded modules (${script}): ${JSON.stringify(names)}\n`);
  process.stderr.write(`worker threads started (${script}): ${started}\n`);
});

// Preloaded with `node --require` by test/loading.test.ts: when the process exits, prints the
// package files it loaded (require.cache, which holds CommonJS files however they were loaded),
// and whether it loaded node:worker_threads.
process.on('exit', () => {
  const files = Object.keys(require.cache).filter((file) => file.includes('/node_modules/'));
  const names = files.map((file) => file.slice(file.lastIndexOf('/node_modules/') + 14));
  process.stderr.write(`loaded modules: ${JSON.stringify(names)}\n`);
  // Node's own modules are not in require.cache; this list of them is not documented, but stable.
  const threads = process.moduleLoadList.includes('NativeModule worker_threads');
  process.stderr.write(`worker threads: ${threads ? 'loaded' : 'not loaded'}\n`);
});

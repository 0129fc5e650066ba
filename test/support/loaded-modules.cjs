// Preloaded with `node --require` by test/loading.test.ts: when the process exits, prints the
// package files it loaded (require.cache, which holds CommonJS files however they were loaded).
process.on('exit', () => {
  const files = Object.keys(require.cache).filter((file) => file.includes('/node_modules/'));
  const names = files.map((file) => file.slice(file.lastIndexOf('/node_modules/') + 14));
  process.stderr.write(`loaded modules: ${JSON.stringify(names)}\n`);
});

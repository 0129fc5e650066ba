import * as require_fs from 'node:fs';
require_fs.writeSync(2, 'patch loaded\n');
const orig = AbortSignal.timeout.bind(AbortSignal);
const t0 = Date.now();
(AbortSignal as any).timeout = (ms: number) => {
  const s = orig(ms);
  require_fs.writeSync(2, '' + ['timeout signal created', ms, Date.now() - t0] + '\n');
  if (process.env.KEEP) (globalThis as any).kept = [...((globalThis as any).kept ?? []), s];
  s.addEventListener('abort', () => require_fs.writeSync(2, '' + ['fired', Date.now() - t0] + '\n'), { once: true } as any);
  return s;
};

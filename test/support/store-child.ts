// A second process on the same subscription.json, for the crash tests:
//   hold <file> <ms>   takes the lock, holds it <ms>, then adds one entry by hand and says
//                      "intact" if no one else took the lock or wrote the file meanwhile
//   write <file>       adds subscriptions through the store, one write after another, until killed
import { readFile, stat } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { writeFileAtomic } from '../../src/store/file/files.ts';
import { withLock } from '../../src/store/file/lock.ts';
import { openStore } from '../../src/store/file.ts';
import type { Subscription } from '../../src/store/subscription.ts';
import { mulberry32, validKeys } from './hostile.ts';

const [mode, file = '', ms = '0'] = process.argv.slice(2);

/** A valid subscription on a default push service, unique by `name`. */
const sample = (name: string): Subscription => ({
  endpoint: `https://fcm.googleapis.com/fcm/send/${name}`,
  expirationTime: null,
  keys: validKeys(mulberry32(name.length)),
});

async function hold(): Promise<void> {
  await withLock(file, async () => {
    const before = await stat(file);
    console.log('locked');
    await sleep(Number(ms));
    const owner = await readFile(`${file}.lock`, 'utf8');
    const after = await stat(file);
    const intact = owner.startsWith(`${process.pid}\n`) && after.mtimeMs === before.mtimeMs;
    const entries = JSON.parse(await readFile(file, 'utf8')) as Subscription[];
    entries.push(sample('held'));
    await writeFileAtomic(file, `${JSON.stringify(entries)}\n`);
    console.log(intact ? 'intact' : `interrupted: lock holds ${JSON.stringify(owner)}`);
  });
  console.log('released');
}

async function write(): Promise<void> {
  const store = await openStore(file);
  for (let i = 0; ; i++) await store.add(sample(`written-${process.pid}-${i}`));
}

if (mode === 'hold') await hold();
else if (mode === 'write') await write();
else throw new Error(`unknown mode ${mode}`);

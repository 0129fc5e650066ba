// The certificate maker: a child process that makes certificates and exits. Loading the X.509
// code (@peculiar/x509, selfsigned) costs a process about 14 MiB that it keeps until it ends; made
// in a worker thread, about 8 MiB of it stayed after the worker had ended (docs/performance.md).
// A child gives it all back, so a first start is as light as a restart. It is
// `node dist/src/tls/maker.js`: a job per line on stdin, the PEMs of each on a line of stdout.
import { type ChildProcessByStdio, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import type { Readable, Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import type { CaOptions, LeafOptions, Pem } from './x509.ts';

/** One certificate to make: the local CA, or the server's certificate that it signs. */
export type Job =
  | { readonly make: 'ca'; readonly ca: CaOptions }
  | { readonly make: 'leaf'; readonly leaf: LeafOptions };

/** Makes the certificate of a job. */
export type Make = (job: Job) => Promise<Pem>;

/** Makes certificates in one child process, started at the first job. */
export interface Maker {
  make: Make;
  /** Lets the child exit and waits for it: what it loaded is given back. */
  close(): Promise<void>;
}

const SELF = fileURLToPath(import.meta.url);

/** A maker for the jobs of one start or one SIGHUP; private keys travel through its pipes only. */
export function createMaker(): Maker {
  let running: ReturnType<typeof start> | undefined;
  return {
    async make(job) {
      running ??= start();
      running.child.stdin.write(`${JSON.stringify(job)}\n`);
      const answer = await running.answers.next();
      if (answer.done) throw new Error(`the certificate maker failed (${await running.exit})`);
      return JSON.parse(answer.value) as Pem;
    },
    async close() {
      running?.child.stdin.end();
      await running?.exit;
    },
  };
}

/** Runs `use` with a maker's `make`, and lets the maker exit when it is done. */
export async function withMaker<T>(use: (make: Make) => Promise<T>): Promise<T> {
  const maker = createMaker();
  try {
    return await use(maker.make);
  } finally {
    await maker.close();
  }
}

/** Makes one certificate in a maker of its own. */
export const makeApart: Make = (job) => withMaker((make) => make(job));

function start(): {
  child: ChildProcessByStdio<Writable, Readable, null>;
  answers: AsyncIterator<string>;
  exit: Promise<string>;
} {
  // stderr is the server's: a maker that crashes prints its error where the server's would be.
  const child = spawn(process.execPath, [...loader(), SELF], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  // A maker that failed to start or died: the answer below ends, and its status says why.
  child.stdin.on('error', () => {});
  const exit = new Promise<string>((resolve) => {
    child.once('error', (error) => resolve(error.message));
    child.once('close', (code, signal) => resolve(`exit ${code ?? signal}`));
  });
  const answers = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  return { child, answers, exit };
}

// .ts under tsx or Node's type stripping, .js when built. On Node 20 the sources run under tsx,
// whose hooks a child does not inherit: it gets them with --import.
function loader(): string[] {
  const { typescript } = process.features as { typescript?: string | false };
  if (!SELF.endsWith('.ts') || typescript) return [];
  return ['--import', import.meta.resolve('tsx')];
}

async function main(): Promise<void> {
  const { makeCa, makeLeaf } = await import('./x509.ts');
  for await (const line of createInterface({ input: process.stdin })) {
    const job = JSON.parse(line) as Job;
    const made = job.make === 'ca' ? await makeCa(job.ca) : await makeLeaf(job.leaf);
    process.stdout.write(`${JSON.stringify(made)}\n`);
  }
}

if (process.argv[1] === SELF) await main();

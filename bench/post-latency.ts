import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Agent, request } from 'undici';
import type { Subscription } from '../src/store/subscription.ts';
import {
  childEnv,
  type ServerProcess,
  startServerProcess,
  tempDir,
} from '../test/support/processes.ts';
import { writeSubscriptions } from './mint.ts';

export interface PostLatency {
  /** Which server: today's, or the --before commit's ("before <commit>"). */
  server: string;
  stored: number;
  posts: number;
  p50: number;
  p99: number;
  errors: number;
}

/**
 * POST /api/subscriptions latency (ms) against the real server with `stored` subscriptions
 * already in its file: each POST stores a new one on disk and sends it the welcome push. The
 * POSTs go one after another on one kept-alive connection, each waiting for its answer; the
 * first `warmup` of `fresh` are not timed.
 */
export async function measurePosts(options: {
  stored: Subscription[];
  fresh: Subscription[];
  warmup: number;
  push: { host: string; caFile: string };
  /** A database holding `count` subscriptions, instead of `stored` in subscription.json. */
  database?: { url: string; count: number };
  /** Another build's server (--before): its dist/src/server.js and the name its rows get. */
  before?: { server: string; name: string };
}): Promise<PostLatency> {
  const { stored, fresh, warmup, push, database, before } = options;
  const dir = await tempDir('bench-post-');
  const timings: number[] = [];
  let errors = 0;
  let server: ServerProcess | undefined;
  const dispatcher = new Agent({ connections: 1 });
  try {
    if (!database) await writeSubscriptions(join(dir, 'subscription.json'), stored);
    server = await startServerProcess({
      dir,
      env: childEnv(push, database ? { DATABASE_URL: database.url } : {}),
      // Reading and checking 100,000 stored subscriptions takes seconds on a slow machine.
      timeoutMs: 120_000,
      ...(before ? { server: before.server } : {}),
    });
    const url = `${server.httpUrl}/api/subscriptions`;
    for (const [index, subscription] of fresh.entries()) {
      const start = performance.now();
      const response = await request(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(subscription),
        dispatcher,
        signal: AbortSignal.timeout(30_000),
      });
      await response.body.dump();
      if (response.statusCode !== 201) errors++;
      // The first few warm up the connection and code paths.
      if (index >= warmup) timings.push(performance.now() - start);
    }
  } finally {
    await dispatcher.close();
    await server?.stop();
    await rm(dir, { recursive: true, force: true });
  }
  timings.sort((a, b) => a - b);
  const at = (q: number) =>
    timings[Math.min(timings.length - 1, Math.floor(q * timings.length))] ?? NaN;
  const count = database?.count ?? stored.length;
  const name = before?.name ?? 'today';
  return {
    server: name,
    stored: count,
    posts: timings.length,
    p50: at(0.5),
    p99: at(0.99),
    errors,
  };
}

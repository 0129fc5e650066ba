import { rm } from 'node:fs/promises';
import { after, before } from 'node:test';
import { type Dispatcher, request } from 'undici';
import { childEnv, type ServerProcess, startServerProcess, tempDir } from './processes.ts';
import { type PushService, startPushService } from './push-service.ts';

/** What `useHarness` gives a test file; everything it starts or makes is gone after `after`. */
export interface Harness {
  /** The test push service (started in `before`). */
  push(): PushService;
  /** The environment for a server or CLI child that pushes to the test push service. */
  env(extra?: Record<string, string>): NodeJS.ProcessEnv;
  /** A fresh temporary directory. */
  newDir(): Promise<string>;
  /** Starts `src/server.ts` (built, or the source itself) in `dir` (a fresh one by default). */
  start(options?: {
    dir?: string;
    env?: Record<string, string>;
    source?: boolean;
  }): Promise<ServerProcess>;
  /** Destroys `resource` (an undici Agent or Pool, a socket) in `after`, and returns it. */
  track<T extends { destroy(): unknown }>(resource: T): T;
  /** Every server started so far, in order. */
  readonly servers: readonly ServerProcess[];
}

/**
 * Registers `before` and `after` in the current suite: a test push service (started with
 * `options`), temporary directories named `prefix…`, and the server processes started in them.
 */
export function useHarness(
  prefix: string,
  options: Parameters<typeof startPushService>[0] = {},
): Harness {
  let starting: Promise<PushService> | undefined;
  let service: PushService | undefined;
  const dirs: string[] = [];
  const servers: ServerProcess[] = [];
  const resources: { destroy(): unknown }[] = [];
  // Node 20 runs top-level `before` hooks side by side, so a file's own hook may need the
  // service before this one has it: whoever comes first starts it, the other waits.
  const ready = async (): Promise<PushService> => {
    starting ??= startPushService(options);
    service = await starting;
    return service;
  };

  before(ready);

  after(async () => {
    await Promise.all(resources.map((resource) => resource.destroy()));
    await Promise.all(servers.map((server) => server.stop('SIGKILL')));
    await service?.close();
    await Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true })));
  });

  const push = (): PushService => {
    if (!service) throw new Error('the test push service starts in before()');
    return service;
  };
  const env = (extra: Record<string, string> = {}) => childEnv(push(), extra);
  const newDir = async (): Promise<string> => {
    const dir = await tempDir(prefix);
    dirs.push(dir);
    return dir;
  };

  return {
    push,
    env,
    newDir,
    async start({ dir, env: extra, source } = {}) {
      const where = dir ?? (await newDir());
      const server = await startServerProcess({
        dir: where,
        env: childEnv(await ready(), extra),
        source,
      });
      servers.push(server);
      return server;
    },
    track(resource) {
      resources.push(resource);
      return resource;
    },
    servers,
  };
}

/** POSTs `subscription` as JSON to `base`/api/subscriptions, as the page does. */
export function postSubscription(
  base: string,
  subscription: unknown,
  dispatcher?: Dispatcher,
): Promise<Dispatcher.ResponseData> {
  return request(`${base}/api/subscriptions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(subscription),
    ...(dispatcher ? { dispatcher } : {}),
  });
}

import type { Server } from 'node:https';
import type { ServerTls } from './certificate.ts';

/** The certificate an HTTPS server is serving, and how to swap it while it runs. */
export interface ReloadableTls {
  current(): ServerTls;
  /** Loads it again and gives it to new connections (open ones keep theirs); on failure keeps it. */
  reload(): Promise<void>;
}

/**
 * Swaps `server`'s TLS context (SIGHUP) with what `load` returns, one reload at a time: two
 * re-issues side by side could leave a key and a certificate that do not match.
 */
export function reloadableTls(
  server: Server,
  first: ServerTls,
  load: () => Promise<ServerTls>,
  log: (line: string) => void,
): ReloadableTls {
  let current = first;
  let queue = Promise.resolve();
  return {
    current: () => current,
    reload() {
      queue = queue.then(async () => {
        try {
          const next = await load();
          server.setSecureContext({ key: next.key, cert: next.cert });
          current = next;
          log('SIGHUP: new connections get the certificate just read.');
        } catch (error) {
          log(`SIGHUP: kept the current certificate: ${(error as Error).message}`);
        }
      });
      return queue;
    },
  };
}

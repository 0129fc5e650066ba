import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Agent } from 'undici';
import { request } from 'undici';
import { LAN_IPV4, type Lan } from './lan.ts';
import { childEnv, type ServerProcess, startServerProcess } from './processes.ts';
import type { PushService } from './push-service.ts';

/** The HTTPS port of every server started inside a test's own namespace (nothing else is there). */
export const LAN_PORT = 4443;

export interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  json: Record<string, unknown>;
}

type From = 'lan' | 'loopback' | 'loopback-http';

export interface LanServer extends ServerProcess {
  /** What a phone opens: https://10.77.0.1:4443. */
  lanOrigin: string;
  /**
   * A request to the server's HTTPS port: `from: 'lan'` comes from 10.77.0.1 with that Host, as
   * a phone's would; `from: 'loopback'` from 127.0.0.1 with Host localhost, as this machine's;
   * `from: 'loopback-http'` to the plain HTTP port on loopback, as this machine's browser.
   */
  call(
    path: string,
    options?: {
      from?: From;
      method?: string;
      headers?: Record<string, string>;
      body?: unknown;
    },
  ): Promise<Answer>;
}

/**
 * Starts the server in `dir` inside the namespace, listening on every address (HOST=0.0.0.0
 * unless `env` says otherwise), able to push to `push` outside (exposed into the namespace).
 */
export async function startLanServer(
  lan: Lan,
  push: PushService,
  options: { dir: string; env?: Record<string, string> },
): Promise<LanServer> {
  const server = await startServerProcess({
    dir: options.dir,
    env: childEnv(push, { HOST: '0.0.0.0', PORT: String(LAN_PORT), ...options.env }),
    spawn: lan.spawn,
  });
  // The server's local CA issued its certificate: trusting it is what a phone does.
  const ca = await readFile(join(options.dir, 'certs', 'ca.pem'), 'utf8');
  const httpPort = Number(new URL(server.httpUrl).port);
  const agents: Record<From, Agent> = {
    lan: await lan.client(LAN_PORT, { ca }),
    loopback: await lan.client(LAN_PORT, { host: '127.0.0.1', from: '127.0.0.1', ca }),
    'loopback-http': await lan.client(httpPort, { host: '127.0.0.1', from: '127.0.0.1' }),
  };
  return {
    ...server,
    lanOrigin: `https://${LAN_IPV4}:${LAN_PORT}`,
    async call(path, { from = 'lan', method = 'POST', headers = {}, body } = {}) {
      // The URL names localhost, which the certificate covers; a phone's Host is the address.
      const host = from === 'lan' ? `${LAN_IPV4}:${LAN_PORT}` : `localhost:${LAN_PORT}`;
      const base =
        from === 'loopback-http' ? `http://localhost:${httpPort}` : `https://localhost:${LAN_PORT}`;
      const response = await request(`${base}${path}`, {
        method,
        dispatcher: agents[from],
        headers: {
          host,
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
          ...headers,
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      const text = await response.body.text();
      return {
        status: response.statusCode,
        headers: response.headers,
        json: text ? JSON.parse(text) : {},
      };
    },
  };
}

import { type ChildProcess, type SpawnOptions, spawn } from 'node:child_process';
import { once } from 'node:events';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createConnection, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { Agent } from 'undici';
import { createRelay } from './relay.js';

/** The LAN addresses inside every test namespace (each namespace is private: no clash). */
export const LAN_IPV4 = '10.77.0.1';
export const LAN_IPV6 = 'fd77::1';

/** A network namespace of the test's own with a veth LAN interface; see startLan. */
export interface Lan {
  /** Runs a command inside the namespace (nsenter), as `spawn` would outside it. */
  spawn(command: string, args: string[], options?: SpawnOptions): ChildProcess;
  /** An executable script that runs `command` inside the namespace (a browser's executablePath). */
  wrap(command: string): Promise<string>;
  /**
   * An undici dispatcher whose connections go to `port` on `host` inside the namespace from the
   * LAN address, so the server there sees a LAN client. `ca` is trusted for HTTPS.
   */
  client(port: number, options?: { host?: string; from?: string; ca?: string }): Promise<Agent>;
  /**
   * Makes `port` on 127.0.0.1 outside (a test push service, say) reachable at the same address
   * and port from inside the namespace, so a server there can push to it by its usual URL.
   */
  expose(port: number): Promise<void>;
  close(): Promise<void>;
}

// No duplicate address detection, even for the link-local addresses the kernel adds: finished a
// second after the links come up, it is an address change, and Chromium then fails the requests
// in flight with ERR_NETWORK_CHANGED (seen: a phone's first service worker script fetch).
const SETUP = [
  'ip link set lo up',
  'echo 0 > /proc/sys/net/ipv6/conf/all/accept_dad',
  'echo 0 > /proc/sys/net/ipv6/conf/default/accept_dad',
  'ip link add v0 type veth peer name v1',
  `ip addr add ${LAN_IPV4}/24 dev v0`,
  `ip -6 addr add ${LAN_IPV6}/64 dev v0 nodad`,
  'ip link set v0 up',
  'ip link set v1 up',
].join(' && ');
const FORWARDER = new URL('./lan-forward.js', import.meta.url).pathname;

/**
 * Starts a private network namespace (unshare -n, so nothing leaves it and nothing in it is seen
 * outside) with LAN_IPV4 and LAN_IPV6 on a veth interface. It lives as long as its forwarder
 * process; close() ends it. Rejects with the reason when namespaces are not available here.
 */
export async function startLan(): Promise<Lan> {
  const dir = await mkdtemp(join(tmpdir(), 'lan-'));
  const holder = spawn(
    'unshare',
    ['-n', 'sh', '-c', `${SETUP} && exec "$0" "$1" "$2"`, process.execPath, FORWARDER, dir],
    { stdio: ['pipe', 'pipe', 'pipe'] },
  );
  let stderr = '';
  holder.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
  });
  const lines = createInterface({ input: holder.stdout as NodeJS.ReadableStream });
  const replies: ((line: string) => void)[] = [];
  lines.on('line', (line) => replies.shift()?.(line));
  const reply = () =>
    new Promise<Record<string, string>>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('the LAN namespace did not answer')), 5000);
      const exited = () => reject(new Error(`no network namespace: ${stderr.trim()}`));
      replies.push((line) => {
        clearTimeout(timer);
        // One listener per question in flight, not one per question ever asked.
        holder.off('exit', exited);
        resolve(JSON.parse(line));
      });
      holder.once('exit', exited);
    });
  try {
    await reply();
  } catch (error) {
    holder.kill('SIGKILL');
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
  const nsenter = (command: string, args: string[]) => [
    '-t',
    String(holder.pid),
    '-n',
    '--',
    command,
    ...args,
  ];
  const agents: Agent[] = [];
  const relays: Server[] = [];
  const ask = async (command: unknown) => {
    const answer = reply();
    holder.stdin?.write(`${JSON.stringify(command)}\n`);
    return answer;
  };
  return {
    spawn: (command, args, options = {}) => spawn('nsenter', nsenter(command, args), options),
    async wrap(command) {
      const file = join(dir, `wrap-${agents.length}-${command.replace(/\W/g, '_')}`);
      await writeFile(file, `#!/bin/sh\nexec nsenter -t ${holder.pid} -n -- ${command} "$@"\n`);
      await chmod(file, 0o755);
      return file;
    },
    async client(port, { host = LAN_IPV4, from = LAN_IPV4, ca } = {}) {
      const { socket } = await ask({ host, port, from });
      const agent = new Agent({ connect: { socketPath: socket, ...(ca ? { ca } : {}) } });
      agents.push(agent);
      return agent;
    },
    async expose(port) {
      const to = join(dir, `expose-${relays.length}.sock`);
      const relay = createRelay(() => createConnection({ host: '127.0.0.1', port }));
      relays.push(relay);
      relay.listen(to);
      await once(relay, 'listening');
      await ask({ listen: { host: '127.0.0.1', port }, to });
    },
    async close() {
      await Promise.all(agents.map((agent) => agent.destroy()));
      for (const relay of relays) relay.close();
      if (holder.exitCode === null) {
        const exited = once(holder, 'exit');
        holder.stdin?.end();
        const timer = setTimeout(() => holder.kill('SIGKILL'), 2000);
        await exited;
        clearTimeout(timer);
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/**
 * A LAN namespace, or what to do without one: `skip` holds the reason outside CI; in CI
 * (CI=true) `missing` holds the message a test must fail with, never a silent skip.
 */
export async function lanOrReason(
  env: NodeJS.ProcessEnv = process.env,
): Promise<{ lan?: Lan; skip: string | false; missing?: string }> {
  try {
    return { lan: await startLan(), skip: false };
  } catch (error) {
    const reason = `network namespaces are not available here (needs root, unshare, nsenter and ip from iproute2): ${(error as Error).message}`;
    return env.CI === 'true' ? { skip: false, missing: reason } : { skip: reason };
  }
}

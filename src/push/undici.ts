// undici's Agent, loaded without the rest of the package. Its entry file also loads fetch,
// WebSocket, EventSource, the caches and the mocks, which the server never uses: about 10 MB of
// resident memory at every start (bench/RESULTS.md). This is the file that entry file itself
// exports it from; pushes go through its dispatch() (response.ts), as `npm test` runs them.
import { createRequire } from 'node:module';
import { createSecureContext } from 'node:tls';
import { setFlagsFromString } from 'node:v8';
import type { Agent as AgentClass, Dispatcher } from 'undici';

// undici parses HTTP with WebAssembly (llhttp). V8 would soon recompile that parser with its
// optimizing compiler on a background thread: about 30 MB for a moment, some of it never given
// back, and a send CLI that waits about 230 ms for it before it can exit. The baseline compiler's
// code parses the few hundred bytes of a push service's answer just as well. Read when undici
// compiles the parser, at its first connection, so it applies though set after start-up.
setFlagsFromString('--no-wasm-dynamic-tiering');
setFlagsFromString('--no-wasm-tier-up');

const require = createRequire(import.meta.url);

const Agent: typeof AgentClass = require('undici/lib/dispatcher/agent.js');

// Node's HTTP/2 servers allow 100 concurrent streams unless they say otherwise.
const STREAMS_PER_CONNECTION = 100;

/**
 * HTTP/1.1: one request per connection. HTTP/2: up to STREAMS_PER_CONNECTION streams share a
 * connection (undici's `pipelining`, with requests marked idempotent: undici otherwise waits for
 * each POST's answer before the next stream, or with pipelining 1 opens a connection per stream).
 * So with PUSH_HTTP2=1 a push service that still answers in HTTP/1.1 gets pipelined requests.
 */
export function createAgent(concurrency: number, timeoutMs: number, http2 = false): Dispatcher {
  // One TLS context (the trusted CAs, NODE_EXTRA_CA_CERTS included) for every connection:
  // tls.connect would build one per connection, up to 160 at the start of a large send.
  const connect = { secureContext: createSecureContext() };
  if (!http2) return new Agent({ connections: concurrency, connectTimeout: timeoutMs, connect });
  const streams = Math.min(concurrency, STREAMS_PER_CONNECTION);
  return new Agent({
    allowH2: true,
    connections: Math.ceil(concurrency / streams),
    pipelining: streams,
    connectTimeout: timeoutMs,
    connect,
  });
}

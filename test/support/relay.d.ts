import type { Server, Socket } from 'node:net';

/** A server that pipes each connection both ways into a new connection made by `open`. */
export function createRelay(open: () => Socket): Server;

#!/usr/bin/env node
/**
 * The floor of what holding an idle TCP connection costs a Node process: a bare `node:net`
 * server that accepts connections and keeps them, reading nothing, writing nothing. The
 * memory suite opens the same idle connections against it and against the broker: the
 * broker's bytes per connection beside these say what is ours and what is Node's.
 *
 *   net-floor-holder [--port N]      prints {"ready":true,"port":N}
 */
import { createServer, type Socket } from 'node:net';
import { parseArgs } from 'node:util';

const { values: args } = parseArgs({ options: { port: { type: 'string', default: '0' } } });
const held = new Set<Socket>();
const server = createServer((socket) => {
  held.add(socket);
  // An error or a close only ends this connection; nothing else is done with it.
  socket.on('error', () => undefined);
  socket.on('close', () => held.delete(socket));
});
server.listen({ port: Number(args.port), host: '127.0.0.1', backlog: 4096 }, () => {
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  process.stdout.write(JSON.stringify({ ready: true, port }) + '\n');
});
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => process.exit(0));

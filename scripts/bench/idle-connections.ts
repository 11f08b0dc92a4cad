#!/usr/bin/env node
/**
 * Opens `--count` TCP connections to 127.0.0.1:`--port` (at most 256 connecting at once),
 * sends nothing, prints {"ready":true,"open":N,"failed":F}, and holds them until killed.
 * Needs a file-descriptor limit above the count; the harness raises it.
 */
import net from 'node:net';
import { parseArgs } from 'node:util';

const { values: args } = parseArgs({ options: { port: { type: 'string' }, count: { type: 'string', default: '10000' } } });
const port = Number(args.port);
const count = Number(args.count);
const CONNECTING_AT_ONCE = 256;

const sockets: net.Socket[] = [];
let failed = 0;
let next = 0;

function openOne(): Promise<void> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port }, () => {
      sockets.push(socket);
      resolve();
    });
    socket.once('error', () => {
      failed++;
      resolve();
    });
  });
}

async function worker(): Promise<void> {
  while (next < count) {
    next++;
    await openOne();
  }
}

await Promise.all(Array.from({ length: Math.min(CONNECTING_AT_ONCE, count) }, worker));
const open = sockets.filter((s) => !s.destroyed).length;
process.stdout.write(JSON.stringify({ ready: true, open, failed }) + '\n');
setInterval(() => undefined, 1 << 30);

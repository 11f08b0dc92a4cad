#!/usr/bin/env node
/**
 * Opens `--count` connections to `--port` on 127.0.0.1 (at most 256 opening at once) and holds
 * them idle until killed: `--kind ws`, WebSockets (the pool server's hello read, then silence);
 * `--kind http`, keep-alive HTTP connections that made one GET and wait. Prints
 * {"ready":true,"open":N,"failed":F} once all are open or failed.
 */
import net from 'node:net';
import { parseArgs } from 'node:util';
import WebSocket from 'ws';

const { values: args } = parseArgs({ options: { port: { type: 'string' }, count: { type: 'string', default: '10000' }, kind: { type: 'string', default: 'ws' } } });
const port = Number(args.port);
const count = Number(args.count);
const OPENING_AT_ONCE = 256;
const held: Array<WebSocket | net.Socket> = [];
let failed = 0;
let next = 0;

function openWs(): Promise<void> {
  return new Promise((resolve) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/`, { perMessageDeflate: false });
    ws.once('message', () => {
      held.push(ws);
      resolve();
    });
    ws.once('error', () => {
      failed++;
      resolve();
    });
  });
}

function openHttp(): Promise<void> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port }, () => socket.write('GET /bench HTTP/1.1\r\nHost: bench\r\n\r\n'));
    // The answer ("1") has arrived once its head and body are in: the connection is then idle.
    let text = '';
    const onData = (chunk: Buffer): void => {
      text += chunk.toString('latin1');
      if (!text.includes('\r\n\r\n')) return;
      socket.off('data', onData);
      held.push(socket);
      resolve();
    };
    socket.on('data', onData);
    socket.once('error', () => {
      failed++;
      resolve();
    });
  });
}

async function opener(): Promise<void> {
  while (next < count) {
    next++;
    await (args.kind === 'http' ? openHttp() : openWs());
  }
}

await Promise.all(Array.from({ length: Math.min(OPENING_AT_ONCE, count) }, opener));
process.stdout.write(JSON.stringify({ ready: true, open: held.length, failed }) + '\n');
setInterval(() => undefined, 1 << 30);

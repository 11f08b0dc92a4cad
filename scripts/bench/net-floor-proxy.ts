#!/usr/bin/env node
/**
 * The floor of what a proxy costs in Node on this machine: node:net sockets and nothing else,
 * no HTTP library. It proxies the benchmark's traffic (GET requests without a body, answers
 * framed by Content-Length) round-robin over the backends, one request at a time per client
 * connection (pipelined ones wait their turn), over kept-alive backend connections. It
 * validates nothing and refuses anything else by closing the connection: it is not a proxy to
 * use, only a measure of how much of a Node proxy's CPU per request is the HTTP library's.
 *
 *   net-floor-proxy --backends P1,P2,P3 [--port N]     prints {"ready":true,"port":N}
 */
import { createConnection, createServer, type Socket } from 'node:net';
import { parseArgs } from 'node:util';

const { values: args } = parseArgs({ options: { port: { type: 'string', default: '0' }, backends: { type: 'string' } } });
const backendPorts = (args.backends ?? '').split(',').map(Number);
if (!backendPorts.every((port) => Number.isInteger(port) && port > 0 && port < 65536)) {
  process.stderr.write('usage: net-floor-proxy --backends PORT,PORT,... [--port N]\n');
  process.exit(2);
}
const HEAD_END = Buffer.from('\r\n\r\n');
const CONTENT_LENGTH = /\r\ncontent-length:[ \t]*(\d+)/i;
/** Hop-by-hop lines a proxy must not pass on (the client's keep-alive wishes are its own). */
const HOP_BY_HOP = /\r\n(?:connection|keep-alive|proxy-connection|te|upgrade)[ \t]*:[^\r]*/gi;

interface Client {
  socket: Socket;
  pending: Buffer | null;
  busy: boolean;
}
interface Upstream {
  socket: Socket;
  backend: number;
  client: Client | null;
  pending: Buffer | null;
  /** Bytes of the whole answer (head and body) once its head is read, else -1. */
  answerBytes: number;
}

const idle: Upstream[][] = backendPorts.map(() => []);
let next = 0;

function takeUpstream(backend: number): Upstream {
  const kept = idle[backend]!.pop();
  if (kept !== undefined) return kept;
  const up: Upstream = { socket: createConnection(backendPorts[backend]!, '127.0.0.1'), backend, client: null, pending: null, answerBytes: -1 };
  up.socket.setNoDelay(true);
  up.socket.on('data', (chunk: Buffer) => fromUpstream(up, chunk));
  up.socket.on('error', () => up.client?.socket.destroy());
  up.socket.on('close', () => up.client?.socket.destroy());
  return up;
}

function fromUpstream(up: Upstream, chunk: Buffer): void {
  const data = up.pending === null ? chunk : Buffer.concat([up.pending, chunk]);
  if (up.answerBytes < 0) {
    const end = data.indexOf(HEAD_END);
    if (end < 0) {
      up.pending = data;
      return;
    }
    const length = CONTENT_LENGTH.exec(data.toString('latin1', 0, end + 2));
    if (length === null) {
      up.socket.destroy();
      return;
    }
    up.answerBytes = end + 4 + Number(length[1]);
  }
  if (data.length < up.answerBytes) {
    up.pending = data;
    return;
  }
  // The backend's answer goes to the client as it came: its head already says keep-alive.
  const client = up.client!;
  client.socket.write(data.subarray(0, up.answerBytes));
  up.pending = null;
  up.answerBytes = -1;
  up.client = null;
  idle[up.backend]!.push(up);
  client.busy = false;
  nextRequest(client);
}

function nextRequest(client: Client): void {
  if (client.busy || client.pending === null) return;
  const data = client.pending;
  const end = data.indexOf(HEAD_END);
  if (end < 0) return;
  const head = data.toString('latin1', 0, end + 2);
  if (!head.startsWith('GET ') || CONTENT_LENGTH.test(head) || /\r\ntransfer-encoding:/i.test(head)) {
    client.socket.destroy();
    return;
  }
  client.pending = data.length > end + 4 ? data.subarray(end + 4) : null;
  client.busy = true;
  const up = takeUpstream(next);
  next = (next + 1) % backendPorts.length;
  up.client = client;
  up.socket.write(`${head.replace(HOP_BY_HOP, '')}X-Forwarded-For: ${client.socket.remoteAddress}\r\n\r\n`, 'latin1');
}

const server = createServer((socket) => {
  socket.setNoDelay(true);
  const client: Client = { socket, pending: null, busy: false };
  socket.on('data', (chunk: Buffer) => {
    client.pending = client.pending === null ? chunk : Buffer.concat([client.pending, chunk]);
    nextRequest(client);
  });
  socket.on('error', () => socket.destroy());
});
server.listen(Number(args.port), '127.0.0.1', () => {
  const { port } = server.address() as { port: number };
  process.stdout.write(JSON.stringify({ ready: true, port }) + '\n');
});
process.on('SIGTERM', () => process.exit(0));

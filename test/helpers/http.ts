/**
 * Helpers for the HTTP front end's tests: a broker with HTTP on, pools that serve HTTP, the
 * status page, raw sockets for byte-exact requests, tiny backends written in the test, and
 * waits that poll a condition (bounded), never a fixed sleep.
 */
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer, type IncomingMessage, type Server as HttpServer, type ServerResponse } from 'node:http';
import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Pool } from 'undici';
import { start, type Program, type StartOptions } from './programs.js';
import { waitFor } from './wait.js';

export { waitFor };

export interface HttpBroker {
  broker: Program;
  port: number;
  httpPort: number;
  origin: string;
}

/** Starts a broker with HTTP on a free port; `args` add to or override the defaults. */
export async function startHttpBroker(args: string[] = [], options: StartOptions = {}): Promise<HttpBroker> {
  const broker = start('broker', ['--port', '0', '--http-port', '0', ...args], options);
  const ready = await broker.ready;
  const httpPort = ready.http?.port as number;
  if (typeof httpPort !== 'number') throw new Error(`no http address in the ready line: ${JSON.stringify(ready)}`);
  return { broker, port: ready.packet.port as number, httpPort, origin: `http://127.0.0.1:${httpPort}` };
}

/** Starts a server pool whose servers also serve HTTP; resolves once all are registered. */
export async function startHttpPool(brokerPort: number, args: string[]): Promise<{ pool: Program; servers: Array<{ id: number; httpPort: number }> }> {
  const pool = start('pool', ['--broker', `127.0.0.1:${brokerPort}`, '--http', ...args]);
  const ready = await pool.ready;
  return { pool, servers: ready.servers };
}


/** GETs (or `method`s, with `body`) a URL on a fresh connection; resolves with status, headers and the body as text. */
export async function get(url: string, headers: Record<string, string> = {}, method = 'GET', send?: string): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  const target = new URL(url);
  const client = new Pool(target.origin, { connections: 1 });
  try {
    const res = await client.request({ path: target.pathname + target.search, method: method as 'GET', headers, ...(send !== undefined && { body: send }) });
    const body = await res.body.text();
    return { status: res.statusCode, headers: res.headers, body };
  } finally {
    await client.close();
  }
}

/** The broker's status page. */
export async function brokerStatus(httpPort: number, headers: Record<string, string> = {}): Promise<any> {
  const res = await get(`http://127.0.0.1:${httpPort}/_broker/status`, headers);
  if (res.status !== 200) throw new Error(`status answered ${res.status}: ${res.body}`);
  return JSON.parse(res.body);
}

/** The HTTP servers of one policy on the status page. */
export async function httpServersOf(httpPort: number, policy: number, headers: Record<string, string> = {}): Promise<any[]> {
  const status = await brokerStatus(httpPort, headers);
  return status.policies.find((p: any) => p.policy === policy)?.httpServers ?? [];
}

/** Waits until `policy` has `count` HTTP servers in a selectable state (connecting or up). */
export function waitForLiveHttpServers(httpPort: number, policy: number, count: number, headers: Record<string, string> = {}): Promise<any[]> {
  return waitFor(`${count} live HTTP servers for policy ${policy}`, async () => {
    const servers = await httpServersOf(httpPort, policy, headers);
    const live = servers.filter((s) => s.state === 'up' || s.state === 'connecting');
    return live.length === count ? servers : undefined;
  });
}

/** What a raw socket received. */
export interface RawResult {
  text: string;
  /** True when the peer closed the connection. */
  closed: boolean;
}

/**
 * Writes `bytes` on a new connection (one write) and collects what comes back until the peer
 * closes, `until` says the text is complete, or timeoutMs passes.
 */
export async function rawRequest(port: number, bytes: string | Buffer, options: { until?: (text: string) => boolean; timeoutMs?: number } = {}): Promise<RawResult> {
  const socket = connect({ port, host: '127.0.0.1' });
  await once(socket, 'connect');
  return new Promise((resolve) => {
    let text = '';
    let settled = false;
    const finish = (closed: boolean) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve({ text, closed });
    };
    const timer = setTimeout(() => finish(false), options.timeoutMs ?? 5000);
    socket.on('data', (data: Buffer) => {
      text += data.toString('latin1');
      if (options.until?.(text)) finish(false);
    });
    socket.on('error', () => undefined);
    socket.on('close', () => finish(true));
    socket.write(typeof bytes === 'string' ? Buffer.from(bytes, 'latin1') : bytes);
  });
}

/** One HTTP/1.1 response split out of raw bytes. */
export interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/**
 * Splits a byte stream of HTTP/1.1 responses (Content-Length, chunked, or bodiless 1xx/204/304)
 * into responses. Test-side only: enough for what the broker sends. Returns the whole ones.
 */
export function splitResponses(text: string): RawResponse[] {
  const responses: RawResponse[] = [];
  let at = 0;
  for (;;) {
    const headEnd = text.indexOf('\r\n\r\n', at);
    if (headEnd === -1) return responses;
    const lines = text.slice(at, headEnd).split('\r\n');
    const status = Number(lines[0]!.split(' ')[1]);
    const headers: Record<string, string> = {};
    for (const line of lines.slice(1)) {
      const colon = line.indexOf(':');
      headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
    }
    let bodyStart = headEnd + 4;
    let body = '';
    if (status < 200 || status === 204 || status === 304) {
      // no body
    } else if (headers['transfer-encoding'] === 'chunked') {
      for (;;) {
        const sizeEnd = text.indexOf('\r\n', bodyStart);
        if (sizeEnd === -1) return responses;
        const size = parseInt(text.slice(bodyStart, sizeEnd), 16);
        if (text.length < sizeEnd + 2 + size + 2) return responses;
        body += text.slice(sizeEnd + 2, sizeEnd + 2 + size);
        bodyStart = sizeEnd + 2 + size + 2;
        if (size === 0) break;
      }
    } else {
      const length = Number(headers['content-length'] ?? 0);
      if (text.length < bodyStart + length) return responses;
      body = text.slice(bodyStart, bodyStart + length);
      bodyStart += length;
    }
    responses.push({ status, headers, body });
    at = bodyStart;
  }
}

/** A backend written in the test with node:http; `handle` decides every answer. */
export async function httpBackend(handle: (req: IncomingMessage, res: ServerResponse) => void): Promise<{ server: HttpServer; port: number; close(): Promise<void> }> {
  const server = createHttpServer(handle);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    server,
    port: (server.address() as AddressInfo).port,
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

/** A backend written with raw sockets: `respond` gets the request head and the socket, and writes what it likes. */
export async function rawBackend(respond: (head: string, socket: Socket) => void): Promise<{ server: Server; port: number; requests: string[]; close(): Promise<void> }> {
  const requests: string[] = [];
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    let buffer = '';
    socket.on('data', (data: Buffer) => {
      buffer += data.toString('latin1');
      let end = buffer.indexOf('\r\n\r\n');
      while (end !== -1) {
        const head = buffer.slice(0, end);
        buffer = buffer.slice(end + 4);
        requests.push(head);
        respond(head, socket);
        end = buffer.indexOf('\r\n\r\n');
      }
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    server,
    port: (server.address() as AddressInfo).port,
    requests,
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

/** A temporary directory, removed by the returned function. */
export function tempDir(prefix: string): { dir: string; remove(): void } {
  const dir = mkdtempSync(path.join(tmpdir(), prefix));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Writes a servers.conf into `dir` and returns its path. */
export function writeServersConf(dir: string, servers: Array<{ ip?: string; port: number; policy?: number }>): string {
  const file = path.join(dir, 'servers.conf');
  writeFileSync(file, JSON.stringify({ backend_servers: servers.map((s) => ({ ip: s.ip ?? '127.0.0.1', ...s })) }));
  return file;
}

/** A port nothing listens on, held bound for the process's lifetime (see ports.ts). */
export { closedPort } from './ports.js';

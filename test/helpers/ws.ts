/**
 * WebSocket helpers for the upgrade tests, over the `ws` package: an echo backend that names
 * itself (as the pool's servers do), and a client that resolves on state, never on time.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import WebSocket, { WebSocketServer, type RawData } from 'ws';

export interface WsBackend {
  readonly port: number;
  readonly name: string;
  /** Upgrade requests it received, their headers. */
  readonly handshakes: Array<Record<string, string | string[] | undefined>>;
  /** Its open WebSockets. */
  readonly open: () => number;
  /** Bytes its WebSockets have queued and not yet handed to the kernel. */
  readonly buffered: () => number;
  /** Resets every connection, as a backend that dies does, and stops listening. */
  kill(): void;
  close(): Promise<void>;
}

/**
 * A WebSocket echo backend: text `name?` answers its name; `close CODE REASON` closes with that
 * code and reason; `flood N` sends N binary messages of 1 MiB at once; anything else (text or
 * binary) comes back as it was sent.
 * Plain HTTP requests get 200 with its name; `/refuse` upgrades get 403 with a body.
 */
export async function wsBackend(name: string): Promise<WsBackend> {
  const handshakes: WsBackend['handshakes'] = [];
  const sockets = new Set<Socket>();
  const server: Server = createServer((req, res) => {
    res.setHeader('x-server', name);
    res.end(`plain ${name}`);
  });
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  const wss = new WebSocketServer({ noServer: true });
  server.on('upgrade', (req, socket, head) => {
    handshakes.push(req.headers);
    if (req.url === '/refuse') {
      socket.end('HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain\r\nContent-Length: 11\r\nX-Server: ' + name + '\r\n\r\nnot for you');
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      ws.on('message', (data: RawData, isBinary: boolean) => {
        const text = isBinary ? undefined : data.toString();
        if (text === 'name?') return ws.send(name);
        const close = text === undefined ? null : /^close (\d+) (.*)$/.exec(text);
        if (close !== null) return ws.close(Number(close[1]), close[2]);
        const flood = text === undefined ? null : /^flood (\d+)$/.exec(text);
        if (flood !== null) {
          for (let i = 0; i < Number(flood[1]); i++) ws.send(Buffer.alloc(1 << 20, i));
          return;
        }
        ws.send(data, { binary: isBinary });
      });
    });
  });
  wss.on('headers', (headers) => headers.push(`X-Server: ${name}`));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    name,
    handshakes,
    open: () => wss.clients.size,
    buffered: () => [...wss.clients].reduce((n, ws) => n + ws.bufferedAmount, 0),
    kill() {
      server.close();
      for (const socket of sockets) socket.destroy();
    },
    async close() {
      for (const ws of wss.clients) ws.terminate();
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** What a handshake through the broker ended with: an open socket, or the answer that refused it. */
export type Opened = { ok: true; ws: WebSocket; headers: Record<string, string | string[] | undefined> } | { ok: false; status: number; headers: Record<string, string | string[] | undefined>; body: string };

/** Opens a WebSocket; resolves once it is open or refused (within `timeoutMs`). */
export function openWs(url: string, headers: Record<string, string> = {}, timeoutMs = 10_000): Promise<Opened> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers, handshakeTimeout: timeoutMs });
    let upgradeHeaders: Record<string, string | string[] | undefined> = {};
    ws.once('upgrade', (res) => (upgradeHeaders = res.headers));
    ws.once('open', () => resolve({ ok: true, ws, headers: upgradeHeaders }));
    ws.once('unexpected-response', (_req, res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ ok: false, status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString() }));
      res.on('error', reject);
    });
    ws.once('error', (err) => reject(err));
  });
}

/** Opens a WebSocket that must open. */
export async function mustOpen(url: string, headers: Record<string, string> = {}): Promise<WebSocket> {
  const r = await openWs(url, headers);
  if (!r.ok) throw new Error(`the handshake was refused: ${r.status} ${r.body}`);
  return r.ws;
}

/** Sends a message and resolves with the next one received. */
export function ask(ws: WebSocket, data: string | Buffer): Promise<{ data: Buffer; binary: boolean }> {
  return new Promise((resolve, reject) => {
    const onClose = (): void => reject(new Error('closed before an answer'));
    ws.once('message', (message: RawData, binary: boolean) => {
      ws.off('close', onClose);
      resolve({ data: Buffer.isBuffer(message) ? message : Buffer.from(message as ArrayBuffer), binary });
    });
    ws.once('close', onClose);
    ws.send(data, { binary: typeof data !== 'string' });
  });
}

/** Resolves with the close code and reason once the socket has closed. */
export function closed(ws: WebSocket): Promise<{ code: number; reason: string }> {
  if (ws.readyState === WebSocket.CLOSED) return Promise.resolve({ code: 1006, reason: '' });
  return new Promise((resolve) => ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() })));
}

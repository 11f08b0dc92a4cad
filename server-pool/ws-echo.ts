/**
 * The WebSocket side of a server's HTTP port (policy-server-pool --http): an echo that names the
 * server, so that labs and tests can see policies and failover over WebSockets. On opening, the
 * server sends one text message, {"server":id,"policy":p,"host":…}; after that every message
 * comes back as it was sent, text or binary. The 101 carries X-Server-Id and X-Policy like every
 * HTTP answer. Messages are limited to MAX_MESSAGE_BYTES (larger: closed with 1009).
 */
import type { IncomingMessage, Server } from 'node:http';
import { hostname } from 'node:os';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type RawData, type WebSocket } from 'ws';
import type { Logger } from '../broker/support/logger.js';

const MAX_MESSAGE_BYTES = 16 * 1024 * 1024;

export class WebSocketEcho {
  /** WebSockets opened. */
  opened = 0;
  private readonly wss = new WebSocketServer({ noServer: true, maxPayload: MAX_MESSAGE_BYTES });
  private readonly hello: string;

  constructor(
    server: Server,
    private readonly settings: { serverId: number; policy: number; logger: Logger },
  ) {
    this.hello = JSON.stringify({ server: settings.serverId, policy: settings.policy, host: hostname() });
    this.wss.on('headers', (headers) => headers.push(`X-Server-Id: ${settings.serverId}`, `X-Policy: ${settings.policy}`));
    server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => this.onUpgrade(req, socket, head));
  }

  /** Open WebSockets. */
  get open(): number {
    return this.wss.clients.size;
  }

  /** Closes every WebSocket (1001, going away). */
  closeAll(): void {
    for (const ws of this.wss.clients) ws.close(1001, 'server stopping');
  }

  private onUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on('error', () => undefined);
    // ws answers a handshake it cannot take (no key, another token) with 400 itself.
    this.wss.handleUpgrade(req, socket, head, (ws) => this.onOpen(ws));
  }

  private onOpen(ws: WebSocket): void {
    this.opened++;
    this.settings.logger.debug('WebSocket open', { id: this.settings.serverId });
    ws.on('error', () => undefined);
    ws.on('message', (data: RawData, isBinary: boolean) => ws.send(data, { binary: isBinary }));
    ws.send(this.hello);
  }
}

/**
 * An upgraded connection (a WebSocket, after its 101): the client's socket and the backend's,
 * piped both ways without reading what goes through. Each direction pauses its source while the
 * other side's buffer is full, so a tunnel holds at most a socket buffer each way. An end (FIN)
 * on one side ends the other's writing side; a reset or error on one side destroys the other
 * (a reset is passed on as a reset where the socket can send one). No bytes either way for
 * `idleMs` closes both; close() (the drain) does too.
 */
import { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { TLSSocket } from 'node:tls';
import type { UpgradeTotals } from './upgrade-counters.js';

export class Tunnel {
  private closedSides = 0;
  private finished = false;

  constructor(
    private readonly client: Duplex,
    private readonly backend: Duplex,
    private readonly totals: UpgradeTotals,
    /** Called once, when both sockets are closed. */
    private readonly onClosed: (tunnel: Tunnel) => void,
  ) {}

  /**
   * Starts relaying. `fromClient` is what the client sent after its request head, `fromBackend`
   * what the backend sent after its 101; both go first. 0 = no idle limit.
   */
  start(fromClient: Buffer, fromBackend: Buffer, idleMs: number): void {
    const { client, backend } = this;
    if (fromBackend.length > 0) this.toClient(fromBackend);
    if (fromClient.length > 0) this.toBackend(fromClient);
    this.pump(client, backend, (n) => (this.totals.bytesToBackend += n));
    this.pump(backend, client, (n) => (this.totals.bytesToClient += n));
    // The client's socket sees both directions (it reads one and writes the other).
    // (It replaces the HTTP server's --http-socket-timeout: an idle WebSocket outlives it.)
    if (client instanceof Socket) {
      client.setTimeout(idleMs);
      if (idleMs > 0) client.on('timeout', () => this.close());
    }
    for (const [side, other] of [
      [client, backend],
      [backend, client],
    ] as const) {
      side.on('error', () => undefined);
      side.once('close', () => this.sideClosed(side, other));
    }
    client.resume();
    backend.resume();
  }

  /** Closes both sides now (drain, idle). */
  close(): void {
    this.client.destroy();
    this.backend.destroy();
  }

  private toClient(chunk: Buffer): void {
    this.totals.bytesToClient += chunk.length;
    this.client.write(chunk);
  }

  private toBackend(chunk: Buffer): void {
    this.totals.bytesToBackend += chunk.length;
    this.backend.write(chunk);
  }

  /** Relays `from` to `to` with backpressure; an end of `from` ends `to`. */
  private pump(from: Duplex, to: Duplex, count: (n: number) => void): void {
    let waiting = false;
    const resume = (): void => {
      waiting = false;
      from.resume();
    };
    from.on('data', (chunk: Buffer) => {
      count(chunk.length);
      if (!to.write(chunk) && !waiting) {
        waiting = true;
        from.pause();
        to.once('drain', resume);
      }
    });
    from.once('end', () => {
      if (!to.destroyed) to.end();
    });
  }

  private sideClosed(side: Duplex, other: Duplex): void {
    // Closed without both ends seen: a reset, an error or a destroy. The other side gets a reset too.
    if (!other.destroyed && !(side.readableEnded && side.writableFinished)) reset(other);
    if (++this.closedSides === 2 && !this.finished) {
      this.finished = true;
      this.onClosed(this);
    }
  }
}

/** Destroys a socket with a TCP reset where it has one (plain TCP), else closes it. */
function reset(socket: Duplex): void {
  if (socket instanceof Socket && !(socket instanceof TLSSocket) && typeof socket.resetAndDestroy === 'function') {
    socket.resetAndDestroy();
  } else {
    socket.destroy();
  }
}

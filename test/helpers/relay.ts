/**
 * A TCP relay in front of a port that the test can freeze: from then on every byte either way
 * is dropped while every connection stays open, which is what a cut link looks like to both
 * ends (no error, no close, just silence).
 */
import { once } from 'node:events';
import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';

export class FreezableRelay {
  private frozen = false;
  private readonly sockets = new Set<Socket>();
  /** What came back from the target, as text, when recording. */
  fromTarget = '';

  private constructor(
    private readonly server: Server,
    private readonly record: boolean,
  ) {}

  /** A relay on a free loopback port to 127.0.0.1:targetPort; `record` keeps what the target sends. */
  static async start(targetPort: number, record = false): Promise<FreezableRelay> {
    const server = createServer();
    const relay = new FreezableRelay(server, record);
    server.on('connection', (inbound) => relay.relay(inbound, targetPort));
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    return relay;
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  /** Drops every byte from now on, either way; connections stay open. */
  freeze(): void {
    this.frozen = true;
  }

  close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  private relay(inbound: Socket, targetPort: number): void {
    const outbound = connect(targetPort, '127.0.0.1');
    for (const socket of [inbound, outbound]) {
      this.sockets.add(socket);
      socket.on('error', () => undefined);
      socket.on('close', () => {
        this.sockets.delete(socket);
        // Before the freeze a close goes through, as on a live link; after it, nothing does.
        if (!this.frozen) (socket === inbound ? outbound : inbound).destroy();
      });
    }
    inbound.on('data', (chunk) => {
      if (!this.frozen) outbound.write(chunk);
    });
    outbound.on('data', (chunk) => {
      if (this.frozen) return;
      if (this.record) this.fromTarget += chunk.toString('utf8');
      inbound.write(chunk);
    });
  }
}

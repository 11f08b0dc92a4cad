/**
 * The classic lab scripts, re-enacted byte for byte as they behave: numbers as strings, no
 * newline after a packet, a registration connection closed at once, a listener opened only
 * after registering, and one broker connection served at a time, one packet at a time.
 */
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { connect, createServer, type AddressInfo, type Server } from 'node:net';

export function sha1(text: string): string {
  return createHash('sha1').update(text).digest('hex');
}

/** A free loopback port, found by binding to port 0 and letting it go. */
export async function freePort(): Promise<number> {
  const probe = createServer().listen(0, '127.0.0.1');
  await once(probe, 'listening');
  const { port } = probe.address() as AddressInfo;
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

export class ClassicServer {
  served = 0;
  listener: Server | undefined;
  private readonly sockets = new Set<import('node:net').Socket>();

  private constructor(
    readonly id: string,
    readonly port: number,
  ) {}

  /** Registers, closes the registration, then starts listening only after `listenDelayMs`. */
  static async start(id: number, policy: number, brokerPort: number, listenDelayMs: number): Promise<ClassicServer> {
    const port = await freePort();
    const server = new ClassicServer(String(id), port);
    const registration = connect({ port: brokerPort, host: '127.0.0.1' });
    await once(registration, 'connect');
    registration.resume(); // read and ignore the broker's answer, as the classic script does
    registration.end(JSON.stringify({ type: '1', id: String(id), privPolyId: String(policy), listenport: String(port) }));
    await once(registration, 'close');
    await new Promise((resolve) => setTimeout(resolve, listenDelayMs));
    // One connection at a time, like `listen(1)` followed by a blocking accept loop.
    const listener = createServer({ pauseOnConnect: false });
    listener.maxConnections = 1;
    listener.on('connection', (socket) => {
      server.sockets.add(socket);
      socket.on('close', () => server.sockets.delete(socket));
      socket.on('error', () => undefined);
      socket.on('data', (data) => {
        const message = JSON.parse(data.toString());
        const hash = sha1(message.payload);
        server.served++;
        socket.write(JSON.stringify({ type: '2', srcid: server.id, destid: message.srcid, payloadsize: hash.length, payload: hash }));
      });
    });
    listener.listen(port, '127.0.0.1');
    await once(listener, 'listening');
    server.listener = listener;
    return server;
  }

  /** Stops like a killed process: listener and connections gone. */
  close(): void {
    this.listener?.close();
    for (const socket of this.sockets) socket.destroy();
  }
}

/** One classic client exchange: a packet with string fields and no newline, then one answer. */
export async function classicRequest(brokerPort: number, srcid: number, policy: number, payload: string): Promise<any> {
  const socket = connect({ port: brokerPort, host: '127.0.0.1' });
  await once(socket, 'connect');
  socket.write(JSON.stringify({ type: '0', srcid: String(srcid), privPoliId: String(policy), payload }));
  const [data] = (await once(socket, 'data')) as [Buffer];
  socket.destroy();
  return JSON.parse(data.toString());
}

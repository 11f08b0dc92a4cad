/**
 * Whether this runtime can bind several listening sockets to one port (SO_REUSEPORT through
 * `server.listen({ reusePort: true })`: Node 22.12 and later, on Linux 3.9+ and a few other
 * kernels). Detected by doing it once on loopback, not read from the version string: an older
 * Node ignores the option and the second bind fails with EADDRINUSE, and a kernel without
 * SO_REUSEPORT refuses it the same way.
 */
import { createServer, type AddressInfo, type ListenOptions, type Server } from 'node:net';

let detected: Promise<boolean> | undefined;

/** True when two sockets of this process can listen on one port at once; asked once a process. */
export function reusePortSupported(): Promise<boolean> {
  detected ??= probe();
  return detected;
}

async function probe(): Promise<boolean> {
  // exclusive: in a --workers worker a listen otherwise goes through node:cluster, which hands
  // out the socket it already holds for the same address and port 0, the HTTP port itself: the
  // probe would accept (and never answer) the clients' connections while it listens.
  const first = await tryListen({ host: '127.0.0.1', port: 0, reusePort: true, exclusive: true });
  if (first === undefined) return false;
  const second = await tryListen({ host: '127.0.0.1', port: (first.address() as AddressInfo).port, reusePort: true, exclusive: true });
  first.close();
  second?.close();
  return second !== undefined;
}

function tryListen(options: ListenOptions & { reusePort: boolean }): Promise<Server | undefined> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(undefined));
    server.listen(options, () => resolve(server));
  });
}

/** What every listener of this process binds with: the sockets per port, the backlog, and SO_REUSEPORT. */
export interface ListenPlan {
  sockets: number;
  backlog: number;
  reusePort: boolean;
}

let warned = false;

/**
 * The listening sockets per port this runtime can have: `wanted` with SO_REUSEPORT, else one,
 * with one warning a process naming what is lost.
 */
export async function listenPlan(wanted: { listenSockets: number; listenBacklog: number }, log: { warn(message: string, meta?: object): void }): Promise<ListenPlan> {
  const reusePort = await reusePortSupported();
  if (!reusePort && wanted.listenSockets > 1 && !warned) {
    warned = true;
    log.warn('new connections are accepted one per event-loop turn: bursts wait; use Node 22.12 or later', {
      node: process.version,
      listenSockets: 1,
      asked: wanted.listenSockets,
    });
  }
  return { sockets: reusePort ? wanted.listenSockets : 1, backlog: wanted.listenBacklog, reusePort };
}

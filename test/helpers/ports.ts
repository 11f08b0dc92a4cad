/**
 * Loopback ports that refuse connections for the whole test process.
 *
 * "Bind to port 0, close, use the number" is not a closed port: once released, any other process
 * (another test file under --test-concurrency, a build, a broker) may be given the same number
 * and listen on it, and then the "closed" port answers. A port is only reliably closed while a
 * socket holds it bound without listening: the kernel then refuses connections to it (RST,
 * ECONNREFUSED) and refuses to bind it to anyone else (EADDRINUSE). Node has no public API for a
 * bound TCP socket that does not listen, so a small python3 child (already needed by the grade
 * tests) holds the sockets; it exits when its stdin closes, that is when this process ends.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import type { Socket } from 'node:net';

/** Binds without SO_REUSEADDR and never listens; prints the ports, one line, then waits for EOF. */
const HOLDER = `
import socket, sys
held = []
for _ in range(int(sys.argv[1])):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(('127.0.0.1', 0))
    held.append(s)
print(' '.join(str(s.getsockname()[1]) for s in held), flush=True)
sys.stdin.read()
`;

/** `count` distinct loopback ports, each held bound (not listening) until this process exits. */
export async function closedPorts(count: number): Promise<number[]> {
  const holder = spawn('python3', ['-c', HOLDER, String(count)], { stdio: ['pipe', 'pipe', 'inherit'] });
  let line = '';
  holder.stdout.setEncoding('utf8');
  holder.stdout.on('data', (chunk: string) => (line += chunk));
  const exited = once(holder, 'exit').then(([code]) => {
    throw new Error(`the port holder exited (code ${String(code)}) before printing its ports`);
  });
  const printed = (async () => {
    while (!line.includes('\n')) await once(holder.stdout, 'data');
  })();
  await Promise.race([printed, exited, once(holder, 'error').then(([err]) => Promise.reject(err as Error))]);
  exited.catch(() => undefined);
  // Held for the process's lifetime without keeping it alive: its stdin closes when we exit.
  holder.unref();
  (holder.stdin as unknown as Socket).unref();
  (holder.stdout as unknown as Socket).unref();
  const ports = line.trim().split(' ').map(Number);
  if (ports.length !== count || ports.some((port) => !(port > 0))) throw new Error(`the port holder printed ${JSON.stringify(line)}`);
  return ports;
}

/** One loopback port that refuses connections until this process exits. */
export async function closedPort(): Promise<number> {
  return (await closedPorts(1))[0]!;
}

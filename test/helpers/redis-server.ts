/**
 * A real redis-server (Debian's) for one test file, on a free loopback port, without
 * persistence: started by the test, stopped at its end. It can be restarted on the same port
 * (it comes back empty, as a Redis without persistence does) and paused with DEBUG SLEEP.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { connect, createServer, type AddressInfo } from 'node:net';
import { after } from 'node:test';
import { createClient } from 'redis';

export interface TestRedis {
  readonly port: number;
  /** redis://127.0.0.1:PORT */
  readonly url: string;
  /** Runs one command on a fresh connection and returns its reply. */
  command(args: string[]): Promise<unknown>;
  /** Stops the server (SIGKILL: nothing is saved anyway). */
  stop(): Promise<void>;
  /** Starts it again on the same port, empty. */
  restart(): Promise<void>;
  /** Makes it answer nothing for `seconds` (DEBUG SLEEP); resolves when it answers again. */
  pause(seconds: number): Promise<void>;
}

/** Starts a redis-server with `extraArgs` (e.g. ['--requirepass', 'x']); stopped after the file's tests. */
export async function startRedis(extraArgs: string[] = []): Promise<TestRedis> {
  let child: ChildProcess | undefined;
  let port = 0;
  for (let attempt = 0; ; attempt++) {
    port = await freePort();
    try {
      child = await launch(port, extraArgs);
      break;
    } catch (err) {
      // Another process took the port between our probe and redis-server's bind: try another.
      if (attempt >= 4) throw err;
    }
  }
  const password = extraArgs[extraArgs.indexOf('--requirepass') + 1];
  const auth = extraArgs.includes('--requirepass') ? `:${password}@` : '';
  const url = `redis://${auth}127.0.0.1:${port}`;
  const stop = async (): Promise<void> => {
    const c = child;
    child = undefined;
    if (c === undefined || c.exitCode !== null || c.signalCode !== null) return;
    const exited = new Promise((resolve) => c.once('exit', resolve));
    c.kill('SIGKILL');
    await exited;
  };
  after(stop);
  const command = async (args: string[]): Promise<unknown> => {
    const client = createClient({ url, socket: { reconnectStrategy: false } });
    client.on('error', () => undefined);
    await client.connect();
    try {
      return await client.sendCommand(args);
    } finally {
      client.destroy();
    }
  };
  return {
    port,
    url,
    command,
    stop,
    async restart() {
      await stop();
      child = await launch(port, extraArgs);
    },
    async pause(seconds: number) {
      await command(['DEBUG', 'SLEEP', String(seconds)]);
    },
  };
}

export async function launch(port: number, extraArgs: string[]): Promise<ChildProcess> {
  const child = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--enable-debug-command', 'local', ...extraArgs],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  child.stdout!.setEncoding('utf8').on('data', (text: string) => (output += text));
  child.stderr!.setEncoding('utf8').on('data', (text: string) => (output += text));
  let exitCode: number | null | undefined;
  child.once('exit', (code) => (exitCode = code));
  // Ready when it answers PING (not when its log says so).
  const deadline = Date.now() + 10_000;
  while (!(await answersPing(port))) {
    if (exitCode !== undefined) throw new Error(`redis-server on port ${port} exited with ${exitCode}: ${output.slice(-1000)}`);
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`redis-server on port ${port} not ready within 10 s: ${output.slice(-1000)}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return child;
}

/** True when something on the port answers PING as Redis does (+PONG, or -NOAUTH with a password). */
export function answersPing(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    let reply = '';
    const done = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1000, () => done(false));
    socket.once('error', () => done(false));
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.setEncoding('utf8').on('data', (text: string) => {
      reply += text;
      if (reply.includes('\r\n')) done(reply.startsWith('+PONG') || reply.startsWith('-NOAUTH'));
    });
  });
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/**
 * A real redis-server (Debian's) for one test file, on a free loopback port, without
 * persistence: started by the test, stopped at its end. It can be restarted on the same port
 * (it comes back empty, as a Redis without persistence does) and paused with DEBUG SLEEP.
 */
import type { ChildProcess } from 'node:child_process';
import { after } from 'node:test';
import { freePort, launch, oneCommand } from '../../scripts/lib/redis-nodes.js';

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
  const command = (args: string[]): Promise<unknown> => oneCommand(url, args);
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

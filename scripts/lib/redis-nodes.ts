/**
 * Real Redis processes on free loopback ports, without persistence, for the tests and the
 * benchmarks: one redis-server (launch), or a primary, a replica and three redis-sentinels
 * (launchSentinels, Debian's), which can lose the primary (SIGKILL), promote the replica and
 * take the old primary back as a replica. The caller stops what it started (the test helpers do
 * it with node:test's `after`, the bench suite when it ends).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createClient } from 'redis';

/** Runs one command on a fresh connection to `url` (no reconnects) and returns its reply. */
export async function oneCommand(url: string, args: string[]): Promise<unknown> {
  const client = createClient({ url, socket: { reconnectStrategy: false, connectTimeout: 1000 } });
  client.on('error', () => undefined);
  await client.connect();
  try {
    return await client.sendCommand(args);
  } finally {
    client.destroy();
  }
}

/** Starts a redis-server on `port` with `extraArgs`; resolves once it answers PING. */
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

export interface Sentinels {
  readonly name: string;
  /** redis+sentinel://127.0.0.1:S1,127.0.0.1:S2,127.0.0.1:S3/NAME */
  readonly url: string;
  /** The port of the primary the Sentinels name now. */
  primaryPort(): Promise<number>;
  /** SIGKILLs the process on `port` (a Redis node); resolves when it is gone. */
  kill(port: number): Promise<void>;
  /** Starts the Redis node of `port` again, empty (the Sentinels make it a replica of the primary). */
  restart(port: number): Promise<void>;
  /** Resolves with the new primary's port once every Sentinel names one other than `old` and it answers as a primary. */
  failedOver(old: number, timeoutMs: number): Promise<number>;
  /** Runs one command on the Redis node of `port`. */
  command(port: number, args: string[]): Promise<unknown>;
}

/**
 * Starts a primary, a replica and three Sentinels monitoring them under `name`; ready when all
 * three Sentinels see the replica and each other. `started` is called at once with the stop of
 * everything, so that a start that fails half-way leaves nothing behind either.
 */
export async function launchSentinels(name: string, downAfterMs: number, started: (stop: () => Promise<void>) => void): Promise<Sentinels> {
  const dir = mkdtempSync(path.join(tmpdir(), 'policy-broker-sentinel-'));
  const nodes = new Map<number, ChildProcess>();
  const sentinels: ChildProcess[] = [];
  const stopAll = async (): Promise<void> => {
    await Promise.all([...nodes.values(), ...sentinels].map(killed));
    rmSync(dir, { recursive: true, force: true });
  };
  started(stopAll);
  // A replica writes the RDB it loads into its directory: the temporary one, not the cwd.
  const REDIS_ARGS = ['--save', '', '--appendonly', 'no', '--dir', dir];
  const primary = await freePort();
  nodes.set(primary, await launch(primary, REDIS_ARGS));
  const replica = await freePort();
  nodes.set(replica, await launch(replica, [...REDIS_ARGS, '--replicaof', '127.0.0.1', String(primary)]));
  const sentinelPorts: number[] = [];
  for (let i = 0; i < 3; i++) {
    const port = await freePort();
    const conf = path.join(dir, `sentinel-${port}.conf`);
    writeFileSync(
      conf,
      [
        'bind 127.0.0.1',
        `port ${port}`,
        `dir ${dir}`,
        `sentinel monitor ${name} 127.0.0.1 ${primary} 2`,
        `sentinel down-after-milliseconds ${name} ${downAfterMs}`,
        `sentinel failover-timeout ${name} 10000`,
        `sentinel parallel-syncs ${name} 1`,
        '',
      ].join('\n'),
    );
    const child = spawn('redis-sentinel', [conf], { stdio: ['ignore', 'ignore', 'ignore'] });
    sentinels.push(child);
    sentinelPorts.push(port);
    await until(() => answersPing(port), 10_000, `redis-sentinel on ${port}`);
  }
  const ask = (port: number, args: string[]): Promise<unknown> => oneCommand(`redis://127.0.0.1:${port}`, args);
  const masterInfo = async (port: number): Promise<Record<string, string>> => {
    // A map in RESP3, a flat list of fields and values in RESP2.
    const reply = (await ask(port, ['SENTINEL', 'MASTER', name])) as string[] | Record<string, string>;
    if (!Array.isArray(reply)) return reply;
    const info: Record<string, string> = {};
    for (let i = 0; i + 1 < reply.length; i += 2) info[reply[i]!] = reply[i + 1]!;
    return info;
  };
  await until(
    async () => {
      for (const port of sentinelPorts) {
        const info = await masterInfo(port);
        if (info['num-slaves'] !== '1' || info['num-other-sentinels'] !== '2') return false;
      }
      const replication = String(await ask(replica, ['INFO', 'replication']));
      return replication.includes('master_link_status:up');
    },
    30_000,
    'the Sentinels seeing the replica and each other',
  );
  const primaryPort = async (): Promise<number> => {
    const [, port] = (await ask(sentinelPorts[0]!, ['SENTINEL', 'GET-MASTER-ADDR-BY-NAME', name])) as string[];
    return Number(port);
  };
  return {
    name,
    url: `redis+sentinel://${sentinelPorts.map((p) => `127.0.0.1:${p}`).join(',')}/${name}`,
    primaryPort,
    async kill(port) {
      const child = nodes.get(port);
      nodes.delete(port);
      if (child !== undefined) await killed(child);
    },
    async restart(port) {
      nodes.set(port, await launch(port, REDIS_ARGS));
    },
    async failedOver(old, timeoutMs) {
      let now = old;
      await until(
        async () => {
          for (const port of sentinelPorts) {
            const [, p] = (await ask(port, ['SENTINEL', 'GET-MASTER-ADDR-BY-NAME', name])) as string[];
            if (Number(p) === old) return false;
            now = Number(p);
          }
          const role = (await ask(now, ['ROLE'])) as unknown[];
          return role[0] === 'master';
        },
        timeoutMs,
        `a failover away from ${old}`,
      );
      return now;
    },
    command: ask,
  };
}

async function killed(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGKILL');
  await exited;
}

/** Polls `check` (its failures count as false) until true, or throws after `timeoutMs`. */
async function until(check: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check().catch(() => false)) return;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

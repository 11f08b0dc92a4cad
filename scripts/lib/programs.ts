/**
 * Starts the real programs (dist/…/main.js) as child processes and waits for their ready line
 * on stdout, never for a fixed time. Every child is killed when the parent exits. Used by the
 * demo, the benchmarks and the tests.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
export const PROGRAMS = {
  broker: path.join(REPO_ROOT, 'dist/broker/main.js'),
  pool: path.join(REPO_ROOT, 'dist/server-pool/main.js'),
  client: path.join(REPO_ROOT, 'dist/client/main.js'),
  grade: path.join(REPO_ROOT, 'dist/scripts/grade/main.js'),
} as const;

/**
 * The node flags of a program's `#!/usr/bin/env -S node …` line (none for a plain
 * `#!/usr/bin/env node`): the one place they are written. Every launcher passes them to node
 * (this file, scripts/lib/common.sh's node_flags for the shell scripts); the Docker image runs
 * the files themselves.
 */
export function shebangFlags(file: string): string[] {
  const first = readFileSync(file, 'utf8').split('\n', 1)[0]!;
  const match = /^#!\/usr\/bin\/env -S node (.+)$/.exec(first);
  return match === null ? [] : match[1]!.trim().split(/\s+/);
}

const running = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

export interface Program {
  readonly child: ChildProcess;
  /** Every stdout line so far. */
  readonly lines: string[];
  /** Everything written to stderr so far. */
  stderr(): string;
  /** The first stdout line that parses as JSON with ready: true. */
  readonly ready: Promise<Record<string, any>>;
  /** Resolves with the exit code once the process has ended. */
  readonly exited: Promise<number | null>;
  /** Sends a signal and waits for the exit. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

export interface StartOptions {
  env?: Record<string, string>;
  readyTimeoutMs?: number;
  /** Log level of the child (default warn: quiet unless something is wrong). */
  logLevel?: string;
  /** Run it inside this network namespace (`ip netns exec`, which then execs node: signals reach node). */
  netns?: string;
}

/** Starts one of the three programs with arguments; logs are silenced unless args say otherwise. */
export function start(program: keyof typeof PROGRAMS, args: string[], options: StartOptions = {}): Program {
  const command = [process.execPath, ...shebangFlags(PROGRAMS[program]), PROGRAMS[program], ...args];
  if (options.netns !== undefined) command.unshift('ip', 'netns', 'exec', options.netns);
  const child = spawn(command[0]!, command.slice(1), {
    env: {
      ...process.env,
      POLICY_BROKER_LOG_LEVEL: options.logLevel ?? 'warn',
      POLICY_SERVER_POOL_LOG_LEVEL: options.logLevel ?? 'warn',
      POLICY_CLIENT_LOG_LEVEL: options.logLevel ?? 'warn',
      ...options.env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
    // No console window per program on Windows (npm run simulate runs there too).
    windowsHide: true,
  });
  running.add(child);
  const lines: string[] = [];
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (text: string) => {
    stderr += text;
  });
  const exited = new Promise<number | null>((resolve) => {
    child.once('exit', (code) => {
      running.delete(child);
      resolve(code);
    });
  });
  const ready = new Promise<Record<string, any>>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`${program} not ready within ${options.readyTimeoutMs ?? 15000} ms; stderr: ${stderr.slice(-2000)}`)),
      options.readyTimeoutMs ?? 15000,
    );
    createInterface({ input: child.stdout! }).on('line', (line) => {
      lines.push(line);
      if (!line.startsWith('{')) return;
      try {
        const value = JSON.parse(line) as Record<string, any>;
        if (value.ready === true) {
          clearTimeout(timer);
          resolve(value);
        }
      } catch {
        // not the ready line
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`${program} exited with ${code} before it was ready; stderr: ${stderr.slice(-2000)}`));
    });
  });
  ready.catch(() => undefined);
  return {
    child,
    lines,
    stderr: () => stderr,
    ready,
    exited,
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}

/** Runs a program to completion (bounded) and returns its exit code and output. */
export async function run(
  program: keyof typeof PROGRAMS,
  args: string[],
  options: StartOptions & { timeoutMs?: number } = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const p = start(program, args, options);
  const timer = setTimeout(() => p.child.kill('SIGKILL'), options.timeoutMs ?? 60000);
  const code = await p.exited;
  clearTimeout(timer);
  // Let readline deliver the last lines.
  if (!p.child.stdout!.readableEnded) await once(p.child.stdout!, 'end').catch(() => undefined);
  return { code, stdout: p.lines.join('\n'), stderr: p.stderr() };
}

/** Starts a broker on a free loopback port; resolves with it and its port. */
export async function startBroker(args: string[] = [], options: StartOptions = {}): Promise<{ broker: Program; port: number }> {
  const broker = start('broker', ['--port', '0', ...args], options);
  const ready = await broker.ready;
  return { broker, port: ready.packet.port as number };
}

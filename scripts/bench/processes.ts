/**
 * The benchmark's processes: the bench's own Node children and the peers' binaries (nginx,
 * HAProxy, nats-server, wrk), started and waited for properly, killed on exit; and what /proc
 * says about them (CPU time, RSS). The broker and the server pools are started through
 * scripts/lib/programs.ts like everywhere else.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { REPO_ROOT } from '../lib/programs.js';

export const BENCH_DIST = path.join(REPO_ROOT, 'dist/scripts/bench');

const running = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of running) killTree(child, 'SIGKILL');
});

export interface Child {
  readonly child: ChildProcess;
  readonly pid: number;
  /** Every stdout line so far. */
  readonly lines: string[];
  stderr(): string;
  readonly exited: Promise<number | null>;
  /** Signals the process (and its process group) and waits for it to end (SIGKILL after 3 s). */
  stop(signal?: NodeJS.Signals): Promise<void>;
}

export interface SpawnOptions {
  env?: Record<string, string>;
  cwd?: string;
}

/** Starts a program in its own process group, so that stop() also ends what it forks (nginx workers). */
export function spawnChild(command: string, args: string[], options: SpawnOptions = {}): Child {
  const child = spawn(command, args, {
    env: { ...process.env, ...options.env },
    cwd: options.cwd,
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  running.add(child);
  const lines: string[] = [];
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (text: string) => {
    stderr = (stderr + text).slice(-20000);
  });
  createInterface({ input: child.stdout! }).on('line', (line) => lines.push(line));
  const exited = new Promise<number | null>((resolve) => {
    child.once('error', (err) => {
      stderr += String(err);
      running.delete(child);
      resolve(null);
    });
    child.once('exit', (code) => {
      running.delete(child);
      resolve(code);
    });
  });
  return {
    child,
    pid: child.pid ?? -1,
    lines,
    stderr: () => stderr,
    exited,
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      if (child.exitCode !== null || child.signalCode !== null) return;
      killTree(child, signal);
      const timer = setTimeout(() => killTree(child, 'SIGKILL'), 3000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** Starts one of the bench's Node programs (dist/scripts/bench/NAME.js). */
export function spawnBenchScript(name: string, args: string[], options: SpawnOptions = {}): Child {
  return spawnChild(process.execPath, [path.join(BENCH_DIST, `${name}.js`), ...args], options);
}

/** Waits for the first stdout line that is JSON with ready: true. */
export async function readyLine(child: Child, timeoutMs = 60000): Promise<Record<string, any>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    for (const line of child.lines) {
      if (!line.startsWith('{')) continue;
      try {
        const value = JSON.parse(line) as Record<string, any>;
        if (value.ready === true) return value;
      } catch {
        // not the ready line
      }
    }
    if (child.child.exitCode !== null || child.child.signalCode !== null) {
      throw new Error(`${child.child.spawnfile} exited before it was ready: ${child.stderr().slice(-1000)}`);
    }
    if (Date.now() > deadline) throw new Error(`${child.child.spawnfile} not ready within ${timeoutMs} ms`);
    await sleep(20);
  }
}

/** Runs a program to its end (killed after timeoutMs) and returns its output. */
export async function runChild(command: string, args: string[], timeoutMs: number, options: SpawnOptions = {}) {
  const child = spawnChild(command, args, options);
  const timer = setTimeout(() => killTree(child.child, 'SIGKILL'), timeoutMs);
  const code = await child.exited;
  clearTimeout(timer);
  await sleep(10); // let readline hand over the last lines
  return { code, stdout: child.lines.join('\n'), stderr: child.stderr() };
}

/** Resolves once host:port accepts a TCP connection. */
export async function waitForPort(port: number, timeoutMs = 15000, child?: Child): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await canConnect(port))) {
    if (child !== undefined && (child.child.exitCode !== null || child.child.signalCode !== null)) {
      throw new Error(`${child.child.spawnfile} exited: ${child.stderr().slice(-1000)}`);
    }
    if (Date.now() > deadline) throw new Error(`nothing listening on 127.0.0.1:${port} after ${timeoutMs} ms`);
    await sleep(20);
  }
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port }, () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** A loopback port free right now (bound and released). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function killTree(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    try {
      child.kill(signal);
    } catch {
      // already gone
    }
  }
}

// ---------------------------------------------------------------- /proc

const CLOCK_TICKS_PER_SECOND = 100;

/** The process and all its descendants. */
export function processTree(pid: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = readStat(Number(entry));
    if (stat === undefined) continue;
    const list = children.get(stat.ppid) ?? [];
    list.push(Number(entry));
    children.set(stat.ppid, list);
  }
  const tree: number[] = [];
  const visit = (p: number): void => {
    tree.push(p);
    for (const c of children.get(p) ?? []) visit(c);
  };
  visit(pid);
  return tree;
}

/** CPU seconds (user + system) used so far by these processes. */
export function cpuSeconds(pids: readonly number[]): number {
  let ticks = 0;
  for (const pid of pids) ticks += readStat(pid)?.ticks ?? 0;
  return ticks / CLOCK_TICKS_PER_SECOND;
}

/** Resident set size of a process, in bytes (0 when it is gone). */
export function rssBytes(pid: number): number {
  try {
    const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match === null ? 0 : Number(match[1]) * 1024;
  } catch {
    return 0;
  }
}

function readStat(pid: number): { ppid: number; ticks: number } | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name, in parentheses, may hold spaces: split after its closing one.
    const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
    return { ppid: Number(fields[1]), ticks: Number(fields[11]) + Number(fields[12]) };
  } catch {
    return undefined;
  }
}

/**
 * Measures the CPU the named process groups use between start() and stop(), in cores
 * (1 = one core busy the whole time).
 */
export class CpuMeter {
  private startCpu = new Map<string, number>();
  private startMachine = { busy: 0, total: 0 };
  private startedAt = 0;

  constructor(private readonly groups: Record<string, readonly number[]>) {}

  start(): void {
    this.startedAt = performance.now();
    this.startMachine = machineCpu();
    for (const [name, pids] of Object.entries(this.groups)) this.startCpu.set(name, cpuSeconds(pids));
  }

  stop(): Record<string, number> {
    const seconds = (performance.now() - this.startedAt) / 1000;
    const cores: Record<string, number> = {};
    for (const [name, pids] of Object.entries(this.groups)) {
      cores[name] = Math.round(((cpuSeconds(pids) - this.startCpu.get(name)!) / seconds) * 100) / 100;
    }
    // Everything busy on the machine, ours and other people's: the share left to the run.
    cores.machine = Math.round(((machineCpu().busy - this.startMachine.busy) / seconds) * 100) / 100;
    return cores;
  }
}

/** CPU time of the whole machine: busy and total, in seconds since boot. */
export function machineCpu(): { busy: number; total: number } {
  const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  const total = fields.reduce((a, b) => a + b, 0) / CLOCK_TICKS_PER_SECOND;
  const idle = (fields[3]! + fields[4]!) / CLOCK_TICKS_PER_SECOND;
  return { busy: total - idle, total };
}

/**
 * Waits until the machine is quiet: less than `maxBusyCores` busy over a short sample (our own
 * idle processes included), for at most `maxWaitMs`. Returns the busy cores last seen, so a run
 * that had to start on a busy machine says so.
 */
export async function waitForQuiet(maxBusyCores: number, maxWaitMs: number): Promise<number> {
  const deadline = performance.now() + maxWaitMs;
  for (;;) {
    const a = machineCpu();
    const t0 = performance.now();
    await sleep(300);
    const busy = (machineCpu().busy - a.busy) / ((performance.now() - t0) / 1000);
    if (busy < maxBusyCores || performance.now() > deadline) return Math.round(busy * 100) / 100;
  }
}

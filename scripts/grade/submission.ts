/**
 * A submission started by the grader: a shell command with placeholders ({port}, {servers},
 * {broker}, …) filled in, run in its own process group so that stop() ends everything it
 * started, and waited on until it is ready, bounded in time. Its output is kept bounded
 * (output-tail.ts): checks quote its last lines when it dies, reports carry its tail.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { OutputTail } from './output-tail.js';

/** "{port}" and friends replaced by their values; unknown placeholders are left alone. */
export function fillPlaceholders(command: string, values: Record<string, string | number>): string {
  return command.replace(/\{([a-z_]+)\}/g, (whole, name: string) => (values[name] === undefined ? whole : String(values[name])));
}

/** How long a stopped submission has between SIGTERM and SIGKILL. */
const STOP_GRACE_MS = 3000;

const running = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of running) signalGroup(child, 'SIGKILL');
});

export class Submission {
  readonly output = new OutputTail();
  readonly exited: Promise<number | null>;
  private exitCode: number | null = null;
  private exitSignal: NodeJS.Signals | null = null;
  private done = false;

  private constructor(private readonly child: ChildProcess) {
    running.add(child);
    child.stdout!.on('data', (chunk: Buffer) => this.output.push(chunk));
    child.stderr!.on('data', (chunk: Buffer) => this.output.push(chunk));
    this.exited = new Promise((resolve) => {
      child.once('error', (err) => {
        this.output.push(Buffer.from(`${err.message}\n`));
        this.finish(null, null);
        resolve(null);
      });
      child.once('exit', (code, signal) => {
        this.finish(code, signal);
        resolve(code);
      });
    });
  }

  /** Runs `command` with /bin/sh in `cwd`, in a process group of its own. */
  static start(command: string, cwd?: string): Submission {
    // Unbuffered Python: what a student's program printed before it died is not lost in its buffer.
    return new Submission(spawn('/bin/sh', ['-c', command], { cwd, stdio: ['ignore', 'pipe', 'pipe'], detached: true, env: { ...process.env, PYTHONUNBUFFERED: '1' } }));
  }

  get hasExited(): boolean {
    return this.done;
  }

  /** "exited (code 1)", "killed by SIGSEGV", or undefined while it runs. */
  get exitDescription(): string | undefined {
    if (!this.done) return undefined;
    return this.exitSignal !== null ? `was killed by ${this.exitSignal}` : `exited (code ${String(this.exitCode)})`;
  }

  /**
   * Resolves when `ready` does; rejects if the submission exits first or timeoutMs passes,
   * naming what it printed last.
   */
  async waitFor<T>(what: string, ready: Promise<T>, timeoutMs: number): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`the submission did not ${what} within ${timeoutMs} ms${this.printed()}`)), timeoutMs);
    });
    const exit = this.exited.then(() => Promise.reject(new Error(`the submission ${this.exitDescription ?? 'exited'} before it could ${what}${this.printed()}`)));
    try {
      return await Promise.race([ready, timeout, exit]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** "; it printed: line | line" (its last 5 lines), or "" when it printed nothing. */
  printed(lines = 5): string {
    const last = this.output.lastLines(lines);
    return last.length === 0 ? '' : `; it printed: ${last.join(' | ')}`;
  }

  /** SIGTERM to the process group, SIGKILL after 3 s; what the shell left behind gets a last SIGKILL. */
  async stop(): Promise<void> {
    if (!this.done) {
      signalGroup(this.child, 'SIGTERM');
      const timer = setTimeout(() => signalGroup(this.child, 'SIGKILL'), STOP_GRACE_MS);
      await this.exited;
      clearTimeout(timer);
    }
    signalGroup(this.child, 'SIGKILL');
  }

  private finish(code: number | null, signal: NodeJS.Signals | null): void {
    this.done = true;
    this.exitCode = code;
    this.exitSignal = signal;
    running.delete(this.child);
  }
}

function signalGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    // the group is gone already
  }
}

/** Polls `check` every 50 ms until it returns true (→ true), `stop` returns true or timeoutMs passes (→ false). */
export async function pollFor(check: () => Promise<boolean>, timeoutMs: number, stop: () => boolean = () => false): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!stop() && Date.now() < deadline) {
    if (await check()) return true;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return false;
}

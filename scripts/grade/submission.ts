/**
 * A submission started by the grader: a shell command with placeholders ({port}, {servers},
 * {broker}, …) filled in, run in its own process group so that everything it started can be
 * stopped at the end, and waited on until it is ready, bounded in time.
 */
import { spawn, type ChildProcess } from 'node:child_process';

/** The last bytes of the submission's output, kept to explain a failed start. */
const OUTPUT_TAIL = 4096;
/** How long a stopped submission gets after SIGTERM before its group is killed. */
const STOP_GRACE_MS = 2000;

/** "{port}" and friends replaced by their values; unknown placeholders are left alone. */
export function fillPlaceholders(command: string, values: Record<string, string | number>): string {
  return command.replace(/\{([a-z_]+)\}/g, (whole, name: string) => (values[name] === undefined ? whole : String(values[name])));
}

const running = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of running) killGroup(child, 'SIGKILL');
});

export class Submission {
  private output = '';
  readonly exited: Promise<number | null>;

  private constructor(private readonly child: ChildProcess) {
    running.add(child);
    const keep = (chunk: Buffer) => {
      this.output = (this.output + chunk.toString('utf8')).slice(-OUTPUT_TAIL);
    };
    child.stdout!.on('data', keep);
    child.stderr!.on('data', keep);
    this.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        running.delete(child);
        resolve(code ?? (signal === null ? null : 128));
      });
    });
  }

  /** Runs `command` with /bin/sh in `cwd`, in a process group of its own. */
  static start(command: string, cwd?: string, env: Record<string, string> = {}): Submission {
    const child = spawn('/bin/sh', ['-c', command], { cwd, env: { ...process.env, ...env }, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    child.on('error', () => undefined);
    return new Submission(child);
  }

  get hasExited(): boolean {
    return this.child.exitCode !== null || this.child.signalCode !== null;
  }

  /** The last lines the submission printed (stdout and stderr mixed). */
  get outputTail(): string {
    return this.output.trim().split('\n').slice(-5).join(' | ');
  }

  /**
   * Resolves when `ready` does; rejects if the submission exits first or timeoutMs passes,
   * naming what it printed last.
   */
  async waitFor<T>(what: string, ready: Promise<T>, timeoutMs: number): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`the submission did not ${what} within ${timeoutMs} ms${this.tail()}`)), timeoutMs);
    });
    const exit = this.exited.then((code) => Promise.reject(new Error(`the submission exited (code ${String(code)}) before it could ${what}${this.tail()}`)));
    try {
      return await Promise.race([ready, timeout, exit]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** SIGTERM to the group, SIGKILL after a grace period; resolves once the shell has exited. */
  async stop(): Promise<void> {
    if (!this.hasExited) killGroup(this.child, 'SIGTERM');
    const timer = setTimeout(() => killGroup(this.child, 'SIGKILL'), STOP_GRACE_MS);
    await this.exited;
    clearTimeout(timer);
    // The shell may be gone while what it started lives on: the group gets a last SIGKILL.
    killGroup(this.child, 'SIGKILL');
  }

  private tail(): string {
    const tail = this.outputTail;
    return tail === '' ? '' : `; it printed: ${tail.slice(-300)}`;
  }
}

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
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

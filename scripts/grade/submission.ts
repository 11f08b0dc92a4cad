/**
 * A submission started by the grader: a shell command with placeholders ({port}, {servers},
 * {broker}, …) filled in, run in its own process group (the bench's spawnChild) so that stop()
 * ends everything it started, and waited on until it is ready, bounded in time.
 */
import { spawnChild, type Child } from '../bench/processes.js';

/** "{port}" and friends replaced by their values; unknown placeholders are left alone. */
export function fillPlaceholders(command: string, values: Record<string, string | number>): string {
  return command.replace(/\{([a-z_]+)\}/g, (whole, name: string) => (values[name] === undefined ? whole : String(values[name])));
}

export class Submission {
  private constructor(private readonly child: Child) {}

  /** Runs `command` with /bin/sh in `cwd`, in a process group of its own. */
  static start(command: string, cwd?: string): Submission {
    return new Submission(spawnChild('/bin/sh', ['-c', command], { cwd }));
  }

  get hasExited(): boolean {
    return this.child.child.exitCode !== null || this.child.child.signalCode !== null;
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
    const exit = this.child.exited.then((code) => Promise.reject(new Error(`the submission exited (code ${String(code)}) before it could ${what}${this.tail()}`)));
    try {
      return await Promise.race([ready, timeout, exit]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Stops the process group; what the shell started and left behind gets a last SIGKILL. */
  async stop(): Promise<void> {
    await this.child.stop();
    try {
      process.kill(-this.child.pid, 'SIGKILL');
    } catch {
      // the group is gone already
    }
  }

  /** The last lines the submission printed on stderr, else on stdout. */
  private tail(): string {
    const text = this.child.stderr().trim() || this.child.lines.slice(-5).join('\n').trim();
    return text === '' ? '' : `; it printed: ${text.split('\n').slice(-5).join(' | ').slice(-300)}`;
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

/**
 * Everything in the Node scripts that differs between Linux, macOS and Windows, in one place.
 * The rest of a script spawns, stops and names files only through these.
 *
 * - Processes: children are started (lib/programs.ts) from process.execPath with an argument
 *   array (no shell, so paths with spaces work everywhere) and without a console window on
 *   Windows.
 * - Stopping: POSIX sends SIGTERM, which the programs answer with a graceful stop, then SIGKILL
 *   after a grace period. Windows has no signals between processes: Node's kill() there ends
 *   the process at once whatever the signal, so the grace period does not apply.
 * - Interrupts: Ctrl-C is SIGINT on all three; SIGTERM and SIGHUP exist only on POSIX, and
 *   Windows has SIGBREAK (Ctrl-Break) instead.
 * - Files: temp dirs under os.tmpdir(), paths joined with node:path.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

export const IS_WINDOWS = process.platform === 'win32';

/** Exit codes a shell uses for a run stopped by a signal (128 + its number), also on Windows. */
export const EXIT_ON_SIGNAL: Readonly<Record<string, number>> = { SIGINT: 130, SIGTERM: 143, SIGHUP: 129, SIGBREAK: 130 };

/** The signals that mean "stop" on this platform. */
export const STOP_SIGNALS: readonly NodeJS.Signals[] = IS_WINDOWS ? ['SIGINT', 'SIGBREAK'] : ['SIGINT', 'SIGTERM', 'SIGHUP'];

/** Whether the child is still running. */
export function isRunning(child: ChildProcess): boolean {
  return child.exitCode === null && child.signalCode === null;
}

/** Ends a child at once (SIGKILL on POSIX, TerminateProcess on Windows). */
export function killNow(child: ChildProcess): void {
  if (isRunning(child)) child.kill('SIGKILL');
}

/** Asks a child to stop (SIGTERM; on Windows it ends at once); SIGKILL if it still runs after graceMs. */
export async function stopGracefully(child: ChildProcess, graceMs: number): Promise<void> {
  if (!isRunning(child)) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => killNow(child), graceMs);
  await exited;
  clearTimeout(timer);
}

/** Calls `handler(signal)` on the first stop signal of this platform. */
export function onStopSignal(handler: (signal: NodeJS.Signals) => void): void {
  let fired = false;
  for (const signal of STOP_SIGNALS) {
    process.on(signal, () => {
      if (fired) return;
      fired = true;
      handler(signal);
    });
  }
}

/** A new temp dir whose name starts with `prefix`. */
export function makeTempDir(prefix: string): string {
  return mkdtempSync(path.join(tmpdir(), prefix));
}

/**
 * Runs the scripts under scripts/ as a user would, bounded in time: exit code, stdout,
 * stderr, and the last stdout line parsed as JSON (the scripts' --json report).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { REPO_ROOT } from './programs.js';

export interface ScriptResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** The last non-blank stdout line as JSON, when it is JSON. */
  json: any;
}

export interface ScriptRun {
  child: ChildProcess;
  /** stdout so far. */
  stdout(): string;
  result: Promise<ScriptResult>;
}

/**
 * Starts scripts/NAME with args (a NAME ending in .js is the built Node script
 * dist/scripts/NAME, run as npm runs it); SIGKILLed after timeoutMs (default 120 s).
 */
export function startScript(name: string, args: string[], options: { timeoutMs?: number; env?: Record<string, string> } = {}): ScriptRun {
  const [command, script] = name.endsWith('.js') ? [process.execPath, path.join(REPO_ROOT, 'dist', 'scripts', name)] : ['bash', path.join(REPO_ROOT, 'scripts', name)];
  const child = spawn(command, [script, ...args], {
    cwd: REPO_ROOT,
    env: { ...process.env, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (text: string) => (stdout += text));
  child.stderr!.setEncoding('utf8').on('data', (text: string) => (stderr += text));
  const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 120_000);
  const result = new Promise<ScriptResult>((resolve) => {
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, json: lastJson(stdout) });
    });
  });
  return { child, stdout: () => stdout, result };
}

export function runScript(name: string, args: string[], options: { timeoutMs?: number; env?: Record<string, string> } = {}): Promise<ScriptResult> {
  return startScript(name, args, options).result;
}

function lastJson(stdout: string): any {
  const last = stdout.trimEnd().split('\n').pop() ?? '';
  if (!last.startsWith('{')) return undefined;
  try {
    return JSON.parse(last);
  } catch {
    return undefined;
  }
}

/** Pids of the live processes whose parent is `pid` (Linux /proc). */
export function childrenOf(pid: number): number[] {
  const children: number[] = [];
  let tasks: string;
  try {
    tasks = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8');
  } catch {
    return children;
  }
  for (const child of tasks.trim().split(/\s+/)) if (child !== '') children.push(Number(child));
  return children;
}

/** Whether a process with this pid exists (and is not a zombie). */
export function isAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !/^\d+ \(.*\) Z /.test(stat);
  } catch {
    return false;
  }
}

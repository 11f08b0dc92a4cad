/**
 * A class's submissions graded one after another, into a CSV and a JSON summary. They come from
 * a folder with one sub-folder per student and one command for all (loadFolder), or a manifest (JSON):
 *   {"kind":"broker","submissions":[{"name":"alice","command":"python3 broker.py {port}","port":9001,"cwd":"alice"}]}
 * `kind` may be set per submission; `port` defaults to a free one; `cwd` is relative to the
 * manifest's folder. A submission that cannot be graded gets a row with its error, not a crash.
 */
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { freePort } from '../bench/processes.js';
import { CheckSelectionError, selectChecks } from './check.js';
import { checksOf, grade, gradeOnFreePort, TargetError, type GradeRequest } from './grade.js';
import { KINDS, type GradeSettings, type Kind } from './options.js';
import { batchCsv, type BatchEntry } from './report.js';

export interface ManifestEntry {
  name: string;
  kind: Kind;
  command: string;
  /** The port the submission listens on (broker, http-proxy); undefined: a free one. */
  port?: number;
  /** Absolute working directory of the command. */
  cwd: string;
}

export class ManifestError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ManifestError';
  }
}

/** Parses a manifest's text; `baseDir` resolves relative cwds; `defaultKind` is the subcommand's, if any. */
export function parseManifest(text: string, baseDir: string, defaultKind?: Kind, source = 'manifest'): ManifestEntry[] {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw new ManifestError(`${source}: not JSON: ${(err as Error).message}`);
  }
  const top = (Array.isArray(doc) ? { submissions: doc } : doc) as { kind?: unknown; submissions?: unknown } | null;
  if (top === null || typeof top !== 'object' || !Array.isArray(top.submissions)) throw new ManifestError(`${source}: expected {"submissions":[{"name":…,"command":…},…]}`);
  const topKind = top.kind === undefined ? defaultKind : kindOf(top.kind, `${source}: "kind"`);
  const names = new Set<string>();
  return top.submissions.map((entry: unknown, i): ManifestEntry => {
    const where = `${source}: submissions[${i}]`;
    if (entry === null || typeof entry !== 'object' || Array.isArray(entry)) throw new ManifestError(`${where}: expected an object`);
    const { name, command, port, kind, cwd } = entry as Record<string, unknown>;
    if (typeof command !== 'string' || command.trim() === '') throw new ManifestError(`${where}: "command" must be a shell command`);
    const label = name === undefined ? `submission-${i + 1}` : name;
    if (typeof label !== 'string' || label.trim() === '') throw new ManifestError(`${where}: "name" must be a string`);
    if (names.has(label)) throw new ManifestError(`${where}: the name "${label}" is used twice`);
    names.add(label);
    const entryKind = kind === undefined ? topKind : kindOf(kind, `${where}: "kind"`);
    if (entryKind === undefined) throw new ManifestError(`${where}: no "kind" (${KINDS.join(', ')}) here, at the top or from the subcommand`);
    let portNumber: number | undefined;
    if (port !== undefined && port !== null) {
      portNumber = typeof port === 'string' && port.trim() !== '' ? Number(port) : (port as number);
      if (!Number.isSafeInteger(portNumber) || portNumber < 0 || portNumber > 65535) throw new ManifestError(`${where}: "port" must be 0-65535`);
      if (portNumber === 0) portNumber = undefined;
    }
    if (cwd !== undefined && typeof cwd !== 'string') throw new ManifestError(`${where}: "cwd" must be a path`);
    return { name: label, kind: entryKind, command, port: portNumber, cwd: path.resolve(baseDir, cwd ?? '.') };
  });
}

function kindOf(value: unknown, where: string): Kind {
  if (typeof value !== 'string' || !(KINDS as readonly string[]).includes(value)) throw new ManifestError(`${where} must be one of ${KINDS.join(', ')}`);
  return value as Kind;
}

export function loadManifest(file: string, defaultKind?: Kind): ManifestEntry[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ManifestError(`cannot read ${file}: ${(err as Error).message}`);
  }
  return parseManifest(text, path.dirname(path.resolve(file)), defaultKind, file);
}

/**
 * A class as a folder: every sub-folder (hidden ones aside) is a student, named by the folder,
 * graded with the same command run in it. The kind comes from the subcommand.
 */
export function loadFolder(dir: string, kind: Kind | undefined, command: string | undefined): ManifestEntry[] {
  if (kind === undefined) throw new ManifestError(`--batch ${dir} is a folder: name the kind too (policy-grade broker --batch ${dir} --start '…')`);
  if (command === undefined || command.trim() === '') throw new ManifestError(`--batch ${dir} is a folder: give the command each student's folder runs with --start (e.g. --start 'python3 broker.py {port}')`);
  let names: string[];
  try {
    names = readdirSync(dir, { withFileTypes: true })
      .filter((entry) => entry.isDirectory() && !entry.name.startsWith('.'))
      .map((entry) => entry.name)
      .sort();
  } catch (err) {
    throw new ManifestError(`cannot read ${dir}: ${(err as Error).message}`);
  }
  if (names.length === 0) throw new ManifestError(`${dir} has no sub-folders: one folder per student is expected`);
  return names.map((name) => ({ name, kind, command, port: undefined, cwd: path.resolve(dir, name) }));
}

/** --batch PATH: a folder of students (with the --start command) or a manifest file. */
export function loadBatch(source: string, kind: Kind | undefined, command: string | undefined): ManifestEntry[] {
  let folder = false;
  try {
    folder = statSync(source).isDirectory();
  } catch {
    // loadManifest says it cannot be read
  }
  return folder ? loadFolder(source, kind, command) : loadManifest(source, kind);
}

export interface BatchOptions {
  settings: GradeSettings;
  only?: string[];
  skip?: string[];
  /** Called before and after each submission, for progress. */
  onStart?: (entry: ManifestEntry) => void;
  onDone?: (entry: BatchEntry) => void;
}

/** Grades every submission in turn; never throws for one submission's failure. */
export async function runBatch(entries: ManifestEntry[], options: BatchOptions): Promise<BatchEntry[]> {
  // --only and --skip apply to every submission, so each name must be a check of every kind graded.
  for (const kind of new Set(entries.map((entry) => entry.kind))) {
    try {
      selectChecks(checksOf(kind), options.only, options.skip);
    } catch (err) {
      throw new CheckSelectionError(`${kind}: ${(err as Error).message}`);
    }
  }
  const results: BatchEntry[] = [];
  for (const entry of entries) {
    options.onStart?.(entry);
    const request: GradeRequest = { kind: entry.kind, command: entry.command, cwd: entry.cwd, settings: options.settings, only: options.only, skip: options.skip };
    if (entry.kind !== 'server' && entry.port !== undefined) request.target = { host: '127.0.0.1', port: entry.port };
    let result: BatchEntry;
    const started = Date.now();
    try {
      const graded = entry.kind !== 'server' && entry.port === undefined ? await gradeOnFreePort(request, freePort) : await grade(request);
      result = { name: entry.name, kind: entry.kind, grade: graded, durationMs: Date.now() - started, output: graded.output };
    } catch (err) {
      const output = err instanceof TargetError ? err.output : undefined;
      result = { name: entry.name, kind: entry.kind, error: err instanceof Error ? err.message : String(err), durationMs: Date.now() - started, output };
    }
    results.push(result);
    options.onDone?.(result);
  }
  return results;
}

/** The JSON summary of a batch: counts, then every submission's grade or error. */
export function batchSummary(entries: BatchEntry[]): Record<string, unknown> {
  return {
    submissions: entries.length,
    fullMarks: entries.filter((entry) => entry.grade !== undefined && entry.grade.score === entry.grade.max).length,
    ungraded: entries.filter((entry) => entry.grade === undefined).length,
    results: entries.map((entry) => ({
      name: entry.name,
      kind: entry.kind,
      durationMs: entry.durationMs,
      ...(entry.grade === undefined ? { error: entry.error, output: entry.output } : { score: entry.grade.score, max: entry.grade.max, grade: entry.grade }),
    })),
  };
}

/** Writes grades.csv and grades.json into `dir`; returns their paths. */
export function writeBatch(entries: BatchEntry[], dir: string): { csv: string; json: string } {
  const csv = path.join(dir, 'grades.csv');
  const json = path.join(dir, 'grades.json');
  writeFileSync(csv, batchCsv(entries));
  writeFileSync(json, JSON.stringify(batchSummary(entries), null, 2) + '\n');
  return { csv, json };
}

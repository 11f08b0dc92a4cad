/**
 * The runnable parts of a lab handout (docs/labs/*.md, docs/classic-lab.md), read from its
 * Markdown so that a test can run every command a student is told to run.
 *
 * Code blocks fenced as `sh` are commands; words after `sh` in the fence say how they run:
 *
 *   ```sh                          a step: runs to its end, must exit 0
 *   ```sh background name=broker   runs in the background until the lab ends (or `stop`);
 *                                  ready=json (default: a {"ready":true} line on stdout),
 *                                  ready=port:N (TCP port N on 127.0.0.1 accepts), ready=none
 *   ```sh manual                   shown, not run (sudo on the student's machine, EC2): only
 *                                  its syntax and the options it gives our programs are checked
 *   ```sh cleanup                  runs before the lab (what an earlier run left) and after it,
 *                                  whatever happened; its errors are ignored
 *   ```sh env                      what every terminal of the lab runs first (the ports, from
 *                                  one `BASE=N` a student chooses): the test runs it before
 *                                  every later block, with BASE set to a base of its own, and
 *                                  expands $NAME in the directives below with its variables
 *
 * and HTML comments (invisible once rendered) add checks between them:
 *
 *   <!-- lab: ports 2100 8080 -->              these port numbers become free ports in the test
 *                                              (handouts without an env block)
 *   <!-- lab: expect /regex/ -->               the previous step's output matches
 *   <!-- lab: expect NAME /regex/ -->          background NAME's output comes to match
 *   <!-- lab: exited NAME [code=N] -->         background NAME ends, with code N (default 0)
 *   <!-- lab: stop NAME -->                    background NAME is sent SIGTERM and ends
 *   <!-- lab: open URL -->                     headless Chromium opens URL and keeps it open
 *   <!-- lab: screenshot FILE [URL] [element=CSS] [wait=JS] -->
 *                                              saves URL (default: the open page), or one
 *                                              element of it, as docs/labs/FILE once the
 *                                              expression JS is true in the page
 *   <!-- lab: needs root -->                   the lab runs only as root (network namespaces)
 *
 * Pure: parsing only. test/e2e/labs.test.ts runs the result.
 */

export type Step =
  | { kind: 'run'; line: number; script: string }
  | { kind: 'background'; line: number; script: string; name: string; ready: string }
  | { kind: 'manual'; line: number; script: string }
  | { kind: 'cleanup'; line: number; script: string }
  | { kind: 'env'; line: number; script: string }
  | { kind: 'expect'; line: number; name: string | undefined; pattern: RegExp }
  | { kind: 'exited'; line: number; name: string; code: number }
  | { kind: 'stop'; line: number; name: string }
  | { kind: 'open'; line: number; url: string }
  | { kind: 'screenshot'; line: number; file: string; url: string | undefined; element: string | undefined; wait: string | undefined };

export interface Handout {
  steps: Step[];
  /** Port numbers to replace with free ports. */
  ports: number[];
  needsRoot: boolean;
  /** Images the handout shows (![…](img/…)), relative to its directory. */
  images: string[];
}

/** Parses a handout; throws naming the line of anything it cannot read. */
export function parseHandout(text: string): Handout {
  const lines = text.split('\n');
  const steps: Step[] = [];
  const ports: number[] = [];
  const images: string[] = [];
  let needsRoot = false;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    const lineNo = i + 1;
    for (const image of line.matchAll(/!\[[^\]]*\]\(([^)\s]+)\)/g)) images.push(image[1]!);
    const fence = /^(`{3,})(\S*)\s*(.*)$/.exec(line);
    if (fence !== null) {
      const end = lines.findIndex((l, j) => j > i && l.startsWith(fence[1]!) && l.trim() === fence[1]);
      if (end === -1) throw new Error(`line ${lineNo}: a code block that never ends`);
      if (fence[2] === 'sh') steps.push(shellStep(lineNo, fence[3]!, lines.slice(i + 1, end).join('\n') + '\n'));
      i = end;
      continue;
    }
    for (const comment of line.matchAll(/<!--\s*lab:\s*(.*?)\s*-->/g)) {
      const words = comment[1]!.split(/\s+/);
      const what = words[0];
      if (what === 'ports') ports.push(...words.slice(1).map((w) => portNumber(w, lineNo)));
      else if (what === 'needs' && words[1] === 'root') needsRoot = true;
      else if (what === 'expect') {
        const rest = comment[1]!.slice('expect'.length).trim();
        const named = /^([\w-]+)\s+(\/.*)$/.exec(rest);
        steps.push({ kind: 'expect', line: lineNo, name: named?.[1], pattern: regex(named?.[2] ?? rest, lineNo) });
      } else if (what === 'exited' && words[1] !== undefined) {
        const code = /^code=(\d+)$/.exec(words[2] ?? 'code=0');
        if (code === null) throw new Error(`line ${lineNo}: exited NAME code=N`);
        steps.push({ kind: 'exited', line: lineNo, name: words[1], code: Number(code[1]) });
      } else if (what === 'stop' && words[1] !== undefined) steps.push({ kind: 'stop', line: lineNo, name: words[1] });
      else if (what === 'open' && words[1] !== undefined) steps.push({ kind: 'open', line: lineNo, url: words[1] });
      else if (what === 'screenshot' && words[1] !== undefined) {
        // wait= comes last and takes the rest of the line (JavaScript may hold spaces).
        const wait = /\swait=(.*)$/.exec(comment[1]!)?.[1];
        const options = words.slice(2, wait === undefined ? undefined : words.findIndex((w) => w.startsWith('wait=')));
        const url = options.find((w) => /^https?:\/\//.test(w));
        const element = options.find((w) => w.startsWith('element='))?.slice('element='.length);
        steps.push({ kind: 'screenshot', line: lineNo, file: words[1], url, element, wait });
      } else throw new Error(`line ${lineNo}: unknown lab directive "${comment[1]}"`);
    }
  }
  return { steps, ports, needsRoot, images };
}

function shellStep(line: number, info: string, script: string): Step {
  const words = info.split(/\s+/).filter((w) => w !== '');
  const attrs = new Map(words.map((w) => (w.includes('=') ? [w.slice(0, w.indexOf('=')), w.slice(w.indexOf('=') + 1)] : [w, ''])));
  if (attrs.has('background')) {
    const name = attrs.get('name');
    if (name === undefined || name === '') throw new Error(`line ${line}: a background block needs name=NAME`);
    return { kind: 'background', line, script, name, ready: attrs.get('ready') ?? 'json' };
  }
  if (attrs.has('manual')) return { kind: 'manual', line, script };
  if (attrs.has('cleanup')) return { kind: 'cleanup', line, script };
  if (attrs.has('env')) {
    if (!/^\s*(?:export\s+)?BASE=\d+/m.test(script)) throw new Error(`line ${line}: an env block sets BASE=N`);
    return { kind: 'env', line, script };
  }
  if (words.length > 0) throw new Error(`line ${line}: unknown words after sh: ${info}`);
  return { kind: 'run', line, script };
}

function portNumber(word: string, line: number): number {
  const n = Number(word);
  if (!Number.isInteger(n) || n < 1 || n > 65535) throw new Error(`line ${line}: not a port: ${word}`);
  return n;
}

function regex(text: string, line: number): RegExp {
  const match = /^\/(.*)\/([a-z]*)$/.exec(text);
  if (match === null) throw new Error(`line ${line}: expected /regex/, got ${text}`);
  return new RegExp(match[1]!, match[2]);
}

/** The text with each listed port number (a whole word) replaced by its free port. */
export function substitutePorts(text: string, ports: Map<number, number>): string {
  if (ports.size === 0) return text;
  const pattern = new RegExp(`(?<![\\w.])(${[...ports.keys()].join('|')})(?![\\w])`, 'g');
  return text.replace(pattern, (port) => String(ports.get(Number(port))));
}

/** Which of our programs a command line starts, by the words that name it. */
const PROGRAMS: Array<[RegExp, string]> = [
  [/(?:^|\s)(?:npx\s+)?(?:policy-broker|node\s+(?:\S*\/)?dist\/broker\/main\.js)(?=\s|$)/, 'broker'],
  [/(?:^|\s)(?:npx\s+)?(?:policy-server-pool|node\s+(?:\S*\/)?dist\/server-pool\/main\.js)(?=\s|$)/, 'pool'],
  [/(?:^|\s)(?:npx\s+)?(?:policy-client|node\s+(?:\S*\/)?dist\/client\/main\.js)(?=\s|$)/, 'client'],
  [/(?:^|\s)(?:npm\s+run\s+simulate\s+--|node\s+(?:\S*\/)?dist\/scripts\/simulate\.js|(?:\S*\/)?scripts\/simulate\.sh)(?=\s|$)/, 'simulate'],
];

/** The --options each command line of a script gives one of our programs: [program, option]. */
export function optionsUsed(script: string): Array<[string, string]> {
  const used: Array<[string, string]> = [];
  const joined = script.replace(/\\\n/g, ' ');
  for (const raw of joined.split('\n')) {
    const line = raw.replace(/(^|\s)#.*$/, '');
    for (const [pattern, program] of PROGRAMS) {
      const match = pattern.exec(line);
      if (match === null) continue;
      // Up to the end of this command: a pipe, a list operator or a background &.
      const command = line.slice(match.index + match[0].length).split(/\s(?:\||&&|;|&|\|\|)(?:\s|$)|[;&|]\s*$/)[0]!;
      for (const option of command.matchAll(/(?:^|\s)(--[a-z][a-z0-9-]*)/g)) used.push([program, option[1]!]);
    }
  }
  return used;
}

/** The env block's script with its BASE set to `base` instead of the handout's. */
export function withBase(script: string, base: number): string {
  return script.replace(/^(\s*(?:export\s+)?BASE=)\d+/m, `$1${base}`);
}

/** `$NAME` and `${NAME}` replaced by the variables' values; unknown names are left alone. */
export function expandVariables(text: string, variables: Map<string, string>): string {
  return text.replace(/\$(?:\{([A-Z_][A-Z0-9_]*)\}|([A-Z_][A-Z0-9_]*))/g, (whole, braced: string | undefined, bare: string | undefined) => variables.get((braced ?? bare)!) ?? whole);
}

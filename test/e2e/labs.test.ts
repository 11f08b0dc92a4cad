/**
 * Every command of every lab handout (docs/labs/*.md and docs/classic-lab.md), run as a student
 * would run it, in order, so that the handouts cannot rot: each step must succeed, each
 * background program must get ready, each expected output must appear, and each screenshot is
 * taken by headless Chromium from the running lab. Blocks that cannot run here (sudo on the
 * student's machine, EC2) have their syntax and their options checked against --help.
 * The markup is described in test/helpers/handout.ts.
 *
 * Each lab runs in a temp dir that stands for the clone (dist/, node_modules/, package.json,
 * examples/ and scripts/ linked in). A handout whose ports come from one BASE (an `sh env`
 * block) runs on a base of its own whose ports are free, its env block before every block, as
 * in every terminal a student opens; one with fixed ports has them replaced by free ones. Two
 * copies of lab 2 run at once on two bases, as two students on one machine would. Screenshots go
 * to a temp dir; with UPDATE_LAB_SCREENSHOTS=1 they replace the committed ones in docs/labs/img/.
 * LAB=NAME runs only the handouts whose file name contains NAME; LAB_VERBOSE=1 prints each
 * step's time and output.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { chmodSync, copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { test, type TestContext } from 'node:test';
import type { BrowserContext, Page } from 'playwright-core';
import { makeTempDir } from '../../scripts/lib/platform.js';
import { chromiumMissing, launchChromium } from '../helpers/chromium.js';
import { freePort } from '../helpers/classic.js';
import { expandVariables, optionsUsed, parseHandout, substitutePorts, withBase, type Step } from '../helpers/handout.js';
import { REPO_ROOT, run } from '../helpers/programs.js';
import { runScript } from '../helpers/scripts.js';

const LABS_DIR = path.join(REPO_ROOT, 'docs', 'labs');
const ALL_HANDOUTS = [
  path.join(REPO_ROOT, 'docs', 'classic-lab.md'),
  ...readdirSync(LABS_DIR)
    .filter((f) => /^\d-.*\.md$/.test(f))
    .sort()
    .map((f) => path.join(LABS_DIR, f)),
];
/** LAB=3 (any part of a file name) runs only the matching handouts, for work on one of them. */
const HANDOUTS = ALL_HANDOUTS.filter((file) => process.env.LAB === undefined || path.basename(file).includes(process.env.LAB));
const LINKED = ['dist', 'node_modules', 'package.json', 'examples', 'scripts'];
const STEP_TIMEOUT_MS = 40_000;
const READY_TIMEOUT_MS = 20_000;
const EXPECT_TIMEOUT_MS = 15_000;
const UPDATE_SCREENSHOTS = process.env.UPDATE_LAB_SCREENSHOTS === '1';
const ENV: Record<string, string | undefined> = { ...process.env, PATH: `${process.env.PATH ?? ''}:/usr/sbin:/sbin`, NO_COLOR: '1' };
delete ENV.BASE;

/** One shell script run by bash in its own process group, its output kept. */
class Shell {
  readonly child: ChildProcess;
  output = '';
  readonly exited: Promise<number | null>;

  constructor(file: string, cwd: string) {
    this.child = spawn('bash', ['-e', file], { cwd, env: ENV, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    const keep = (text: string) => {
      this.output = (this.output + text).slice(-1_000_000);
    };
    this.child.stdout!.setEncoding('utf8').on('data', keep);
    this.child.stderr!.setEncoding('utf8').on('data', keep);
    this.exited = new Promise((resolve) => this.child.once('close', (code, signal) => resolve(code ?? (signal === null ? null : 128))));
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Signals the whole process group (bash and what it started). */
  signal(signal: NodeJS.Signals): void {
    try {
      process.kill(-this.child.pid!, signal);
    } catch {
      // already gone
    }
  }

  /** SIGTERM to the group, SIGKILL after graceMs. */
  async stop(graceMs = 5000): Promise<void> {
    this.signal('SIGTERM');
    const timer = setTimeout(() => this.signal('SIGKILL'), graceMs);
    await this.exited;
    clearTimeout(timer);
    this.signal('SIGKILL');
  }

  tail(): string {
    return this.output.slice(-3000);
  }
}

/** The options each of our programs accepts, from its --help. */
async function knownOptions(): Promise<Map<string, string>> {
  const help = new Map<string, string>();
  for (const program of ['broker', 'pool', 'client'] as const) help.set(program, (await run(program, ['--help'])).stdout);
  help.set('simulate', (await runScript('simulate.js', ['--help'])).stdout);
  return help;
}

async function waitUntil(what: string, check: () => boolean | Promise<boolean>, timeoutMs: number, context: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) assert.fail(`${what} (waited ${timeoutMs} ms)\n${context()}`);
    await sleep(50);
  }
}

/** Whether a listener can bind the port on 127.0.0.1 now. */
function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = createServer();
    probe.once('error', () => resolve(false));
    probe.listen(port, '127.0.0.1', () => probe.close(() => resolve(true)));
  });
}

function portAccepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** A handout's env block with the base of this run, and the variables it sets. */
interface LabEnv {
  prelude: string;
  variables: Map<string, string>;
}

/** Runs an env block in bash and returns what it exports (the variables new or changed). */
async function exportsOf(script: string): Promise<Map<string, string>> {
  const child = spawn('bash', ['-ec', `${script}\nenv -0`], { env: ENV, stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout!.setEncoding('utf8').on('data', (text: string) => (out += text));
  const [code] = (await once(child, 'close')) as [number];
  assert.equal(code, 0, `the env block fails:\n${script}`);
  const variables = new Map<string, string>();
  for (const entry of out.split('\0')) {
    const eq = entry.indexOf('=');
    if (eq <= 0) continue;
    const [name, value] = [entry.slice(0, eq), entry.slice(eq + 1)];
    if (ENV[name] !== value) variables.set(name, value);
  }
  return variables;
}

/** Bases taken by labs running now, so that two copies at once never share one. */
const basesInUse = new Set<number>();

/** A base (a multiple of 100, 10000 to 31900) whose every port the env block derives is free now. */
async function chooseBase(script: string): Promise<{ base: number; env: LabEnv }> {
  let taken = '';
  // Screenshots for the handouts show the handout's own base when its ports are free here.
  const own = Number(/^\s*(?:export\s+)?BASE=(\d+)/m.exec(script)?.[1]);
  for (let tries = 0; tries < 50; tries++) {
    // Below the ephemeral range (32768 up), where the kernel picks the ports of outgoing connections.
    const base = UPDATE_SCREENSHOTS && tries === 0 ? own : 10_000 + 100 * Math.floor(Math.random() * 220);
    if (basesInUse.has(base)) continue;
    const prelude = withBase(script, base);
    const variables = await exportsOf(prelude);
    // Each port once: two binds of one port at once would make it look taken.
    const ports = [...new Set(variables.values())].filter((value) => /^\d+$/.test(value) && Number(value) >= 1024 && Number(value) < 65536).map(Number);
    const free = await Promise.all(ports.map((port) => portIsFree(port)));
    if (free.every(Boolean)) {
      basesInUse.add(base);
      return { base, env: { prelude, variables } };
    }
    taken = ports.filter((_, i) => !free[i]).join(', ');
  }
  return assert.fail(`no base with all its ports free (last: ${taken} taken)`);
}

class LabRun {
  private readonly background = new Map<string, Shell>();
  private last: Shell | undefined;
  private scriptCount = 0;

  constructor(
    private readonly name: string,
    private readonly dir: string,
    private readonly ports: Map<number, number>,
    private readonly shots: Screenshots,
    private readonly env: LabEnv | undefined,
  ) {}

  /** A directive's text with the env block's $NAMEs and the fixed ports replaced. */
  private sub(text: string): string {
    return substitutePorts(this.env === undefined ? text : expandVariables(text, this.env.variables), this.ports);
  }

  private write(script: string): string {
    const file = path.join(this.dir, `.step-${++this.scriptCount}.sh`);
    // What every terminal runs first, then the block.
    writeFileSync(file, (this.env === undefined ? '' : `${this.env.prelude}\n`) + substitutePorts(script, this.ports));
    return file;
  }

  private where(step: Step): string {
    return `${this.name} line ${step.line}`;
  }

  async step(step: Step): Promise<void> {
    switch (step.kind) {
      case 'run': {
        const shell = new Shell(this.write(step.script), this.dir);
        this.last = shell;
        const timer = setTimeout(() => shell.signal('SIGKILL'), STEP_TIMEOUT_MS);
        const code = await shell.exited;
        clearTimeout(timer);
        assert.equal(code, 0, `${this.where(step)}: the step exited with ${code}:\n${substitutePorts(step.script, this.ports)}\n--- output ---\n${shell.tail()}`);
        return;
      }
      case 'background': {
        assert.ok(!this.background.has(step.name), `${this.where(step)}: ${step.name} started twice`);
        const shell = new Shell(this.write(step.script), this.dir);
        this.background.set(step.name, shell);
        const ready = step.ready;
        const port = /^port:(\d+|\$\w+)$/.exec(ready);
        const check =
          ready === 'none'
            ? () => true
            : port !== null
              ? () => portAccepts(Number(this.sub(port[1]!)))
              : ready === 'json'
                ? () => /"ready":true/.test(shell.output)
                : assert.fail(`${this.where(step)}: unknown ready=${ready}`);
        const readiness = waitUntil(`${this.where(step)}: ${step.name} ready (${ready})`, async () => {
          if (!shell.running) assert.fail(`${this.where(step)}: ${step.name} exited before it was ready:\n${shell.tail()}`);
          return check();
        }, READY_TIMEOUT_MS, () => shell.tail());
        // One after another, as a student waits for each ready line before the next terminal.
        await readiness;
        return;
      }
      case 'cleanup':
      case 'manual':
      case 'env':
        return;
      case 'expect': {
        const shell = step.name === undefined ? this.last : this.background.get(step.name);
        assert.ok(shell !== undefined, `${this.where(step)}: expect: no ${step.name ?? 'previous step'}`);
        const pattern = new RegExp(this.sub(step.pattern.source), step.pattern.flags);
        if (step.name === undefined) assert.match(shell.output, pattern, `${this.where(step)}: the step's output`);
        else await waitUntil(`${this.where(step)}: ${step.name}'s output to match ${pattern}`, () => pattern.test(shell.output), EXPECT_TIMEOUT_MS, () => shell.tail());
        return;
      }
      case 'exited': {
        const shell = this.background.get(step.name);
        assert.ok(shell !== undefined, `${this.where(step)}: no background ${step.name}`);
        const timer = setTimeout(() => shell.signal('SIGKILL'), STEP_TIMEOUT_MS);
        const code = await shell.exited;
        clearTimeout(timer);
        this.last = shell;
        assert.equal(code, step.code, `${this.where(step)}: ${step.name} exited with ${code}:\n${shell.tail()}`);
        return;
      }
      case 'stop': {
        const shell = this.background.get(step.name);
        assert.ok(shell !== undefined, `${this.where(step)}: no background ${step.name}`);
        await shell.stop();
        return;
      }
      case 'open':
        await this.shots.open(this.where(step), this.sub(step.url));
        return;
      case 'screenshot':
        await this.screenshot(step);
        return;
    }
  }

  private async screenshot(step: Extract<Step, { kind: 'screenshot' }>): Promise<void> {
    const sub = (text: string | undefined) => (text === undefined ? undefined : this.sub(text));
    await this.shots.take(this.where(step), step.file, { url: sub(step.url), element: step.element, wait: sub(step.wait) });
  }

  /** With LAB_VERBOSE=1: what a step that runs to its end printed, to copy into the handout. */
  lastOutput(step: Step): string {
    return (step.kind === 'run' || step.kind === 'exited') && this.last !== undefined ? this.last.output : '';
  }

  /** Runs the handout's cleanup blocks, whatever they say; for a start from clean and for the end. */
  async cleanUp(steps: Step[]): Promise<void> {
    for (const step of steps) {
      if (step.kind !== 'cleanup') continue;
      const shell = new Shell(this.write(step.script.replace(/^/, 'set +e\n')), this.dir);
      const timer = setTimeout(() => shell.signal('SIGKILL'), STEP_TIMEOUT_MS);
      await shell.exited;
      clearTimeout(timer);
    }
  }

  /** Closes the lab's page, then stops every background program; never throws. */
  async finish(): Promise<void> {
    await this.shots.closePage();
    for (const shell of this.background.values()) await shell.stop();
  }
}

/** Screenshots by one headless Chromium for the whole run, started at the first page. */
class Screenshots {
  private browser: Promise<BrowserContext> | undefined;
  /** The page a lab opened (`open`), which later screenshots without a URL show. */
  private page: Page | undefined;

  /** `off`: no browser at all (labs run side by side share no page); open and screenshot do nothing. */
  constructor(
    private readonly dir: string,
    private readonly off = false,
  ) {}

  /** Whether Chromium can be used; fails under CI when it cannot. */
  private usable(): boolean {
    if (this.off) return false;
    if (chromiumMissing === undefined) return true;
    if (process.env.CI) assert.fail(chromiumMissing);
    return false;
  }

  private async newPage(): Promise<Page> {
    this.browser ??= launchChromium(path.join(this.dir, '.chromium'));
    return (await this.browser).newPage();
  }

  /** Opens `url` and keeps it open for the lab's later screenshots. */
  async open(where: string, url: string): Promise<void> {
    if (!this.usable()) return;
    await this.closePage();
    this.page = await this.newPage();
    await this.page.goto(url);
  }

  /**
   * Saves a page (`url`, else the open one), or its `element`, as FILE under the temp dir (and
   * docs/labs/ when updating) once the expression `wait` is true in it.
   */
  async take(where: string, file: string, o: { url: string | undefined; element: string | undefined; wait: string | undefined }): Promise<void> {
    if (!this.usable()) return;
    let page = this.page;
    if (o.url !== undefined) {
      await this.closePage();
      page = this.page = await this.newPage();
      await page.goto(o.url);
    }
    assert.ok(page !== undefined, `${where}: a screenshot without a URL needs an open page (lab: open URL)`);
    const wait = o.wait;
    if (wait !== undefined) {
      // page.evaluate, not waitForFunction: the dashboard's CSP forbids the eval the latter uses in the page.
      await waitUntil(`${where}: ${wait} in the page`, async () => (await page.evaluate(wait)) === true, EXPECT_TIMEOUT_MS, () => '');
    }
    const target = path.join(this.dir, file);
    mkdirSync(path.dirname(target), { recursive: true });
    if (o.element === undefined) await page.screenshot({ path: target, fullPage: true });
    else await page.locator(o.element).screenshot({ path: target });
    if (UPDATE_SCREENSHOTS) copyFileSync(target, path.join(LABS_DIR, file));
  }

  /** Closes the open page, so that its polling stops before the lab stops its broker. */
  async closePage(): Promise<void> {
    await this.page?.close().catch(() => undefined);
    this.page = undefined;
  }

  async close(): Promise<void> {
    await this.closePage();
    if (this.browser !== undefined) await (await this.browser).close().catch(() => undefined);
  }
}

/** A temp dir that stands for the clone: what the commands use is linked in. */
function labDir(): string {
  const dir = makeTempDir('policy-broker-lab-');
  // Readable by nginx's workers, which run as another user when the test runs as root.
  chmodSync(dir, 0o755);
  for (const name of LINKED) symlinkSync(path.join(REPO_ROOT, name), path.join(dir, name));
  return dir;
}

async function runHandout(t: TestContext, file: string, help: Map<string, string>, shots: Screenshots): Promise<void> {
  const name = path.relative(REPO_ROOT, file);
  const handout = parseHandout(readFileSync(file, 'utf8'));
  // Every option given to our programs, in every block, run or not, is one they have.
  for (const step of handout.steps) {
    if (!('script' in step)) continue;
    for (const [program, option] of optionsUsed(step.script)) {
      assert.ok(new RegExp(`(?:^|[\\s,])${option}(?=[\\s,=<\\[]|$)`, 'm').test(help.get(program)!), `${name} line ${step.line}: ${program} has no ${option}`);
    }
    if (step.kind === 'manual') {
      const check = spawn('bash', ['-n'], { stdio: ['pipe', 'ignore', 'pipe'] });
      let stderr = '';
      check.stderr!.setEncoding('utf8').on('data', (text: string) => (stderr += text));
      check.stdin!.end(step.script);
      const [code] = (await once(check, 'close')) as [number];
      assert.equal(code, 0, `${name} line ${step.line}: not valid shell: ${stderr}`);
    }
  }
  if (handout.needsRoot && process.getuid?.() !== 0) {
    if (process.env.CI) assert.fail(`${name} needs root (network namespaces)`);
    t.skip('needs root (network namespaces)');
    return;
  }
  const ports = new Map<number, number>();
  // Screenshots for the handouts show the handout's own ports when they are free here.
  for (const port of handout.ports) ports.set(port, UPDATE_SCREENSHOTS && (await portIsFree(port)) ? port : await freePort());
  const envStep = handout.steps.find((step) => step.kind === 'env');
  assert.ok(envStep === undefined || handout.ports.length === 0, `${name}: ports come from the env block's BASE, not from lab: ports`);
  const chosen = envStep === undefined ? undefined : await chooseBase(envStep.script);
  if (chosen !== undefined) t.diagnostic(`${name}: BASE=${chosen.base}`);
  const dir = labDir();
  const lab = new LabRun(name, dir, ports, shots, chosen?.env);
  const started = Date.now();
  // Cleanup blocks run first too: what an earlier, failed run may have left (namespaces).
  await lab.cleanUp(handout.steps);
  try {
    for (const step of handout.steps) {
      const began = Date.now();
      await lab.step(step);
      if (process.env.LAB_VERBOSE === '1') console.error(`# ${name} line ${step.line} ${step.kind}: ${Date.now() - began} ms\n${lab.lastOutput(step)}`);
    }
  } finally {
    await lab.finish();
    await lab.cleanUp(handout.steps);
    rmSync(dir, { recursive: true, force: true });
    if (chosen !== undefined) basesInUse.delete(chosen.base);
  }
  t.diagnostic(`${name}: ${handout.steps.length} steps in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  // Images are checked last, so that UPDATE_LAB_SCREENSHOTS=1 can make new ones first.
  for (const image of handout.images) assert.ok(existsSync(path.join(path.dirname(file), image)), `${name}: image ${image} is missing`);
}

test('every command of every lab handout runs as written', { timeout: 150_000 }, async (t) => {
  assert.ok(ALL_HANDOUTS.length >= 6, 'the five labs and the classic lab');
  const help = await knownOptions();
  const shotDir = makeTempDir('policy-broker-lab-shots-');
  const shots = new Screenshots(shotDir);
  try {
    for (const file of HANDOUTS) await t.test(path.relative(REPO_ROOT, file), (sub) => runHandout(sub, file, help, shots));
  } finally {
    await shots.close();
    rmSync(shotDir, { recursive: true, force: true });
  }
});

test('two copies of lab 2 at once, on two bases, as two students on one machine', { timeout: 120_000, concurrency: 2 }, async (t) => {
  if (process.env.LAB !== undefined && !'2-failure.md'.includes(process.env.LAB)) return t.skip('LAB chooses another handout');
  const help = await knownOptions();
  const file = path.join(LABS_DIR, '2-failure.md');
  const dir = makeTempDir('policy-broker-lab-shots-');
  try {
    // Each kills its own server 300 by the PID it saved: the other copy's servers never notice.
    await Promise.all([1, 2].map((copy) => t.test(`copy ${copy}`, (sub) => runHandout(sub, file, help, new Screenshots(dir, true)))));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

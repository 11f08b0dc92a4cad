/**
 * policy-grade against real targets: our own broker, server pool and HTTP front end get full
 * marks; every deliberately flawed fixture (test/fixtures/grade/) fails exactly the check it
 * should; bad usage and unreachable or broken targets end in bounded time with the right code.
 * Counts are small (the checks' sizes are options) so the whole file runs in well under a minute.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { freePort } from '../../scripts/bench/processes.js';
import { REPO_ROOT, run, start, startBroker } from '../helpers/programs.js';

const FIXTURES = path.join(REPO_ROOT, 'test/fixtures/grade');
const BROKER = `node ${path.join(REPO_ROOT, 'dist/broker/main.js')}`;
const POOL = `node ${path.join(REPO_ROOT, 'dist/server-pool/main.js')}`;
/** Small but meaningful sizes; 2 s per answer leaves room on a busy CI machine. */
const SMALL = ['--answer-timeout', '2000', '--count', '60', '--failover-count', '10', '--clients', '6', '--per-client', '3', '--pipeline', '10'];

/** Runs policy-grade, bounded; the grade is the last stdout line when --json is given. */
async function grade(args: string[], timeoutMs = 60_000): Promise<{ code: number | null; stdout: string; stderr: string; json: any }> {
  const result = await run('grade', args, { timeoutMs });
  const last = result.stdout.trimEnd().split('\n').pop() ?? '';
  return { ...result, json: last.startsWith('{') ? JSON.parse(last) : undefined };
}

function assertFullMarks(result: Awaited<ReturnType<typeof grade>>, kind: string, checks: number): void {
  assert.equal(result.code, 0, result.stdout + result.stderr);
  assert.equal(result.json.kind, kind);
  assert.equal(result.json.checks.length, checks);
  assert.equal(result.json.score, result.json.max);
  for (const check of result.json.checks) assert.ok(check.passed, `${check.name}: ${check.detail}`);
  assert.match(result.stdout, /every check passed/);
}

describe('policy-grade', () => {
  it('our broker gets full marks', async () => {
    assertFullMarks(await grade(['broker', '--start', `${BROKER} --port {port}`, '--json', ...SMALL]), 'broker', 10);
  });

  it('our HTTP front end gets full marks, started against the grader\'s servers.conf', async () => {
    assertFullMarks(await grade(['http-proxy', '--start', `${BROKER} --port 0 --http-port {port} --servers {servers}`, '--json', ...SMALL]), 'http-proxy', 8);
  });

  it('our server pool gets full marks, registering with the grader acting as a broker', async () => {
    assertFullMarks(await grade(['server', '--start', `${POOL} --broker {broker} --policy 111 --count 1`, '--json', ...SMALL]), 'server', 5);
  });

  it('http-proxy --servers FILE: the grader runs its backends at the instructor\'s addresses', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'grade-servers-'));
    after(() => rmSync(dir, { recursive: true, force: true }));
    const file = path.join(dir, 'servers.conf');
    writeFileSync(file, JSON.stringify({ backend_servers: [{ ip: '127.0.0.1', port: await freePort() }, { ip: '127.0.0.1', port: String(await freePort()) }] }));
    const result = await grade(['http-proxy', '--servers', file, '--start', `${BROKER} --port 0 --http-port {port} --servers {servers}`, '--json', ...SMALL]);
    assertFullMarks(result, 'http-proxy', 8);
    assert.match(result.json.checks.find((check: any) => check.name === 'balanced per request').detail, /over 2 backends: \d+ \/ \d+$/);
  });

  it('server --target dials a running server\'s port directly; the registration is not graded', async () => {
    const { broker, port } = await startBroker();
    const pool = start('pool', ['--broker', `127.0.0.1:${port}`, '--policy', '111', '--count', '1']);
    after(async () => {
      await pool.stop();
      await broker.stop();
    });
    const { servers } = await pool.ready;
    const result = await grade(['server', '--target', `127.0.0.1:${servers[0].port}`, '--json', ...SMALL]);
    assertFullMarks(result, 'server', 4);
    assert.ok(!result.json.checks.some((check: any) => check.name === 'registration well formed'));
  });

  it('a --batch run over the fixture folder: each flawed fixture fails exactly its check, the correct ones get full marks', async () => {
    const out = mkdtempSync(path.join(tmpdir(), 'grade-batch-'));
    after(() => rmSync(out, { recursive: true, force: true }));
    const result = await grade(['--batch', path.join(FIXTURES, 'manifest.json'), '--out', out, '--json', ...SMALL], 120_000);
    assert.equal(result.code, 1, result.stderr);
    const expected: Record<string, string[]> = {
      'broker-correct': [],
      'broker-per-connection': ['round-robin per packet'],
      'broker-cross-policy': ['policy isolation'],
      'broker-serial': ['several clients at the same time'],
      'broker-drop-dead': ['server killed mid-run'],
      'broker-die-on-malformed': ['malformed packet survived'],
      'proxy-correct': [],
      'proxy-per-connection': ['balanced per request'],
      'proxy-no-pipelining': ['pipelined requests in order'],
      'proxy-drop-request-id': ['X-Request-ID preserved'],
      'server-correct': [],
      'server-die-on-malformed': ['malformed packet survived'],
    };
    const summary = JSON.parse(readFileSync(path.join(out, 'grades.json'), 'utf8'));
    assert.deepEqual(result.json, JSON.parse(JSON.stringify(summary)));
    assert.equal(summary.submissions, Object.keys(expected).length);
    assert.equal(summary.ungraded, 0);
    assert.equal(summary.fullMarks, 3);
    for (const entry of summary.results) {
      const failed = entry.grade.checks.filter((check: any) => !check.passed).map((check: any) => check.name);
      assert.deepEqual(failed, expected[entry.name], `${entry.name}: ${JSON.stringify(entry.grade.checks.filter((check: any) => !check.passed))}`);
      assert.equal(entry.score, entry.max - entry.grade.checks.filter((check: any) => !check.passed).reduce((sum: number, check: any) => sum + check.max, 0));
    }
    const csv = readFileSync(path.join(out, 'grades.csv'), 'utf8').trimEnd().split('\n');
    assert.equal(csv.length, 1 + Object.keys(expected).length);
    assert.match(csv.find((line) => line.startsWith('broker-serial,'))!, /^broker-serial,broker,127\.0\.0\.1:\d+,20,22,no,several clients at the same time,$/);
  });

  it('--only and --skip choose the checks; the score counts only those', async () => {
    const result = await grade(['broker', '--start', `${BROKER} --port {port}`, '--only', 'round-robin,isolation,malformed', '--skip', 'malformed', '--json', ...SMALL]);
    assert.equal(result.code, 0, result.stderr);
    assert.deepEqual(result.json.checks.map((check: any) => check.name), ['round-robin per packet', 'policy isolation']);
    assert.equal(result.json.max, 6);
  });

  it('bad usage and an unreachable target exit 2 with one line', async () => {
    for (const args of [[], ['bogus'], ['broker'], ['broker', '--target', 'nowhere'], ['http-proxy', '--target', '127.0.0.1:1'], ['--batch', path.join(FIXTURES, 'broker.py')]]) {
      const result = await grade(args);
      assert.equal(result.code, 2, `${args.join(' ')}: ${result.stderr}`);
      assert.match(result.stderr, /^policy-grade: .+\n$/, args.join(' '));
    }
    const misspelt = await grade(['broker', '--start', 'sleep 30', '--only', 'nosuch']);
    assert.equal(misspelt.code, 2);
    assert.match(misspelt.stderr, /no check "nosuch"; the checks are: registration, answers/);
    const mixed = await grade(['--batch', path.join(FIXTURES, 'manifest.json'), '--only', 'round-robin']);
    assert.equal(mixed.code, 2);
    assert.match(mixed.stderr, /http-proxy: no check "round-robin"/);
    const unreachable = await grade(['broker', '--target', '127.0.0.1:1']);
    assert.equal(unreachable.code, 2);
    assert.match(unreachable.stderr, /127\.0\.0\.1:1 does not accept connections/);
    const version = await grade(['--version']);
    assert.equal(version.code, 0);
    assert.equal(version.stdout.trim(), JSON.parse(readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')).version);
  });

  it('a target that hangs fails every check in bounded time; one that dies leaves the later checks "not reachable"', async () => {
    const started = Date.now();
    const hangs = await grade(['broker', '--start', `python3 ${path.join(FIXTURES, 'silent.py')} {port}`, '--json', '--answer-timeout', '200', '--check-timeout', '1000']);
    assert.equal(hangs.code, 1, hangs.stderr);
    assert.equal(hangs.json.score, 0);
    assert.ok(hangs.json.checks.every((check: any) => !check.passed && /no answer within 200 ms|timed out after 1000 ms/.test(check.detail)), JSON.stringify(hangs.json.checks));
    assert.ok(Date.now() - started < 20_000);
    const dies = await grade(['broker', '--start', `python3 ${path.join(FIXTURES, 'silent.py')} {port} --exit-on-data`, '--json', '--answer-timeout', '500']);
    assert.equal(dies.code, 1, dies.stderr);
    assert.equal(dies.json.checks[0].passed, false);
    assert.deepEqual(dies.json.checks.slice(1).map((check: any) => check.detail), Array(9).fill('not reachable'));
  });
});

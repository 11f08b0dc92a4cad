/**
 * policy-grade against real targets: our own broker, server pool and HTTP front end get full
 * marks; every deliberately flawed fixture (test/fixtures/grade/) fails exactly the check it
 * should; bad usage and unreachable or broken targets end in bounded time with the right code.
 * Counts are small (the checks' sizes are options) so the whole file runs in well under a minute.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
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
    assertFullMarks(await grade(['http-proxy', '--start', `${BROKER} --port 0 --http-port {port} --servers {servers}`, '--json', ...SMALL]), 'http-proxy', 10);
  });

  it('our server pool gets full marks, registering with the grader acting as a broker', async () => {
    assertFullMarks(await grade(['server', '--start', `${POOL} --broker {broker} --policy 111 --count 1`, '--json', ...SMALL]), 'server', 6);
  });

  it('http-proxy --servers FILE: the grader runs its backends at the instructor\'s addresses', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'grade-servers-'));
    after(() => rmSync(dir, { recursive: true, force: true }));
    const file = path.join(dir, 'servers.conf');
    writeFileSync(file, JSON.stringify({ backend_servers: [{ ip: '127.0.0.1', port: await freePort() }, { ip: '127.0.0.1', port: String(await freePort()) }] }));
    const result = await grade(['http-proxy', '--servers', file, '--start', `${BROKER} --port 0 --http-port {port} --servers {servers}`, '--json', ...SMALL]);
    assertFullMarks(result, 'http-proxy', 10);
    assert.match(result.json.checks.find((check: any) => check.id === 'balance').detail, /over 2 backends: b1: \d+, b2: \d+$/);
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
    assertFullMarks(result, 'server', 5);
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
      'broker-readline': ['classic framing'],
      'broker-serial-backlog': ['several clients at the same time'],
      'proxy-correct': [],
      'proxy-per-connection': ['balanced per request'],
      'proxy-no-pipelining': ['pipelined requests in order'],
      'proxy-drop-request-id': ['X-Request-ID preserved'],
      'proxy-backend-per-request': ['backend connections reused'],
      'proxy-ignore-body': ['request body forwarded'],
      'proxy-negative-length': ['malformed request survived'],
      'server-correct': [],
      'server-die-on-malformed': ['malformed packet survived'],
      'server-swap-ids': ['reply fields (destid, srcid, rid)'],
      'server-no-rid': ['reply fields (destid, srcid, rid)'],
    };
    /** What the failed check's detail must say, to teach: the diagnosis of each flaw. */
    const diagnosis: Record<string, RegExp> = {
      'broker-per-connection': /served by server \d+ \(policy 111\): \d+, server \d+ \(policy 111\): \d+ .*balanced per connection\?/,
      'broker-serial': /one client at a time\?/,
      'broker-die-on-malformed': /malformed packet 1 \("this is not json\\n"\).*the submission exited \(code 1\); it printed: .*JSONDecodeError/,
      'broker-readline': /no newline after it.*followed by "\\n" was answered.*readline\(\)\?/,
      // Whether the listen queue of 2 refuses some of the clients or only holds them depends on
      // the kernel's SYN retries and the machine's load: either way the hint is the same.
      'broker-serial-backlog': /(clients connecting at once: \d+ of them got "no connection .*|clients stalled .*)one client at a time\?/,
      'proxy-no-pipelining': /\d+ answered, then/,
      'proxy-backend-per-request': /reached the backends over \d+ connections: a new backend connection per request\?/,
      'proxy-ignore-body': /the backend got body ""/,
      'proxy-negative-length': /"GET \/ HTTP\/1\.1\\r\\nHost: grader\\r\\nContent-Length: -5\\r\\n\\r\\n"\) was answered 200/,
      'server-die-on-malformed': /malformed packet 1 \("this is not json\\n"\) the server is gone.*the submission exited \(code 1\)/,
      'server-swap-ids': /destid "\d+", expected the packet's srcid/,
      'server-no-rid': /rid missing, expected \d+ \(the server declared maxInflight 4/,
    };
    const summary = JSON.parse(readFileSync(path.join(out, 'grades.json'), 'utf8'));
    assert.deepEqual(result.json, JSON.parse(JSON.stringify(summary)));
    assert.equal(summary.submissions, Object.keys(expected).length);
    assert.equal(summary.ungraded, 0);
    assert.equal(summary.fullMarks, 3);
    const killed = summary.results.find((entry: any) => entry.name === 'broker-cross-policy').grade.checks.find((check: any) => check.id === 'server-killed');
    // Who served the packets after the kill is read at the servers: a cross-policy broker's are named.
    assert.match(killed.detail, /served by server \d+ \(policy 111\): \d+, server \d+ \(policy 222\): \d+/);
    for (const entry of summary.results) {
      const failed = entry.grade.checks.filter((check: any) => !check.passed).map((check: any) => check.name);
      assert.deepEqual(failed, expected[entry.name], `${entry.name}: ${JSON.stringify(entry.grade.checks.filter((check: any) => !check.passed))}`);
      assert.equal(entry.score, entry.max - entry.grade.checks.filter((check: any) => !check.passed).reduce((sum: number, check: any) => sum + check.max, 0));
      if (diagnosis[entry.name] !== undefined) assert.match(entry.grade.checks.find((check: any) => !check.passed).detail, diagnosis[entry.name]!, entry.name);
      assert.ok(entry.grade.checks.every((check: any) => typeof check.id === 'string'));
      assert.equal(typeof entry.durationMs, 'number');
    }
    const csv = readFileSync(path.join(out, 'grades.csv'), 'utf8').trimEnd().split('\n');
    assert.equal(csv.length, 1 + Object.keys(expected).length);
    assert.match(csv[0]!, /^name,kind,target,score,max,passed,duration_s,failed_checks,broker\/registration,.*,http-proxy\/forwards,.*,server\/reply-fields,.*,feedback,error$/);
    assert.match(csv.find((line) => line.startsWith('broker-serial,'))!, /^broker-serial,broker,127\.0\.0\.1:\d+,20,22,no,[\d.]+,several clients at the same time,2,2,2,3,3,0,2,1,3,2,,.*,several clients at the same time: /);
  });

  it('--batch DIR: a folder with one sub-folder per student, each run with the --start command', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'grade-class-'));
    after(() => rmSync(dir, { recursive: true, force: true }));
    for (const [name, flaw] of [['alice', ''], ['bob', ' --flaw per-connection']]) {
      mkdirSync(path.join(dir, name));
      writeFileSync(path.join(dir, name, 'run.sh'), `exec python3 ${path.join(FIXTURES, 'broker.py')} "$1"${flaw}\n`);
    }
    const out = path.join(dir, 'grades');
    const result = await grade(['broker', '--batch', dir, '--start', 'sh run.sh {port}', '--out', out, '--only', 'registration,round-robin', '--json', ...SMALL]);
    assert.equal(result.code, 1, result.stderr);
    assert.deepEqual(result.json.results.map((entry: any) => [entry.name, entry.score, entry.max]), [['alice', 5, 5], ['bob', 2, 5]]);
    const csv = readFileSync(path.join(out, 'grades.csv'), 'utf8').trimEnd().split('\n');
    assert.equal(csv[0], 'name,kind,target,score,max,passed,duration_s,failed_checks,registration,round-robin,feedback,error');
    assert.match(csv[2]!, /^bob,broker,.*,2,0,"round-robin per packet: .*balanced per connection\?/);
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
    const noKind = await grade(['--target', '127.0.0.1:1']);
    assert.equal(noKind.code, 2);
    assert.match(noKind.stderr, /--target belongs to a subcommand, which is missing/);
  });
});

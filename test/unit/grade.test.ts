import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { balanceFloor, isBalanced } from '../../scripts/grade/balance.js';
import { loadBatch, parseManifest, ManifestError } from '../../scripts/grade/batch.js';
import { CheckSelectionError, gradeOf, parseCheckList, resultOf, selectChecks, type Check, type Scope } from '../../scripts/grade/check.js';
import { Inbox } from '../../scripts/grade/inbox.js';
import { randomServerIds } from '../../scripts/grade/options.js';
import { OutputTail } from '../../scripts/grade/output-tail.js';
import { wrongFields } from '../../scripts/grade/server-checks.js';
import { batchCsv, formatBatch, formatGrade } from '../../scripts/grade/report.js';
import { ResponseParser, type Response } from '../../scripts/grade/response-parser.js';
import { NOT_REACHABLE, runChecks } from '../../scripts/grade/runner.js';
import { fillPlaceholders } from '../../scripts/grade/submission.js';

const checks = [
  { id: 'a', name: 'first check', points: 2 },
  { id: 'b', name: 'second check', points: 3 },
  { id: 'c', name: 'third check', points: 1 },
];

describe('grade scoring', () => {
  it('a passed check earns its points, a failed one none; the grade sums both', () => {
    const rows = [resultOf(checks[0]!, { passed: true, detail: 'ok' }), resultOf(checks[1]!, { passed: false, detail: 'no' })];
    assert.deepEqual(rows[1], { id: 'b', name: 'second check', passed: false, points: 0, max: 3, detail: 'no' });
    const grade = gradeOf('127.0.0.1:1', 'broker', rows);
    assert.equal(grade.score, 2);
    assert.equal(grade.max, 5);
    assert.deepEqual(Object.keys(grade), ['target', 'kind', 'score', 'max', 'checks']);
  });

  it('--only and --skip keep the checks\' order, match ids or names, and refuse unknown ones', () => {
    assert.deepEqual(selectChecks(checks, ['c', 'First Check']).map((c) => c.id), ['a', 'c']);
    assert.deepEqual(selectChecks(checks, [], ['b']).map((c) => c.id), ['a', 'c']);
    assert.deepEqual(selectChecks(checks, ['a', 'b'], ['a']).map((c) => c.id), ['b']);
    assert.throws(() => selectChecks(checks, ['nope']), (err: unknown) => err instanceof CheckSelectionError && /no check "nope".*a, b, c/.test(err.message));
    assert.deepEqual(parseCheckList(' a, b,,c ', ['x']), ['x', 'a', 'b', 'c']);
  });
});

describe('grade balance', () => {
  it('every server must get at least half its fair share', () => {
    assert.equal(balanceFloor(300, 2), 75);
    assert.ok(isBalanced([150, 150], 300));
    assert.ok(isBalanced([75, 225], 300));
    assert.ok(!isBalanced([74, 226], 300));
    assert.ok(!isBalanced([300, 0, 0], 300));
    assert.ok(isBalanced([100, 100, 100], 300));
  });
});

describe('grade runner', () => {
  const check = (id: string, run: Check<null>['run']): Check<null> => ({ id, name: id, points: 1, run });

  it('a check that overruns its time fails, its scope is closed, and what it opens later is closed at once', async () => {
    let destroyed = 0;
    let late: Scope | undefined;
    const results = await runChecks(
      [check('slow', (_, scope) => { late = scope; scope.own({ destroy: () => destroyed++ }); return new Promise(() => undefined); })],
      null,
      { checkTimeoutMs: 50, reachable: async () => true },
    );
    assert.equal(results[0]!.passed, false);
    assert.match(results[0]!.detail, /timed out after 50 ms/);
    assert.equal(destroyed, 1);
    late!.own({ destroy: () => destroyed++ });
    assert.equal(destroyed, 2);
  });

  it('after a failure the target is probed; once unreachable, later checks are "not reachable" without running', async () => {
    let ran = 0;
    let probes = 0;
    const results = await runChecks(
      [check('ok', async () => { ran++; return { passed: true, detail: '' }; }), check('throws', async () => { ran++; throw new Error('boom'); }), check('later', async () => { ran++; return { passed: true, detail: '' }; })],
      null,
      { checkTimeoutMs: 1000, reachable: async () => (probes++, false) },
    );
    assert.deepEqual(results.map((r) => [r.passed, r.detail]), [[true, ''], [false, 'boom'], [false, NOT_REACHABLE]]);
    assert.equal(ran, 2);
    assert.equal(probes, 1);
  });

  it('a failure on a target still reachable lets the next check run', async () => {
    const results = await runChecks([check('fails', async () => ({ passed: false, detail: 'x' })), check('next', async () => ({ passed: true, detail: 'y' }))], null, { checkTimeoutMs: 1000, reachable: async () => true });
    assert.deepEqual(results.map((r) => r.passed), [false, true]);
  });
});

describe('grade report', () => {
  const grade = gradeOf('127.0.0.1:2200', 'broker', [resultOf(checks[0]!, { passed: true, detail: '10 / 10' }), resultOf(checks[1]!, { passed: false, detail: 'lost 3' })]);

  it('the table has a row per check, its points, and the score', () => {
    const text = formatGrade(grade);
    const lines = text.trimEnd().split('\n');
    assert.equal(lines[0], 'broker at 127.0.0.1:2200');
    assert.match(lines[1]!, /^result\s+points\s+check\s+detail$/);
    assert.match(lines[3]!, /^pass\s+2\/2\s+first check\s+10 \/ 10$/);
    assert.match(lines[4]!, /^FAIL\s+0\/3\s+second check\s+lost 3$/);
    assert.equal(lines[5], 'score 2/5: 1 of 2 checks failed');
  });

  it('the CSV has a points column per check and a feedback column, quotes what needs it, neutralises formulas, and keeps ungraded submissions', () => {
    const csv = batchCsv([
      { name: 'alice', kind: 'broker', grade, durationMs: 1234 },
      { name: 'bob, "the" builder', kind: 'broker', error: 'exited (code 1)', durationMs: 50 },
      { name: '=HYPERLINK("http://x","y")', kind: 'broker', error: '@SUM(1)', durationMs: 50 },
    ]);
    assert.deepEqual(csv.trimEnd().split('\n'), [
      'name,kind,target,score,max,passed,duration_s,failed_checks,a,b,feedback,error',
      'alice,broker,127.0.0.1:2200,2,5,no,1.2,second check,2,0,second check: lost 3,',
      '"bob, ""the"" builder",broker,,0,,no,0.1,,,,,exited (code 1)',
      `"'=HYPERLINK(""http://x"",""y"")",broker,,0,,no,0.1,,,,,'@SUM(1)`,
    ]);
    assert.match(formatBatch([{ name: 'alice', kind: 'broker', grade }]), /alice\s+broker\s+2\/5\s+second check/);
  });

  it('a batch of several kinds names each points column kind/id, empty where the kind has no such check', () => {
    const proxy = gradeOf('127.0.0.1:8080', 'http-proxy', [resultOf({ id: 'a', name: 'first check', points: 2 }, { passed: true, detail: '' })]);
    const [header, alice, carol] = batchCsv([{ name: 'alice', kind: 'broker', grade }, { name: 'carol', kind: 'http-proxy', grade: proxy }]).trimEnd().split('\n');
    assert.equal(header, 'name,kind,target,score,max,passed,duration_s,failed_checks,broker/a,broker/b,http-proxy/a,feedback,error');
    assert.match(alice!, /,2,0,,second check: lost 3,$/);
    assert.match(carol!, /,,,2,,$/);
  });
});

describe('grade manifest', () => {
  it('reads submissions with a kind from the entry, the top or the subcommand; cwd relative to the manifest', () => {
    const entries = parseManifest(
      JSON.stringify({ kind: 'broker', submissions: [{ name: 'a', command: 'python3 b.py {port}', port: '9001', cwd: 'alice' }, { command: 'x', kind: 'http-proxy', port: 0 }] }),
      '/class',
    );
    assert.deepEqual(entries, [
      { name: 'a', kind: 'broker', command: 'python3 b.py {port}', port: 9001, cwd: '/class/alice' },
      { name: 'submission-2', kind: 'http-proxy', command: 'x', port: undefined, cwd: '/class' },
    ]);
    assert.equal(parseManifest('[{"command":"x"}]', '/c', 'server')[0]!.kind, 'server');
  });

  it('says which entry is wrong and why', () => {
    const bad: Array<[string, RegExp]> = [
      ['nope', /not JSON/],
      ['{"submissions":{}}', /expected \{"submissions"/],
      ['[{"name":"a"}]', /submissions\[0\]: "command"/],
      ['[{"command":"x"}]', /submissions\[0\]: no "kind"/],
      ['[{"command":"x","kind":"proxy"}]', /"kind" must be one of broker, server, http-proxy/],
      ['[{"command":"x","kind":"broker","port":70000}]', /"port" must be 0-65535/],
      ['[{"name":"a","command":"x","kind":"broker"},{"name":"a","command":"y","kind":"broker"}]', /submissions\[1\]: the name "a" is used twice/],
    ];
    for (const [text, message] of bad) assert.throws(() => parseManifest(text, '/c'), (err: unknown) => err instanceof ManifestError && message.test(err.message), text);
  });

  it('fills the placeholders it knows and leaves others', () => {
    assert.equal(fillPlaceholders('run {port} {servers} {other} {port}', { port: 8080, servers: '/tmp/s.conf' }), 'run 8080 /tmp/s.conf {other} 8080');
  });
});

describe('grade HTTP response parser', () => {
  const responses = [
    'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-A: 1\r\nX-A: 2\r\n\r\nhello',
    'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3;ext=1\r\nabc\r\n2\r\nde\r\n0\r\nTrailer: x\r\n\r\n',
    'HTTP/1.1 204 No Content\r\n\r\n',
    'HTTP/1.0 200 OK\r\n\r\nuntil close',
  ].join('');

  it('frames Content-Length, chunked, no-body and close-delimited responses, split at every byte', () => {
    const bytes = Buffer.from(responses);
    for (let split = 0; split <= bytes.length; split++) {
      const got: Response[] = [];
      const parser = new ResponseParser((r) => got.push(r), (message) => assert.fail(message));
      parser.push(bytes.subarray(0, split));
      parser.push(bytes.subarray(split));
      parser.end();
      assert.deepEqual(got.map((r) => [r.status, r.body.toString()]), [[200, 'hello'], [200, 'abcde'], [204, ''], [200, 'until close']], `split at ${split}`);
      assert.equal(got[0]!.headers['x-a'], '1, 2');
    }
  });

  it('reports what it cannot frame', () => {
    const errors: string[] = [];
    const parser = new ResponseParser(() => assert.fail('no response expected'), (message) => errors.push(message));
    parser.push(Buffer.from('SSH-2.0-OpenSSH\r\n\r\n'));
    assert.match(errors[0]!, /not an HTTP\/1\.x status line/);
    const cut = new ResponseParser(() => undefined, (message) => errors.push(message));
    cut.push(Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc'));
    cut.end();
    assert.match(errors[1]!, /closed in the middle of a response body/);
  });
});

describe('grade inbox', () => {
  it('hands items to a waiting reader, queues the rest, then says closed; a wait is bounded', async () => {
    const inbox = new Inbox<number>();
    const waiting = inbox.next(1000);
    inbox.deliver(1);
    inbox.deliver(2);
    assert.deepEqual(await waiting, { kind: 'item', item: 1 });
    assert.deepEqual(await inbox.next(10), { kind: 'item', item: 2 });
    assert.deepEqual(await inbox.next(10), { kind: 'timeout' });
    inbox.close();
    assert.deepEqual(await inbox.next(10), { kind: 'closed' });
  });
});

describe('grade bounds: nothing a target sends grows the grader without limit', () => {
  it('a body over the limit is "response too large", by Content-Length, chunked or until close', () => {
    const cases = [
      'HTTP/1.1 200 OK\r\nContent-Length: 999999999999\r\n\r\nxx',
      `HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n${'10\r\n0123456789abcdef\r\n'.repeat(10)}`,
      `HTTP/1.0 200 OK\r\n\r\n${'y'.repeat(200)}`,
    ];
    for (const text of cases) {
      const errors: string[] = [];
      const parser = new ResponseParser(() => assert.fail('no response expected'), (message) => errors.push(message), 100);
      parser.push(Buffer.from(text));
      parser.push(Buffer.from('more bytes after the error are ignored'));
      assert.equal(errors.length, 1, text.slice(0, 40));
      assert.match(errors[0]!, /^response too large/);
    }
    const ok: Response[] = [];
    new ResponseParser((r) => ok.push(r), (message) => assert.fail(message), 100).push(Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n' + 'z'.repeat(100)));
    assert.equal(ok[0]!.body.length, 100);
  });

  it('an inbox past its capacity stops taking items, says closed once read, and reports the overflow once', async () => {
    let overflows = 0;
    const inbox = new Inbox<number>(3, () => overflows++);
    for (let i = 0; i < 10; i++) inbox.deliver(i);
    assert.equal(overflows, 1);
    const read = [];
    for (let i = 0; i < 4; i++) read.push(await inbox.next(10));
    assert.deepEqual(read.map((next) => (next.kind === 'item' ? next.item : next.kind)), [0, 1, 2, 'closed']);
  });

  it('the output tail keeps only the last bytes, whole lines first, and counts them all', () => {
    const tail = new OutputTail(64);
    for (let i = 0; i < 1000; i++) tail.push(Buffer.from(`line ${i}\n`));
    tail.push(Buffer.from('Traceback (most recent call last):\nValueError: boom\n'));
    assert.ok(tail.text().length <= 64);
    assert.deepEqual(tail.lastLines(2), ['Traceback (most recent call last):', 'ValueError: boom']);
    assert.ok(tail.total > 6000);
    const huge = new OutputTail(10);
    huge.push(Buffer.alloc(1_000_000, 'a'));
    assert.equal(huge.text(), 'a'.repeat(10));
    assert.equal(huge.total, 1_000_000);
  });
});

describe('grade feedback pieces', () => {
  it('server ids are three distinct ids, different from run to run', () => {
    const runs = Array.from({ length: 20 }, () => randomServerIds());
    for (const ids of runs) assert.equal(new Set(Object.values(ids)).size, 3);
    assert.ok(new Set(runs.map((ids) => ids.a1)).size > 1);
  });

  it('reply fields: each wrong field named once, a missing one as "missing"', () => {
    const expected = { srcid: 7001, rid: 5, id: 300, maxInflight: 4 };
    assert.equal(wrongFields({ destid: 7001, srcid: '300', rid: 5 }, expected), null);
    const wrong = wrongFields({ destid: 300, srcid: 7001 }, expected)!;
    assert.match(wrong, /destid 300, expected the packet's srcid 7001/);
    assert.match(wrong, /srcid 7001, expected the registered id 300/);
    assert.match(wrong, /rid missing, expected 5/);
    assert.doesNotMatch(wrong, /undefined/);
  });

  it('--batch DIR: one submission per sub-folder, named by it, run there with the --start command', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'grade-class-'));
    try {
      for (const name of ['bob', 'alice', '.git']) mkdirSync(path.join(dir, name));
      writeFileSync(path.join(dir, 'notes.txt'), '');
      assert.deepEqual(loadBatch(dir, 'broker', 'python3 broker.py {port}'), [
        { name: 'alice', kind: 'broker', command: 'python3 broker.py {port}', port: undefined, cwd: path.join(dir, 'alice') },
        { name: 'bob', kind: 'broker', command: 'python3 broker.py {port}', port: undefined, cwd: path.join(dir, 'bob') },
      ]);
      assert.throws(() => loadBatch(dir, 'broker', undefined), /is a folder: give the command .* --start/);
      assert.throws(() => loadBatch(dir, undefined, 'x'), /is a folder: name the kind/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('which malformed packet killed a submission', () => {
  it('is the first whose connection closed without an answer, else the last sent: a dying process may still accept a connection', async () => {
    const { killer } = await import('../../scripts/grade/check.js');
    assert.equal(killer(['closed', 'closed'], 2), 0);
    assert.equal(killer(['type 3', 'closed'], 2), 1);
    assert.equal(killer(['type 3', 'type 3'], 2), 1);
  });
});

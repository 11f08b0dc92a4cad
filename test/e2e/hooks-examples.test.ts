/** Each interceptor example runs with one command (npm run example -- NAME) and does what it shows. */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { test } from 'node:test';
import { REPO_ROOT } from '../helpers/programs.js';

/** Runs dist/scripts/examples/run.js NAME (bounded); its exit code and last JSON line. */
function example(name: string): Promise<{ code: number | null; json: any; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [path.join(REPO_ROOT, 'dist', 'scripts', 'examples', 'run.js'), name], {
      cwd: REPO_ROOT,
      env: { ...process.env, POLICY_BROKER_LOG_LEVEL: 'warn', POLICY_SERVER_POOL_LOG_LEVEL: 'warn' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.setEncoding('utf8').on('data', (text: string) => (output += text));
    child.stderr.setEncoding('utf8').on('data', (text: string) => (output += text));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      const last = output.trim().split('\n').filter((line) => line.startsWith('{')).at(-1);
      resolve({ code, json: last === undefined ? undefined : JSON.parse(last), output });
    });
  });
}

test('search-rerank: the hits come back re-ranked from a magnified search', async () => {
  const r = await example('search-rerank');
  assert.equal(r.code, 0, r.output);
  assert.deepEqual(r.json.direct, ['d1', 'd2', 'd3']);
  assert.deepEqual(r.json.reranked, ['d3', 'd5', 'd1']);
  assert.equal(r.json.askedFor, 15);
});

test('inject-headers: the backend and the client see the added headers', async () => {
  const r = await example('inject-headers');
  assert.equal(r.code, 0, r.output);
  assert.equal(r.json.backendSaw.policy, '111');
});

test('redact-policy: policy 222 is redacted both ways, 111 untouched', async () => {
  const r = await example('redact-policy');
  assert.equal(r.code, 0, r.output);
  assert.equal(r.json.policy222, 'call [email] or [phone]');
  assert.equal(r.json.policy111, r.json.sent);
});

test('maintenance: a canned 503 while the flag exists, without asking the backend', async () => {
  const r = await example('maintenance');
  assert.equal(r.code, 0, r.output);
  assert.deepEqual([r.json.before, r.json.during, r.json.after, r.json.elsewhere, r.json.backendAsked], [200, 503, 200, 200, 3]);
});

test('an unknown example prints its usage and exits 2', async () => {
  const r = await example('nope');
  assert.equal(r.code, 2);
  assert.match(r.output, /usage: npm run example -- <search-rerank\|inject-headers\|redact-policy\|maintenance>/);
});

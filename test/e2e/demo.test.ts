import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { test } from 'node:test';
import { REPO_ROOT } from '../helpers/programs.js';

test('npm run demo runs the classic lab, verifies every answer and exits 0 by itself', () => {
  const result = spawnSync(process.execPath, [path.join(REPO_ROOT, 'dist/scripts/demo.js')], { encoding: 'utf8', timeout: 60000 });
  assert.equal(result.status, 0, result.stdout + result.stderr);
  assert.match(result.stdout, /Every packet answered by a server of its own policy/);
  const clientRows = result.stdout.split('\n').filter((line) => /^\d+\s+(111|222)\s+\d+\s+yes$/.test(line));
  assert.equal(clientRows.length, 15, result.stdout);
  assert.match(result.stdout, /100: 1000, 300: 1000/);
  assert.match(result.stdout, /200: 1000, 400: 1000/);
});

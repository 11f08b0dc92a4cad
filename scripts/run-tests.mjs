#!/usr/bin/env node
/**
 * Runs node's test runner on every *.test.js below one folder of dist/test, the same on every
 * supported Node: Node 20 takes a folder after --test and searches it, Node 22 and later take
 * files and globs only (a folder is read as a module and fails).
 *
 *   node scripts/run-tests.mjs dist/test/unit --test-concurrency=2
 */
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import path from 'node:path';

const [folder, ...flags] = process.argv.slice(2);
if (folder === undefined) {
  process.stderr.write('usage: node scripts/run-tests.mjs FOLDER [node --test flags…]\n');
  process.exit(2);
}
const files = readdirSync(folder, { recursive: true })
  .map(String)
  .filter((file) => file.endsWith('.test.js'))
  .sort()
  .map((file) => path.join(folder, file));
if (files.length === 0) {
  process.stderr.write(`no *.test.js below ${folder}: build first (npm run build)\n`);
  process.exit(1);
}
const result = spawnSync(process.execPath, ['--test', ...flags, ...files], { stdio: 'inherit' });
process.exit(result.status ?? 1);

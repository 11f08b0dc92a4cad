/**
 * The cost of interceptors, measured with the bench's side-by-side runs (--variant NAME=DIR):
 * writes two "builds" that are this build started with a plugin, and prints the --variant
 * arguments for them.
 *
 *   hooks-none-match   interceptors for HTTP and packets, matching nothing the bench sends
 *   hooks-passthrough  one interceptor with all four hooks, matching everything, changing nothing
 *
 *   node dist/scripts/bench/hook-variants.js [DIR]   (default: a new temporary directory)
 *   flock /tmp/bench.lock npm run bench -- --quick $(node dist/scripts/bench/hook-variants.js)
 *
 * Each variant's broker/main.js sets POLICY_BROKER_PLUGIN and runs this build's main.js, under
 * the same #! line (the bench starts each build with its own node flags).
 */
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { PROGRAMS } from '../lib/programs.js';

const PLUGINS = {
  'hooks-none-match': `export default [
  { name: 'http-none', match: { path: /^\\/never-requested$/ }, onRequest() {}, onResponse() {} },
  { name: 'packets-none', match: { policies: [987654321] }, onPacket() {}, onReply() {} },
];
`,
  'hooks-passthrough': `export default { name: 'passthrough', onRequest() {}, onResponse() {}, onPacket() {}, onReply() {} };
`,
};

const dir = path.resolve(process.argv[2] ?? mkdtempSync(path.join(tmpdir(), 'policy-broker-hook-variants-')));
const args: string[] = [];
for (const [name, source] of Object.entries(PLUGINS)) {
  const root = path.join(dir, name);
  mkdirSync(path.join(root, 'broker'), { recursive: true });
  mkdirSync(path.join(root, 'server-pool'), { recursive: true });
  const plugin = path.join(root, 'plugin.mjs');
  writeFileSync(plugin, source);
  writeFileSync(path.join(root, 'broker', 'main.js'), wrapper(PROGRAMS.broker, `process.env.POLICY_BROKER_PLUGIN = ${JSON.stringify(plugin)};\n`));
  writeFileSync(path.join(root, 'server-pool', 'main.js'), wrapper(PROGRAMS.pool, ''));
  args.push('--variant', `${name}=${root}`);
}
console.log(args.join(' '));

/** A main.js that runs `target` (after `prelude`) under target's own #! line. */
function wrapper(target: string, prelude: string): string {
  const shebang = readFileSync(target, 'utf8').split('\n', 1)[0]!;
  return `${shebang.startsWith('#!') ? shebang : '#!/usr/bin/env node'}\n${prelude}await import(${JSON.stringify(pathToFileURL(target).href)});\n`;
}

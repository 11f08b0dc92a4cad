#!/usr/bin/env node
/**
 * Where an HTTP request's CPU goes in the broker (issue 26): the broker's HTTP front end over
 * the bench's three nginx backends, under `wrk -t1 -c256` (the 256-connection case), with
 * `--cpu-prof`; the profile's samples are summed by who runs them (node:http, undici, streams
 * and sockets, the broker's own modules, GC) and written to docs/benchmarks-http-profile.md.
 *
 *   node dist/scripts/bench/http-profile.js [--seconds 10] [--out FILE]
 *
 * Run it on a quiet machine, as the bench. The shares are of the broker's busy time over the
 * whole profile (start, warm-up and the measured window); the bench has the CPU per request.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { PROGRAMS, REPO_ROOT, shebangFlags } from '../lib/programs.js';
import { HTTP_BACKENDS } from './config.js';
import { backendConfig } from './http-cases.js';
import { freePort, readyLine, spawnChild, waitForPort } from './processes.js';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string };
}
interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** Who a sample's function belongs to, by its script (native functions have none). */
export function categoryOf(functionName: string, url: string): string {
  if (functionName === '(idle)') return 'idle';
  if (functionName === '(garbage collector)') return 'garbage collector';
  if (functionName === '(program)' || functionName === '(root)') return 'V8 and Node outside JavaScript';
  if (url.includes('/node_modules/undici/') || url.startsWith('wasm://')) return 'undici (with its llhttp parser)';
  if (url.includes('/dist/broker/')) return 'policy-broker';
  if (/^node:_http_|^node:http$|^node:internal\/http/.test(url)) return 'node:http (server side)';
  if (url === '') return 'native: socket writes and reads, string encoding';
  if (/^node:(net|internal\/(streams|stream_base_commons|net))/.test(url)) return 'streams and sockets (JavaScript)';
  return 'other Node internals (events, timers, async context, buffers)';
}

/** Self time per category and per function, in µs, over the whole profile. */
export function summarize(profile: CpuProfile): { byCategory: Map<string, number>; byFunction: Map<string, number> } {
  const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
  const byCategory = new Map<string, number>();
  const byFunction = new Map<string, number>();
  profile.samples.forEach((id, i) => {
    const frame = nodes.get(id)!.callFrame;
    const dt = profile.timeDeltas[i] ?? 0;
    const category = categoryOf(frame.functionName, frame.url);
    byCategory.set(category, (byCategory.get(category) ?? 0) + dt);
    if (category === 'idle') return;
    const where = frame.url === '' ? '' : ` (${frame.url.replace(/.*\/(dist|node_modules)\//, '$1/')})`;
    const key = `${frame.functionName || '(anonymous)'}${where}`;
    byFunction.set(key, (byFunction.get(key) ?? 0) + dt);
  });
  return { byCategory, byFunction };
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { seconds: { type: 'string', default: '10' }, out: { type: 'string', default: path.join(REPO_ROOT, 'docs/benchmarks-http-profile.md') } } });
  const seconds = Number(values.seconds);
  const dir = mkdtempSync(path.join(tmpdir(), 'policy-broker-http-profile-'));
  const children = [];
  try {
    const ports = await Promise.all(Array.from({ length: HTTP_BACKENDS }, () => freePort()));
    writeFileSync(path.join(dir, 'backends.conf'), backendConfig(dir, ports));
    const backends = spawnChild('nginx', ['-e', path.join(dir, 'startup.log'), '-p', dir, '-c', path.join(dir, 'backends.conf')]);
    children.push(backends);
    for (const port of ports) await waitForPort(port, 15000, backends);
    writeFileSync(path.join(dir, 'servers.conf'), JSON.stringify({ backend_servers: ports.map((port) => ({ ip: '127.0.0.1', port })) }));
    const httpPort = await freePort();
    const profDir = path.join(dir, 'profile');
    const broker = spawnChild(process.execPath, [
      ...shebangFlags(PROGRAMS.broker),
      '--cpu-prof',
      `--cpu-prof-dir=${profDir}`,
      PROGRAMS.broker,
      '--port',
      '0',
      '--http-port',
      String(httpPort),
      '--servers',
      path.join(dir, 'servers.conf'),
    ]);
    children.push(broker);
    await readyLine(broker);
    const target = `http://127.0.0.1:${httpPort}/`;
    const warm = spawnChild('wrk', ['-t1', '-c256', '-d2s', target]);
    await warm.exited;
    const wrk = spawnChild('wrk', ['-t1', '-c256', `-d${seconds}s`, target]);
    await wrk.exited;
    const requests = Number(/(\d+) requests in/.exec(wrk.lines.join('\n'))?.[1] ?? NaN);
    await broker.stop('SIGINT');
    const file = readdirSync(profDir).find((f) => f.endsWith('.cpuprofile'));
    if (file === undefined) throw new Error('the broker wrote no CPU profile');
    const { byCategory, byFunction } = summarize(JSON.parse(readFileSync(path.join(profDir, file), 'utf8')) as CpuProfile);
    writeFileSync(values.out, render(byCategory, byFunction, requests, seconds));
    process.stderr.write(`written: ${values.out}\n`);
  } finally {
    await Promise.all(children.map((c) => c.stop()));
    rmSync(dir, { recursive: true, force: true });
  }
}

function render(byCategory: Map<string, number>, byFunction: Map<string, number>, requests: number, seconds: number): string {
  const busy = [...byCategory].filter(([c]) => c !== 'idle').reduce((sum, [, us]) => sum + us, 0);
  const rows = [...byCategory]
    .filter(([c]) => c !== 'idle')
    .sort((a, b) => b[1] - a[1])
    .map(([c, us]) => `| ${c} | ${((100 * us) / busy).toFixed(1)} % |`);
  const top = [...byFunction]
    .sort((a, b) => b[1] - a[1])
    .slice(0, 20)
    .map(([f, us]) => `| ${f.replace(/\|/g, '\\|')} | ${((100 * us) / busy).toFixed(1)} % |`);
  return [
    '# Where an HTTP request\'s CPU goes',
    '',
    '<!-- Generated by `node dist/scripts/bench/http-profile.js` (scripts/bench/http-profile.ts); do not edit by hand. -->',
    '',
    `Measured on ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC with Node ${process.version}: the broker's HTTP front end over three nginx ` +
      `backends, \`wrk -t1 -c256 -d${seconds}s\` after a 2 s warm-up, the broker run with \`--cpu-prof\`. wrk counted ${requests.toLocaleString('en-US')} ` +
      `requests in the window (${Math.round(requests / seconds).toLocaleString('en-US')}/s); the broker was busy ${(busy / 1e6).toFixed(1)} s over the whole ` +
      `profile (start, warm-up and window). Shares are of that busy time, each function's own time (not what it calls).`,
    '',
    '| who | share of the broker\'s CPU |',
    '| --- | --- |',
    ...rows,
    '',
    'The twenty functions with the most time of their own:',
    '',
    '| function | share |',
    '| --- | --- |',
    ...top,
    '',
    'Native time (no script) is mostly the socket system calls and the copies into and out of JavaScript strings. ' +
      'The bench (docs/benchmarks.md) has the CPU per request of each proxy side by side; this file says what ours is made of.',
    '',
  ].join('\n');
}

if (process.argv[1] !== undefined && import.meta.url === `file://${process.argv[1]}`) await main();

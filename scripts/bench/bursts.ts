/**
 * The bursts suite (npm run bench -- --only bursts): new connections at the assignment's scale,
 * policy-broker beside nginx as the load balancer over the same three nginx sites,
 * on every Node runtime at hand (the machine's, and Node 24 LTS from scripts/node24.sh).
 *
 * - "assignment": the HTTP assignment's own `wrk -t10 -c1000 -d10s --latency`: throughput,
 *   p99, errors and timeouts (connections wrk opened and never got an answer on).
 * - "1000 at once": 1,000 connections opened at once while `wrk -t2 -c128` keeps the front end
 *   busy: how many waited more than 2 s, p50/p99/max of the wait (scripts/lib/connection-burst.ts).
 *   policy-broker on Node 24 also runs with --listen-sockets 1, 4 and 32 beside the default:
 *   the measurement the default is chosen by.
 *
 * Every case reports the kernel's ListenOverflows (as nstat shows them) during it.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { connectionBurst, HTTP_BURST, listenOverflows } from '../lib/connection-burst.js';
import { PROGRAMS, REPO_ROOT, shebangFlags } from '../lib/programs.js';
import { BROKER_DEFAULTS } from '../../broker/options.js';
import { CpuMeter, freePort, processTree, sleep, spawnChild, waitForPort, waitForQuiet, type Child } from './processes.js';
import type { RunRecord } from './results.js';

export const BURST_SUITES = { assignment: 'bursts-assignment', atOnce: 'bursts-1000-at-once' } as const;
const BURST = 1000;
const WITHIN_MS = 2000;
const ASSIGNMENT_SECONDS = 10;
/** The busy load runs this long at most; the burst starts 2 s into it. */
const BUSY_SECONDS = 12;
const SOCKET_COUNTS = [1, 4, 32];

export interface BurstContext {
  rounds: number;
  log: (line: string) => void;
  /** The Node runtimes to run the broker on (runtimes()): found once per bench run. */
  runtimes: readonly Runtime[];
}

export interface Runtime {
  /** "node 24.22.3" */
  name: string;
  node: string;
}

interface Target {
  name: string;
  port: number;
  runtime: string;
  pids: () => number[];
}

/** The machine's Node, and Node 24 LTS beside it when it is another version. */
export function runtimes(log: (line: string) => void): Runtime[] {
  const list: Runtime[] = [{ name: `node ${process.versions.node}`, node: process.execPath }];
  if (process.versions.node.startsWith('24.')) return list;
  const found = spawnSync('bash', [path.join(REPO_ROOT, 'scripts/node24.sh')], { encoding: 'utf8' });
  const dir = found.stdout.trim().split('\n').at(-1) ?? '';
  if (found.status !== 0 || dir === '') {
    log(`  Node 24 could not be had (scripts/node24.sh: ${found.stderr.trim().slice(-200)}): the machine's Node only`);
    return list;
  }
  const node = path.join(dir, 'node');
  const version = spawnSync(node, ['--version'], { encoding: 'utf8' }).stdout.trim().replace(/^v/, '');
  return [{ name: `node ${version}`, node }, ...list];
}

/**
 * Three sites in one nginx as Debian ships it (one worker, keep-alive 65 s), but with room for
 * connections: with the stock worker_connections 768, nginx as the load balancer opens more
 * than that to the sites under -c1000 and answers most requests 502 (docs/benchmarks-c1000.md),
 * which would make it no reference.
 */
function sitesConfig(dir: string, ports: number[]): string {
  const servers = ports
    .map((port, i) => {
      const root = path.join(dir, `site${i + 1}`);
      mkdirSync(root, { recursive: true });
      writeFileSync(path.join(root, 'index.html'), `<h1>site ${i + 1}</h1>\n`);
      return `  server { listen 127.0.0.1:${port}; root ${root}; }`;
    })
    .join('\n');
  return `${common(dir, 'sites', 8192)}  keepalive_timeout 65;\n  sendfile on;\n${servers}\n}\n`;
}

/** nginx as the load balancer, as the assignment's reference: the connections 1,000 clients need, keep-alive to the sites. */
function balancerConfig(dir: string, port: number, sites: number[]): string {
  return `${common(dir, 'lb', 4096)}  upstream sites { ${sites.map((p) => `server 127.0.0.1:${p};`).join(' ')} keepalive 256; }
  server { listen 127.0.0.1:${port}; location / { proxy_pass http://sites; proxy_http_version 1.1; proxy_set_header Connection ""; } }
}
`;
}

function common(dir: string, name: string, connections: number): string {
  const tmp = path.join(dir, `${name}-tmp`);
  mkdirSync(tmp, { recursive: true });
  chmodSync(tmp, 0o777);
  const temps = ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((t) => `  ${t}_temp_path ${tmp}/${t};`).join('\n');
  return `${process.getuid?.() === 0 ? 'user root;\n' : ''}daemon off;
worker_processes 1;
pid ${dir}/${name}.pid;
error_log ${dir}/${name}-error.log warn;
events { worker_connections ${connections}; }
http {
  access_log off;
${temps}
`;
}

const WRK_LUA = `
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('WRKJSON {"requests":%d,"durationUs":%d,"connect":%d,"read":%d,"write":%d,"timeout":%d,"non2xx":%d,"p50Us":%d,"p99Us":%d,"maxUs":%d}\\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.timeout, e.status,
    latency:percentile(50), latency:percentile(99), latency.max))
end
`;

export async function burstSuite(ctx: BurstContext): Promise<RunRecord[]> {
  const dir = mkdtempSync(path.join(tmpdir(), 'policy-broker-bursts-'));
  chmodSync(dir, 0o755);
  writeFileSync(path.join(dir, 'report.lua'), WRK_LUA);
  const children: Child[] = [];
  const track = (c: Child): Child => {
    children.push(c);
    return c;
  };
  try {
    const sites = [await freePort(), await freePort(), await freePort()];
    writeFileSync(path.join(dir, 'sites.conf'), sitesConfig(dir, sites));
    track(spawnChild('nginx', ['-p', dir, '-c', path.join(dir, 'sites.conf'), '-e', path.join(dir, 'sites-error.log')]));
    for (const port of sites) await waitForPort(port);
    const lbPort = await freePort();
    writeFileSync(path.join(dir, 'lb.conf'), balancerConfig(dir, lbPort, sites));
    const lb = track(spawnChild('nginx', ['-p', dir, '-c', path.join(dir, 'lb.conf'), '-e', path.join(dir, 'lb-error.log')]));
    await waitForPort(lbPort, 20000, lb);
    const serversConf = path.join(dir, 'servers.conf');
    writeFileSync(serversConf, JSON.stringify({ backend_servers: sites.map((port) => ({ ip: '127.0.0.1', port })) }));

    const targets: Target[] = [{ name: 'nginx', port: lbPort, runtime: 'nginx', pids: () => processTree(lb.pid) }];
    const startBroker = async (runtime: Runtime, sockets?: number): Promise<Target> => {
      const port = await freePort();
      const extra = sockets === undefined ? [] : ['--listen-sockets', String(sockets)];
      const child = track(
        spawnChild(runtime.node, [...shebangFlags(PROGRAMS.broker), PROGRAMS.broker, '--port', '0', '--http-port', String(port), '--servers', serversConf, ...extra], {
          env: { POLICY_BROKER_LOG_LEVEL: 'error' },
        }),
      );
      await waitForPort(port, 20000, child);
      const name = `policy-broker (${runtime.name}${sockets === undefined ? '' : `, --listen-sockets ${sockets}`})`;
      return { name, port, runtime: runtime.name, pids: () => [child.pid] };
    };
    const found = ctx.runtimes;
    for (const runtime of found) targets.push(await startBroker(runtime));
    // The default against fewer and more sockets, on the runtime that has reusePort.
    const variants: Target[] = [];
    const newest = found[0]!;
    if (newest.name.startsWith('node 24')) for (const n of SOCKET_COUNTS) variants.push(await startBroker(newest, n));

    const records: RunRecord[] = [];
    for (let round = 1; round <= ctx.rounds; round++) {
      for (const target of rotate(targets, round)) {
        records.push({ suite: BURST_SUITES.assignment, case: target.name, round, ...(await assignment(dir, target)) });
        ctx.log(`  ${BURST_SUITES.assignment} round ${round} ${target.name}: ${summary(records.at(-1)!)}`);
      }
      for (const target of rotate([...targets, ...variants], round)) {
        records.push({ suite: BURST_SUITES.atOnce, case: target.name, round, ...(await atOnce(dir, target)) });
        ctx.log(`  ${BURST_SUITES.atOnce} round ${round} ${target.name}: ${summary(records.at(-1)!)}`);
      }
    }
    return records;
  } finally {
    for (const child of children.reverse()) await child.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The assignment's command, as a student types it. */
async function assignment(dir: string, target: Target): Promise<Omit<RunRecord, 'suite' | 'case' | 'round'>> {
  const busyBefore = await waitForQuiet(0.3, 15000);
  const overflowsBefore = listenOverflows();
  const args = ['-t10', '-c1000', `-d${ASSIGNMENT_SECONDS}s`, '--latency', '-s', path.join(dir, 'report.lua'), `http://127.0.0.1:${target.port}/`];
  const wrk = spawnChild('wrk', args);
  const meter = new CpuMeter({ target: target.pids(), wrk: [wrk.pid] });
  meter.start();
  await sleep(ASSIGNMENT_SECONDS * 1000 - 50);
  const cpu = meter.stop();
  await wrk.exited;
  await sleep(10);
  const line = wrk.lines.find((l) => l.startsWith('WRKJSON '));
  if (line === undefined) throw new Error(`wrk against ${target.name} printed no result: ${wrk.stderr().slice(-300)}`);
  const r = JSON.parse(line.slice('WRKJSON '.length)) as Record<string, number>;
  return {
    rps: Math.round((r.requests! * 1e6) / r.durationUs!),
    p50Ms: r.p50Us! / 1000,
    p99Ms: r.p99Us! / 1000,
    maxMs: r.maxUs! / 1000,
    errors: r.connect! + r.read! + r.write! + r.non2xx!,
    answered: r.requests,
    windowMs: r.durationUs! / 1000,
    cpu,
    busyBefore,
    shape: { timeouts: r.timeout, connectErrors: r.connect, readErrors: r.read, writeErrors: r.write, non2xx: r.non2xx, listenOverflows: delta(overflowsBefore) },
    command: `wrk -t10 -c1000 -d${ASSIGNMENT_SECONDS}s --latency http://127.0.0.1:PORT/`,
  };
}

/** 1,000 connections at once into a front end that wrk -t2 -c128 keeps busy. */
async function atOnce(dir: string, target: Target): Promise<Omit<RunRecord, 'suite' | 'case' | 'round'>> {
  const busyBefore = await waitForQuiet(0.3, 15000);
  const wrk = spawnChild('wrk', ['-t2', '-c128', `-d${BUSY_SECONDS}s`, '-s', path.join(dir, 'report.lua'), `http://127.0.0.1:${target.port}/`]);
  try {
    await sleep(2000);
    const overflowsBefore = listenOverflows();
    const started = performance.now();
    const r = await connectionBurst({ port: target.port, count: BURST, ...HTTP_BURST, withinMs: WITHIN_MS, boundMs: (BUSY_SECONDS - 3) * 1000 });
    return {
      rps: Math.round((r.answered * 1000) / (performance.now() - started)),
      p50Ms: r.p50Ms,
      p99Ms: r.p99Ms,
      maxMs: r.maxMs,
      errors: r.failed,
      answered: r.answered,
      busyBefore,
      shape: { over2s: r.over, failed: r.failed, listenOverflows: delta(overflowsBefore) },
      command: `${BURST} connections at once (each GET / then the first bytes of its answer) while wrk -t2 -c128 keeps it busy`,
    };
  } finally {
    await wrk.stop('SIGKILL');
  }
}

function delta(before: number | undefined): number | undefined {
  const now = listenOverflows();
  return before === undefined || now === undefined ? undefined : now - before;
}

function rotate<T>(list: readonly T[], round: number): T[] {
  const k = (round - 1) % list.length;
  return [...list.slice(k), ...list.slice(0, k)];
}

function summary(r: RunRecord): string {
  const shape = r.shape as Record<string, unknown>;
  return `${r.rps} /s, p99 ${r.p99Ms?.toFixed(0)} ms, errors ${r.errors}, ${Object.entries(shape)
    .map(([k, v]) => `${k} ${String(v)}`)
    .join(', ')}`;
}

/** The default the option table gives, for the report. */
export const DEFAULT_LISTEN_SOCKETS = BROKER_DEFAULTS.listenSockets;

/**
 * The HTTP cases: wrk with keep-alive against one nginx backend directly (the limit), and
 * through nginx, HAProxy, node-http-proxy, a minimal Node proxy and policy-broker's HTTP front
 * end (when this build has `--http-port`), all balancing over the same three backends, and the
 * node:net floor (a proxy with no HTTP library, net-floor-proxy.ts) as a measure. Every
 * peer stays up while the cases alternate.
 *
 * With broker variants (other builds, `--variant NAME=DIST`) it is an A/B run instead: nginx,
 * the minimal Node proxy, this build and each variant (`policy-broker@NAME`), for the main
 * comparison's number of rounds; the other peers and the --workers case are left out.
 */
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PROGRAMS, shebangFlags } from '../lib/programs.js';
import { HTTP_BACKENDS, HTTP_CONNECTIONS, HTTP_WARMUP_CONNECTIONS, NET_FLOOR, HTTP_PIPELINE_CONNECTIONS, HTTP_PIPELINE_DEPTH, type Timing } from './config.js';
import { alternate, brokerCaseName, type BrokerVariant, type Log } from './packet-cases.js';
import { coldStartSuite } from './cold-start.js';
import { CpuMeter, freePort, processTree, readyLine, sleep, spawnBenchScript, spawnChild, waitForPort, type Child } from './processes.js';
import type { RunRecord } from './results.js';

export interface HttpContext {
  timing: Timing;
  log: Log;
  /** Peers whose binaries are missing, to be skipped. */
  missing: ReadonlySet<string>;
  /** What this build's broker CLI offers. */
  brokerHttp: boolean;
  brokerWorkers: boolean;
  /** Other builds to run side by side with this one (an A/B run). */
  variants: readonly BrokerVariant[];
  /** This build on other Node runtimes (Node 24 LTS), beside the machine's in a full run. */
  runtimes: readonly BrokerVariant[];
}

interface HttpTarget {
  name: string;
  port: number;
  /** Process groups to charge CPU to. */
  cpu: () => Record<string, number[]>;
}

const REPORT_LUA = `
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('WRKJSON {"requests":%d,"durationUs":%d,"bytes":%d,"errors":%d,"non2xx":%d,"p50Us":%d,"p90Us":%d,"p99Us":%d,"maxUs":%d}\\n',
    summary.requests, summary.duration, summary.bytes, e.connect + e.read + e.write + e.timeout, e.status,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end
`;

const PIPELINE_LUA = `
init = function(args)
  local r = {}
  for i = 1, ${HTTP_PIPELINE_DEPTH} do r[i] = wrk.format(nil, "/") end
  req = table.concat(r)
end
request = function() return req end
${REPORT_LUA}`;

function nginxCommon(dir: string, name: string, workers: number): string {
  const tmp = path.join(dir, `${name}-tmp`);
  mkdirSync(tmp, { recursive: true });
  chmodSync(tmp, 0o777);
  return `
daemon off;
master_process on;
worker_processes ${workers};
pid ${dir}/${name}.pid;
error_log ${dir}/${name}-error.log warn;
events { worker_connections 8192; }
http {
  access_log off;
  keepalive_requests 1000000;
  keepalive_timeout 60s;
  client_body_temp_path ${tmp}/body;
  proxy_temp_path ${tmp}/proxy;
  fastcgi_temp_path ${tmp}/fastcgi;
  uwsgi_temp_path ${tmp}/uwsgi;
  scgi_temp_path ${tmp}/scgi;
`;
}

/** The three backends: one nginx (one worker) serving a small page on three ports. */
export function backendConfig(dir: string, ports: number[]): string {
  let servers = '';
  ports.forEach((port, i) => {
    const root = path.join(dir, `backend-${i + 1}`);
    mkdirSync(root, { recursive: true });
    writeFileSync(
      path.join(root, 'index.html'),
      `<!doctype html><html><head><title>backend ${i + 1}</title></head><body><h1>backend ${i + 1}</h1><p>Served by nginx on 127.0.0.1:${port}.</p></body></html>\n`,
    );
    // /health answers 200, for proxies told to check their backends there (policy-broker checks / unless --health-path is set).
    servers += `  server { listen 127.0.0.1:${port}; root ${root}; index index.html; location = /health { return 200 "ok\\n"; } }\n`;
  });
  return nginxCommon(dir, 'backends', 1) + servers + '}\n';
}

function nginxProxyConfig(dir: string, name: string, port: number, backends: number[], workers: number): string {
  return (
    nginxCommon(dir, name, workers) +
    `  upstream backends {
${backends.map((p) => `    server 127.0.0.1:${p};`).join('\n')}
    keepalive 256;
    keepalive_requests 1000000;
  }
  server {
    listen 127.0.0.1:${port};
    location / {
      proxy_pass http://backends;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }
  }
}
`
  );
}

function haproxyConfig(port: number, backends: number[]): string {
  return `global
  nbthread 1
  maxconn 4096
defaults
  mode http
  timeout connect 5s
  timeout client 60s
  timeout server 60s
  option http-keep-alive
frontend fe
  bind 127.0.0.1:${port}
  default_backend be
backend be
  balance roundrobin
  http-reuse always
${backends.map((p, i) => `  server s${i + 1} 127.0.0.1:${p}`).join('\n')}
`;
}

/** Starts a peer and returns it with its port, once the port accepts connections. */
async function startPeer(start: (port: number) => Child | Promise<Child>): Promise<{ child: Child; port: number }> {
  const port = await freePort();
  const child = await start(port);
  await waitForPort(port, 20000, child);
  return { child, port };
}

export interface WrkResult {
  requests: number;
  durationUs: number;
  bytes: number;
  errors: number;
  non2xx: number;
  p50Us: number;
  p90Us: number;
  p99Us: number;
  maxUs: number;
}

async function runWrk(dir: string, target: HttpTarget, connections: number, seconds: number, pipelined: boolean): Promise<Omit<RunRecord, 'suite' | 'case' | 'round'>> {
  const script = path.join(dir, pipelined ? 'pipeline.lua' : 'report.lua');
  const args = ['-t1', `-c${connections}`, `-d${seconds}s`, '--timeout', '5s', '-s', script, `http://127.0.0.1:${target.port}/`];
  const wrk = spawnChild('wrk', args);
  const meter = new CpuMeter({ ...target.cpu(), wrk: [wrk.pid] });
  meter.start();
  // Stop measuring CPU just before wrk ends, while its process still exists.
  await sleep(seconds * 1000 - 50);
  const cpu = meter.stop();
  const code = await wrk.exited;
  await sleep(10);
  const line = wrk.lines.find((l) => l.startsWith('WRKJSON '));
  if (code !== 0 || line === undefined) throw new Error(`wrk against ${target.name} failed (exit ${code}): ${wrk.stderr().slice(-500)} ${wrk.lines.join('\n').slice(-500)}`);
  const r = JSON.parse(line.slice('WRKJSON '.length)) as WrkResult;
  // wrk times a pipelined batch as a whole and reports no per-request latency for it.
  const latency = pipelined ? {} : { p50Ms: r.p50Us / 1000, p90Ms: r.p90Us / 1000, p99Ms: r.p99Us / 1000, maxMs: r.maxUs / 1000 };
  return {
    rps: Math.round((r.requests * 1e6) / r.durationUs),
    ...latency,
    errors: r.errors + r.non2xx,
    answered: r.requests,
    windowMs: r.durationUs / 1000,
    cpu,
    command: `wrk ${args.join(' ').replace(dir, '$TMP')}`,
  };
}

export async function httpSuite(ctx: HttpContext): Promise<RunRecord[]> {
  for (const tool of ['wrk', 'nginx']) {
    if (ctx.missing.has(tool)) {
      ctx.log(`  http: skipped, ${tool} is missing`);
      return [];
    }
  }
  const dir = mkdtempSync(path.join(tmpdir(), 'policy-broker-bench-'));
  chmodSync(dir, 0o755);
  writeFileSync(path.join(dir, 'report.lua'), REPORT_LUA);
  writeFileSync(path.join(dir, 'pipeline.lua'), PIPELINE_LUA);
  const ab = ctx.variants.length > 0;
  const rounds = ab ? ctx.timing.rounds : ctx.timing.sideRounds;
  const children: Child[] = [];
  const track = (c: Child): Child => {
    children.push(c);
    return c;
  };
  try {
    // Backends.
    const backendPorts = await Promise.all(Array.from({ length: HTTP_BACKENDS }, () => freePort()));
    writeFileSync(path.join(dir, 'backends.conf'), backendConfig(dir, backendPorts));
    const backends = track(spawnChild('nginx', ['-e', path.join(dir, 'backends-startup.log'), '-p', dir, '-c', path.join(dir, 'backends.conf')]));
    for (const port of backendPorts) await waitForPort(port, 15000, backends);
    const backendPids = () => processTree(backends.pid);
    const proxyTarget = (name: string, child: Child, port: number): HttpTarget => ({
      name,
      port,
      cpu: () => ({ proxy: processTree(child.pid), backends: backendPids() }),
    });

    const targets: HttpTarget[] = ab ? [] : [{ name: 'limit', port: backendPorts[0]!, cpu: () => ({ backends: backendPids() }) }];
    const nginx = await startPeer((port) => {
      writeFileSync(path.join(dir, 'nginx.conf'), nginxProxyConfig(dir, 'nginx', port, backendPorts, 1));
      return track(spawnChild('nginx', ['-e', path.join(dir, 'nginx-startup.log'), '-p', dir, '-c', path.join(dir, 'nginx.conf')]));
    });
    targets.push(proxyTarget('nginx', nginx.child, nginx.port));
    if (!ab && !ctx.missing.has('haproxy')) {
      const haproxy = await startPeer((port) => {
        writeFileSync(path.join(dir, 'haproxy.cfg'), haproxyConfig(port, backendPorts));
        return track(spawnChild('haproxy', ['-f', path.join(dir, 'haproxy.cfg'), '-db']));
      });
      targets.push(proxyTarget('haproxy', haproxy.child, haproxy.port));
    }
    const nodePeers = [['http-proxy', 'node-http-proxy'], ['minimal', 'minimal-node-proxy']] as const;
    for (const [kind, name] of ab ? nodePeers.slice(1) : nodePeers) {
      const peer = track(spawnBenchScript('http-peers', ['--kind', kind, '--backends', backendPorts.join(',')]));
      const port = (await readyLine(peer)).port as number;
      targets.push(proxyTarget(name, peer, port));
    }
    if (!ab) {
      // Not a peer a user would pick: the CPU a Node proxy needs with no HTTP library at all.
      const floor = track(spawnBenchScript('net-floor-proxy', ['--backends', backendPorts.join(',')]));
      targets.push(proxyTarget(NET_FLOOR, floor, (await readyLine(floor)).port as number));
    }
    const oursConf = path.join(dir, 'servers.conf');
    writeFileSync(oursConf, JSON.stringify({ backend_servers: backendPorts.map((port) => ({ ip: '127.0.0.1', port })) }));
    const startOurs = async (workers: number, broker = PROGRAMS.broker, node = process.execPath): Promise<{ child: Child; port: number }> =>
      startPeer((port) => {
        const args = [...shebangFlags(broker), broker, '--port', '0', '--http-port', String(port), '--servers', oursConf];
        if (workers > 1) args.push('--workers', String(workers));
        return track(spawnChild(node, args, { env: { POLICY_BROKER_LOG_LEVEL: 'warn' } }));
      });
    if (ctx.brokerHttp) {
      const ours = await startOurs(1);
      targets.push(proxyTarget('policy-broker', ours.child, ours.port));
    } else {
      ctx.log('  http: policy-broker has no --http-port yet; its HTTP cases are skipped');
    }
    for (const variant of ab || !ctx.brokerHttp ? ctx.variants : [...ctx.variants, ...ctx.runtimes]) {
      const theirs = await startOurs(1, path.join(variant.dist, 'broker/main.js'), variant.node);
      targets.push(proxyTarget(brokerCaseName(variant), theirs.child, theirs.port));
    }
    // Warm every target up once before measuring, at the heaviest shape: the upstream pools
    // fill, and the Node proxies' hot code is compiled (the first seconds of a Node process
    // under load carry JIT and heap-growth pauses that are not its steady state).
    for (const t of targets) await runWrk(dir, t, HTTP_WARMUP_CONNECTIONS, ctx.timing.httpWarmupSeconds, false);

    const records: RunRecord[] = [];
    for (const connections of HTTP_CONNECTIONS) {
      records.push(...(await alternateHttp(`http-${connections}`, ctx, rounds, targets, (t) => runWrk(dir, t, connections, ctx.timing.httpSeconds, false))));
    }
    const pipelinedTargets = targets.filter((t) => ['limit', 'nginx', 'haproxy', 'minimal-node-proxy', NET_FLOOR].includes(t.name) || t.name.startsWith('policy-broker'));
    records.push(
      ...(await alternateHttp('http-pipelined', ctx, rounds, pipelinedTargets, (t) => runWrk(dir, t, HTTP_PIPELINE_CONNECTIONS, ctx.timing.httpSeconds, true))),
    );
    if (!ab && ctx.brokerHttp && ctx.brokerWorkers) {
      const nginx2 = await startPeer((port) => {
        writeFileSync(path.join(dir, 'nginx2.conf'), nginxProxyConfig(dir, 'nginx2', port, backendPorts, 2));
        return track(spawnChild('nginx', ['-e', path.join(dir, 'nginx2-startup.log'), '-p', dir, '-c', path.join(dir, 'nginx2.conf')]));
      });
      const ours2 = await startOurs(2);
      const workerTargets = [proxyTarget('nginx (2 workers)', nginx2.child, nginx2.port), proxyTarget('policy-broker --workers 2', ours2.child, ours2.port)];
      for (const t of workerTargets) await runWrk(dir, t, HTTP_WARMUP_CONNECTIONS, ctx.timing.httpWarmupSeconds, false);
      records.push(...(await alternateHttp('http-workers-256', ctx, rounds, workerTargets, (t) => runWrk(dir, t, 256, ctx.timing.httpSeconds, false))));
    }
    if (!ab && ctx.brokerHttp && !ctx.missing.has('ab')) {
      // Last: every round starts both proxies afresh (the steady-state peers above stay up meanwhile, idle).
      let fresh = 0;
      const timed = async (start: () => Promise<{ child: Child; port: number }>) => {
        const t0 = performance.now();
        const started = await start();
        return { ...started, startedMs: performance.now() - t0 };
      };
      const coldTargets = [
        {
          name: 'nginx',
          start: () =>
            timed(() =>
              startPeer((port) => {
                const name = `nginx-cold-${++fresh}`;
                writeFileSync(path.join(dir, `${name}.conf`), nginxProxyConfig(dir, name, port, backendPorts, 1));
                return track(spawnChild('nginx', ['-e', path.join(dir, `${name}-startup.log`), '-p', dir, '-c', path.join(dir, `${name}.conf`)]));
              }),
            ),
        },
        { name: 'policy-broker', start: () => timed(() => startOurs(1)) },
      ];
      records.push(...(await coldStartSuite(coldTargets, ctx.timing.sideRounds, ctx.log)));
    }
    return records;
  } finally {
    await Promise.all(children.map((c) => c.stop('SIGTERM')));
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The targets as the rotating rounds of packet-cases' alternate(). */
function alternateHttp(
  suite: string,
  ctx: HttpContext,
  rounds: number,
  targets: HttpTarget[],
  run: (t: HttpTarget) => Promise<Omit<RunRecord, 'suite' | 'case' | 'round'>>,
): Promise<RunRecord[]> {
  return alternate(suite, rounds, targets.map((t) => ({ name: t.name, run: () => run(t) })), ctx.log);
}

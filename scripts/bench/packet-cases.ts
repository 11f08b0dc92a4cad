/**
 * The packet cases: the same load (packet-load.ts) against one server directly (the limit),
 * against NATS request/reply to a queue group, and through policy-broker; then payload sizes,
 * server counts, many connections, idle-connection memory and the soak. Every case of a
 * comparison runs once per round, in a rotating order, while all its peers stay up.
 */
import { PACKET_SHAPE, MANY_CONNECTIONS, NATS_MANY_RESPONDERS, PAYLOAD_SIZES, SERVER_COUNTS, type Timing } from './config.js';
import path from 'node:path';
import { shebangFlags, start, startBroker, PROGRAMS, REPO_ROOT } from '../lib/programs.js';
import { BENCH_DIST, CpuMeter, freePort, readyLine, rssBytes, sleep, spawnBenchScript, spawnChild, waitForPort, waitForQuiet, type Child } from './processes.js';
import type { LoadResult } from './packet-load.js';
import type { RunRecord } from './results.js';

/** Where a load goes and which processes to charge its CPU to. */
export interface PacketTarget {
  name: string;
  protocol: 'ndjson' | 'nats';
  port: number;
  cpu: Record<string, readonly number[]>;
}

export interface LoadShape {
  connections: number;
  inflight: number;
  payloadBytes: number;
}

const MAIN_SHAPE: LoadShape = { connections: PACKET_SHAPE.connections, inflight: PACKET_SHAPE.inflight, payloadBytes: PACKET_SHAPE.payloadBytes };

/** Another build to compare with the current one (e.g. a copy of dist/ from before a change), or this build on another Node. */
export interface BrokerVariant {
  name: string;
  /** That build's dist/ directory: its broker/main.js and server-pool/main.js are run. */
  dist: string;
  /** The node binary that runs them; the bench's own when not given. */
  node?: string;
}

/** This build on another Node runtime (Node 24 LTS beside the machine's): its cases are named `policy-broker (node 24.x.y)`. */
export function runtimeVariant(runtime: { name: string; node: string }): BrokerVariant {
  return { name: runtime.name, dist: path.join(REPO_ROOT, 'dist'), node: runtime.node };
}

/** The case name of the broker of `variant`: another build is `policy-broker@NAME`, another runtime `policy-broker (node X)`. */
export function brokerCaseName(variant: BrokerVariant): string {
  return variant.node === undefined ? `policy-broker@${variant.name}` : `policy-broker (${variant.name})`;
}

// ---------------------------------------------------------------- beds: the processes under test

interface Stoppable {
  stop(signal?: NodeJS.Signals): Promise<unknown>;
}

/** A broker with a pool of `servers` servers of one policy, of this build or of a variant's. */
export class BrokerBed {
  private constructor(
    private readonly broker: Stoppable,
    readonly brokerPid: number,
    private readonly pool: Stoppable,
    readonly poolPid: number,
    readonly port: number,
    readonly serverPorts: number[],
  ) {}

  static async start(servers: number, variant?: BrokerVariant, extraArgs: string[] = []): Promise<BrokerBed> {
    const poolArgs = (port: number) => ['--broker', `127.0.0.1:${port}`, '--count', String(servers), '--policy', String(PACKET_SHAPE.policy)];
    if (variant === undefined) {
      const { broker, port } = await startBroker(extraArgs);
      const pool = start('pool', poolArgs(port), { readyTimeoutMs: 180_000 });
      const ready = await pool.ready;
      return new BrokerBed(broker, broker.child.pid!, pool, pool.child.pid!, port, serverPortsOf(ready));
    }
    const env = { POLICY_BROKER_LOG_LEVEL: 'warn', POLICY_SERVER_POOL_LOG_LEVEL: 'warn' };
    // Each build runs with the node flags its own #! line names, as its installed bin would.
    const brokerMain = path.join(variant.dist, 'broker/main.js');
    const poolMain = path.join(variant.dist, 'server-pool/main.js');
    const node = variant.node ?? process.execPath;
    const broker = spawnChild(node, [...shebangFlags(brokerMain), brokerMain, '--port', '0', ...extraArgs], { env });
    const port = (await readyLine(broker)).packet.port as number;
    const pool = spawnChild(node, [...shebangFlags(poolMain), poolMain, ...poolArgs(port)], { env });
    const ready = await readyLine(pool, 180_000);
    return new BrokerBed(broker, broker.pid, pool, pool.pid, port, serverPortsOf(ready));
  }

  target(name: string): PacketTarget {
    return { name, protocol: 'ndjson', port: this.port, cpu: { broker: [this.brokerPid], servers: [this.poolPid] } };
  }

  /** The pool's first server, straight: the limit. */
  directTarget(name: string): PacketTarget {
    return { name, protocol: 'ndjson', port: this.serverPorts[0]!, cpu: { servers: [this.poolPid] } };
  }

  async stop(): Promise<void> {
    await this.pool.stop('SIGTERM');
    await this.broker.stop('SIGTERM');
  }
}

function serverPortsOf(ready: Record<string, any>): number[] {
  return (ready.servers as Array<{ port: number }>).map((s) => s.port);
}

/** nats-server and a process of `responders` responders in one queue group. */
export class NatsBed {
  private constructor(
    readonly server: Child,
    readonly responders: Child,
    readonly port: number,
  ) {}

  static async start(responders: number): Promise<NatsBed> {
    const port = await freePort();
    const server = spawnChild('nats-server', ['-a', '127.0.0.1', '-p', String(port)]);
    await waitForPort(port, 15000, server);
    const workers = spawnBenchScript('nats-responders', ['--port', String(port), '--count', String(responders)]);
    await readyLine(workers);
    return new NatsBed(server, workers, port);
  }

  target(name: string): PacketTarget {
    return { name, protocol: 'nats', port: this.port, cpu: { 'nats-server': [this.server.pid], servers: [this.responders.pid] } };
  }

  async stop(): Promise<void> {
    await this.responders.stop();
    await this.server.stop();
  }
}

// ---------------------------------------------------------------- one run

/** Runs packet-load.ts once against a target and measures the CPU of everything involved. */
export async function runPacketLoad(target: PacketTarget, shape: LoadShape, timing: Pick<Timing, 'warmupMs' | 'durationMs'>): Promise<LoadResult & { cpu: Record<string, number> }> {
  const load = spawnBenchScript('packet-load', [
    '--protocol', target.protocol,
    '--port', String(target.port),
    '--connections', String(shape.connections),
    '--inflight', String(shape.inflight),
    '--payload-bytes', String(shape.payloadBytes),
    '--policy', String(PACKET_SHAPE.policy),
    '--warmup-ms', String(timing.warmupMs),
    '--duration-ms', String(timing.durationMs),
  ]);
  const meter = new CpuMeter({ ...target.cpu, client: [load.pid] });
  await sleep(timing.warmupMs);
  meter.start();
  await sleep(timing.durationMs);
  const cpu = meter.stop();
  const code = await load.exited;
  await sleep(10);
  const line = load.lines.find((l) => l.startsWith('{'));
  if (code !== 0 || line === undefined) throw new Error(`packet-load against ${target.name} failed (exit ${code}): ${load.stderr().slice(-500)}`);
  return { ...(JSON.parse(line) as LoadResult), cpu };
}

/** The same load through the repo's client library (policy-client, which uses runLoad). */
async function runClientLibrary(target: PacketTarget, timing: Pick<Timing, 'durationMs'>): Promise<Omit<RunRecord, 'suite' | 'case' | 'round'>> {
  const seconds = Math.max(1, Math.round(timing.durationMs / 1000));
  const client = spawnChild(process.execPath, [
    ...shebangFlags(PROGRAMS.client),
    PROGRAMS.client,
    '--broker', `127.0.0.1:${target.port}`,
    '--policy', String(PACKET_SHAPE.policy),
    '--duration', String(seconds),
    '--concurrency', String(MAIN_SHAPE.inflight),
    '--connections', String(MAIN_SHAPE.connections),
    '--payload-size', String(MAIN_SHAPE.payloadBytes),
    '--json',
  ], { env: { POLICY_CLIENT_LOG_LEVEL: 'warn' } });
  // The client's own CPU is not shown: it has exited (and left /proc) when the meter stops.
  const meter = new CpuMeter(target.cpu);
  meter.start();
  const code = await client.exited;
  const cpu = meter.stop();
  await sleep(10);
  const line = client.lines.filter((l) => l.startsWith('{')).pop();
  if (code !== 0 || line === undefined) throw new Error(`policy-client failed (exit ${code}): ${client.stderr().slice(-500)}`);
  const s = JSON.parse(line) as { answered: number; rps: number; p50Ms: number; p99Ms: number; maxMs: number; durationMs: number; errors: Record<string, number> };
  return {
    rps: s.rps,
    p50Ms: s.p50Ms,
    p99Ms: s.p99Ms,
    maxMs: s.maxMs,
    errors: Object.values(s.errors).reduce((a, b) => a + b, 0),
    answered: s.answered,
    windowMs: s.durationMs,
    cpu,
    note: 'whole run, no warm-up',
  };
}

export type Log = (line: string) => void;

/** Before each run, wait (a while) for the machine to be this quiet: other people's work skews a run. */
export const QUIET_CORES = 0.3;
export const QUIET_WAIT_MS = 3_000;

/** CPU time per answer, in µs, by process group: steadier than throughput on a shared machine. */
export function perAnswer(cpu: Record<string, number> | undefined, rps: number): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [name, cores] of Object.entries(cpu ?? {})) if (name !== 'machine' && rps > 0) out[name] = Math.round((cores * 1e7) / rps) / 10;
  return out;
}

/** Runs every target once per round, rotating the order so that none always goes first. */
export async function alternate(
  suite: string,
  rounds: number,
  cases: Case[],
  log: Log,
): Promise<RunRecord[]> {
  const records: RunRecord[] = [];
  for (let round = 0; round < rounds; round++) {
    for (let k = 0; k < cases.length; k++) {
      const c = cases[(k + round) % cases.length]!;
      const busyBefore = await waitForQuiet(QUIET_CORES, QUIET_WAIT_MS);
      const result = await c.run();
      const record: RunRecord = { suite, case: c.name, round, ...result, busyBefore, cpuUsPerAnswer: perAnswer(result.cpu, result.rps) };
      records.push(record);
      log(`  ${suite} round ${round + 1}/${rounds} ${c.name}: ${Math.round(record.rps)}/s p99 ${record.p99Ms} ms errors ${record.errors} cpu ${JSON.stringify(record.cpu)} µs/answer ${JSON.stringify(record.cpuUsPerAnswer)}`);
    }
  }
  return records;
}

export interface Case {
  name: string;
  run: () => Promise<Omit<RunRecord, 'suite' | 'case' | 'round'>>;
}

function loadCase(target: PacketTarget, shape: LoadShape, timing: Pick<Timing, 'warmupMs' | 'durationMs'>, name = target.name): Case {
  return {
    name,
    run: async () => {
      const r = await runPacketLoad(target, shape, timing);
      return {
        rps: r.rps,
        p50Ms: r.p50Ms,
        p90Ms: r.p90Ms,
        p99Ms: r.p99Ms,
        p999Ms: r.p999Ms,
        maxMs: r.maxMs,
        errors: r.errors + r.verifyFailed,
        answered: r.answered,
        windowMs: r.windowMs,
        cpu: r.cpu,
        shape,
      };
    },
  };
}

// ---------------------------------------------------------------- suites

export interface PacketContext {
  timing: Timing;
  variants: BrokerVariant[];
  /** This build on other Node runtimes, beside the machine's in the main packets comparison. */
  runtimes: BrokerVariant[];
  natsAvailable: boolean;
  log: Log;
}

/** Limit, NATS, policy-broker (and any broker variants), 64 in flight over 4 connections. */
export async function mainSuite(ctx: PacketContext): Promise<RunRecord[]> {
  const bed = await BrokerBed.start(PACKET_SHAPE.servers);
  const nats = ctx.natsAvailable ? await NatsBed.start(PACKET_SHAPE.servers) : undefined;
  const variants = await Promise.all(ctx.variants.map(async (v) => ({ v, bed: await BrokerBed.start(PACKET_SHAPE.servers, v) })));
  const runtimes = await Promise.all(ctx.runtimes.map(async (v) => ({ v, bed: await BrokerBed.start(PACKET_SHAPE.servers, v) })));
  try {
    const cases: Case[] = [
      loadCase(bed.directTarget('limit'), MAIN_SHAPE, ctx.timing),
      loadCase(bed.target('policy-broker'), MAIN_SHAPE, ctx.timing),
      ...variants.flatMap(({ v, bed: vb }) => [
        loadCase(vb.target(brokerCaseName(v)), MAIN_SHAPE, ctx.timing),
        loadCase(vb.directTarget(`limit@${v.name}`), MAIN_SHAPE, ctx.timing),
      ]),
      // The same build, broker and servers, on Node 24 LTS: a row of its own, for information.
      ...runtimes.map(({ v, bed: vb }) => loadCase(vb.target(brokerCaseName(v)), MAIN_SHAPE, ctx.timing)),
    ];
    if (nats !== undefined) cases.push(loadCase(nats.target('nats'), MAIN_SHAPE, ctx.timing));
    if (ctx.variants.length === 0) cases.push({ name: 'policy-broker (client library)', run: () => runClientLibrary(bed.target('policy-broker'), ctx.timing) });
    return await alternate('packets', ctx.timing.rounds, cases, ctx.log);
  } finally {
    await Promise.all([bed.stop(), nats?.stop(), ...[...variants, ...runtimes].map(({ bed: vb }) => vb.stop())]);
  }
}

/** The secondary cases' windows: shorter than the main comparison's in full mode. */
function sideTiming(timing: Timing): Pick<Timing, 'warmupMs' | 'durationMs'> {
  return { warmupMs: timing.warmupMs, durationMs: timing.sideDurationMs };
}

/**
 * Payloads of 16 B (the main shape), 1 KiB and 64 KiB: limit, NATS, policy-broker, and any
 * broker variants (their broker and their server pool, side by side: `--record-suite payload-65536`).
 */
export async function payloadSuite(ctx: PacketContext): Promise<RunRecord[]> {
  const bed = await BrokerBed.start(PACKET_SHAPE.servers);
  const nats = ctx.natsAvailable ? await NatsBed.start(PACKET_SHAPE.servers) : undefined;
  const variants = await Promise.all(ctx.variants.map(async (v) => ({ v, bed: await BrokerBed.start(PACKET_SHAPE.servers, v) })));
  try {
    const records: RunRecord[] = [];
    for (const payloadBytes of PAYLOAD_SIZES) {
      const shape = { ...MAIN_SHAPE, payloadBytes };
      const timing = sideTiming(ctx.timing);
      const cases = [loadCase(bed.directTarget('limit'), shape, timing), loadCase(bed.target('policy-broker'), shape, timing)];
      for (const { v, bed: vb } of variants) {
        cases.push(loadCase(vb.target(`policy-broker@${v.name}`), shape, timing), loadCase(vb.directTarget(`limit@${v.name}`), shape, timing));
      }
      if (nats !== undefined) cases.push(loadCase(nats.target('nats'), shape, timing));
      records.push(...(await alternate(`payload-${payloadBytes}`, ctx.timing.sideRounds, cases, ctx.log)));
    }
    return records;
  } finally {
    await Promise.all([bed.stop(), nats?.stop(), ...variants.map(({ bed: vb }) => vb.stop())]);
  }
}

/** 1, 3, 10 and 1,000 servers in the policy, each behind its own broker, the same load. */
export async function serverCountSuite(ctx: PacketContext): Promise<RunRecord[]> {
  const beds: Array<{ count: number; bed: BrokerBed }> = [];
  let nats: NatsBed | undefined;
  try {
    for (const count of SERVER_COUNTS) beds.push({ count, bed: await BrokerBed.start(count) });
    // The peer with as many servers: NATS with that many responders in one queue group.
    const most = SERVER_COUNTS[SERVER_COUNTS.length - 1];
    if (ctx.natsAvailable) nats = await NatsBed.start(most);
    // Let the pools settle after registering (a thousand servers dialled and heartbeating).
    await sleep(1000);
    const cases = beds.map(({ count, bed }) => loadCase(bed.target(`${count} servers`), MAIN_SHAPE, sideTiming(ctx.timing)));
    if (nats !== undefined) cases.push(loadCase(nats.target(NATS_MANY_RESPONDERS), MAIN_SHAPE, sideTiming(ctx.timing)));
    return await alternate('servers', ctx.timing.sideRounds, cases, ctx.log);
  } finally {
    await Promise.all([...beds.map(({ bed }) => bed.stop()), nats?.stop()]);
  }
}

/** 1,000 client connections with one packet in flight on each: limit and policy-broker. */
export async function connectionSuite(ctx: PacketContext): Promise<RunRecord[]> {
  const bed = await BrokerBed.start(PACKET_SHAPE.servers);
  try {
    const shape = { connections: MANY_CONNECTIONS, inflight: MANY_CONNECTIONS, payloadBytes: PACKET_SHAPE.payloadBytes };
    const timing = sideTiming(ctx.timing);
    const cases = [loadCase(bed.directTarget('limit'), shape, timing), loadCase(bed.target('policy-broker'), shape, timing)];
    return await alternate('connections-1000', ctx.timing.sideRounds, cases, ctx.log);
  } finally {
    await bed.stop();
  }
}

/**
 * RSS of a fresh broker (with its 3 servers) before and while N idle client connections are
 * open; then the same for each variant, one broker at a time.
 */
export async function idleMemorySuite(ctx: PacketContext): Promise<RunRecord[]> {
  const records: RunRecord[] = [];
  for (const variant of [undefined, ...ctx.variants]) records.push(await idleMemoryCase(ctx, variant));
  records.push(await idleFloorCase(ctx));
  return records;
}

/** The case name of the bare node:net server holding the same idle connections (net-floor-holder.ts). */
export const IDLE_FLOOR = 'node:net server (floor)';

/** The same idle connections held by a bare node:net server: what Node itself costs per connection. */
async function idleFloorCase(ctx: PacketContext): Promise<RunRecord> {
  // With the broker's own node flags (its #! line: a larger young generation), so that the two
  // differ only in what each does per connection.
  const holder = spawnChild(process.execPath, [...shebangFlags(PROGRAMS.broker), path.join(BENCH_DIST, 'net-floor-holder.js')]);
  const n = ctx.timing.idleConnections;
  let idle: Child | undefined;
  try {
    const port = (await readyLine(holder)).port as number;
    await sleep(1000);
    const busyBefore = await waitForQuiet(QUIET_CORES, QUIET_WAIT_MS);
    const before = rssBytes(holder.pid);
    idle = spawnBenchScript('idle-connections', ['--port', String(port), '--count', String(n)]);
    const ready = await readyLine(idle, 120_000);
    await sleep(2000);
    const during = rssBytes(holder.pid);
    const perConnection = (during - before) / n;
    ctx.log(`  idle ${IDLE_FLOOR}: ${ready.open} open, RSS ${mb(before)} -> ${mb(during)} MB (${Math.round(perConnection)} B/connection)`);
    return {
      suite: 'memory-idle',
      case: IDLE_FLOOR,
      round: 0,
      rps: 0,
      errors: n - (ready.open as number),
      busyBefore,
      memory: { connections: ready.open as number, rssBefore: before, rssIdle: during, bytesPerConnection: Math.round(perConnection) },
    };
  } finally {
    await idle?.stop('SIGKILL');
    await holder.stop();
  }
}

async function idleMemoryCase(ctx: PacketContext, variant: BrokerVariant | undefined): Promise<RunRecord> {
  const name = variant === undefined ? 'policy-broker' : `policy-broker@${variant.name}`;
  const bed = await BrokerBed.start(PACKET_SHAPE.servers, variant);
  const n = ctx.timing.idleConnections;
  let idle: Child | undefined;
  try {
    await sleep(1000);
    const busyBefore = await waitForQuiet(QUIET_CORES, QUIET_WAIT_MS);
    const before = rssBytes(bed.brokerPid);
    idle = spawnBenchScript('idle-connections', ['--port', String(bed.port), '--count', String(n)]);
    const ready = await readyLine(idle, 120_000);
    await sleep(2000);
    const during = rssBytes(bed.brokerPid);
    // The broker still serves while they are open.
    const load = await runPacketLoad(bed.target('policy-broker'), MAIN_SHAPE, { warmupMs: ctx.timing.warmupMs, durationMs: ctx.timing.durationMs });
    const afterLoad = rssBytes(bed.brokerPid);
    const perConnection = (during - before) / n;
    ctx.log(`  idle ${name}: ${ready.open} open, RSS ${mb(before)} -> ${mb(during)} MB (${Math.round(perConnection)} B/connection), ${Math.round(load.rps)}/s meanwhile`);
    return {
      suite: 'memory-idle',
      case: name,
      round: 0,
      rps: load.rps,
      p99Ms: load.p99Ms,
      p50Ms: load.p50Ms,
      errors: load.errors + (n - (ready.open as number)),
      answered: load.answered,
      busyBefore,
      memory: { connections: ready.open as number, rssBefore: before, rssIdle: during, rssAfterLoad: afterLoad, bytesPerConnection: Math.round(perConnection) },
    };
  } finally {
    await idle?.stop('SIGKILL');
    await bed.stop();
  }
}

/** Load for soakMs; the broker's RSS sampled all along, compared early and at the end. */
export async function soakSuite(ctx: PacketContext, label: string): Promise<RunRecord[]> {
  const bed = await BrokerBed.start(PACKET_SHAPE.servers);
  const samples: Array<{ atMs: number; rss: number }> = [];
  try {
    const t0 = performance.now();
    const sampler = setInterval(() => samples.push({ atMs: Math.round(performance.now() - t0), rss: rssBytes(bed.brokerPid) }), ctx.timing.soakSampleMs);
    const load = await runPacketLoad(bed.target('policy-broker'), MAIN_SHAPE, { warmupMs: 0, durationMs: ctx.timing.soakMs });
    clearInterval(sampler);
    const early = samples.filter((s) => s.atMs <= ctx.timing.soakEarlyMs + ctx.timing.soakSampleMs / 2).pop() ?? samples[0]!;
    const last = samples[samples.length - 1]!;
    const peak = Math.max(...samples.map((s) => s.rss));
    ctx.log(`  soak (${label}): RSS ${mb(early.rss)} MB at ${early.atMs} ms, ${mb(last.rss)} MB at ${last.atMs} ms; ${Math.round(load.rps)}/s`);
    return [
      {
        suite: 'memory-soak',
        case: 'policy-broker',
        round: 0,
        rps: load.rps,
        p50Ms: load.p50Ms,
        p99Ms: load.p99Ms,
        errors: load.errors + load.verifyFailed,
        answered: load.answered,
        cpu: load.cpu,
        memory: { label, soakMs: ctx.timing.soakMs, earlyAtMs: early.atMs, rssEarly: early.rss, endAtMs: last.atMs, rssEnd: last.rss, rssPeak: peak, samples },
      },
    ];
  } finally {
    await bed.stop();
  }
}

export function mb(bytes: number): string {
  return (bytes / 1024 / 1024).toFixed(1);
}

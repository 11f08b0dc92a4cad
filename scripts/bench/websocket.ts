#!/usr/bin/env node
/**
 * WebSockets through the HTTP front end (docs/http.md, "WebSocket and Upgrade"); the `websocket`
 * suite of `npm run bench` (`npm run bench -- --only websocket`):
 *
 * 1. idle: the broker's resident memory per idle WebSocket (`--idle` of them, 10,000 in the
 *    suite), beside as many idle keep-alive HTTP connections, each held by a child process
 *    (ws-idle.ts) against a policy-server-pool --http server;
 * 2. throughput: relayed messages per second over `--connections` WebSockets (64), each one
 *    message in flight (send, wait for the echo), through the broker and straight to the same
 *    backend in the same run, interleaved rounds. The goal is >= 0.8x direct: it is a pipe.
 *
 * Run alone for a small check: `node dist/scripts/bench/websocket.js --idle 50 --duration-ms 1000`
 * prints the records as JSON lines (it needs `ulimit -n` above twice the idle count).
 */
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';
import { start, type Program } from '../lib/programs.js';
import { readyLine, rssBytes, sleep, spawnBenchScript, type Child } from './processes.js';
import { NOISY_CORES, type RunRecord } from './results.js';

export interface WebSocketBenchOptions {
  /** Idle connections of each kind. */
  idle: number;
  /** WebSockets of the throughput case. */
  connections: number;
  /** Measured window of each throughput round. */
  durationMs: number;
  rounds: number;
  log: (line: string) => void;
}

/** Bytes of each message of the throughput case. */
const MESSAGE_BYTES = 64;
/** Time for the broker's RSS to settle after the connections opened or closed. */
const SETTLE_MS = 2000;

export async function websocketSuite(o: WebSocketBenchOptions): Promise<RunRecord[]> {
  const programs: Program[] = [];
  try {
    const broker = start('broker', ['--port', '0', '--http-port', '0', '--health-interval', '0', '--http-keep-alive-timeout', '3600000', '--http-max-connections', String(o.idle * 2 + 1000)]);
    programs.push(broker);
    const ready = await broker.ready;
    const pool = start('pool', ['--broker', `127.0.0.1:${ready.packet.port}`, '--policy', '111', '--count', '1', '--http']);
    programs.push(pool);
    const backendPort = (await pool.ready).servers[0].httpPort as number;
    const httpPort = ready.http.port as number;
    const brokerPid = broker.child.pid!;
    const records: RunRecord[] = [];
    for (const kind of ['ws', 'http'] as const) records.push(await idleCase(o, kind, httpPort, brokerPid));
    records.push(...(await throughputCases(o, httpPort, backendPort)));
    return records;
  } finally {
    for (const p of programs.reverse()) await p.stop();
  }
}

async function idleCase(o: WebSocketBenchOptions, kind: 'ws' | 'http', port: number, brokerPid: number): Promise<RunRecord> {
  let holder: Child | undefined;
  try {
    await sleep(SETTLE_MS / 2);
    const before = rssBytes(brokerPid);
    holder = spawnBenchScript('ws-idle', ['--port', String(port), '--count', String(o.idle), '--kind', kind]);
    const ready = await readyLine(holder, 300_000);
    await sleep(SETTLE_MS);
    const during = rssBytes(brokerPid);
    const open = ready.open as number;
    const perConnection = Math.round((during - before) / Math.max(1, open));
    const name = kind === 'ws' ? 'idle WebSockets' : 'idle keep-alive HTTP connections';
    o.log(`  ${name}: ${open} open (${ready.failed} failed), broker RSS ${mb(before)} -> ${mb(during)} MB, ${perConnection} B/connection`);
    return { suite: 'websocket-idle', case: name, round: 0, rps: 0, errors: ready.failed as number, memory: { connections: open, rssBefore: before, rssIdle: during, bytesPerConnection: perConnection } };
  } finally {
    await holder?.stop('SIGKILL');
    // Wait for the broker to see them go before the next case measures.
    await sleep(SETTLE_MS);
  }
}

async function throughputCases(o: WebSocketBenchOptions, brokerPort: number, backendPort: number): Promise<RunRecord[]> {
  const records: RunRecord[] = [];
  const targets = [
    { name: 'direct to the backend', port: backendPort },
    { name: 'policy-broker', port: brokerPort },
  ];
  // A warm-up of each target, not recorded: the first round would otherwise pay the JIT's start.
  for (const t of targets) await pingPong(t.port, o.connections, Math.max(250, o.durationMs / 4));
  for (let round = 0; round < o.rounds; round++) {
    // Alternate which goes first, so that neither always runs on a warmer machine.
    for (const t of round % 2 === 0 ? targets : [...targets].reverse()) {
      const r = await pingPong(t.port, o.connections, o.durationMs);
      o.log(`  ${o.connections} WebSockets ${t.name}: ${Math.round(r.rps)} messages/s (${r.errors} errors)`);
      records.push({ suite: 'websocket-throughput', case: t.name, round, rps: r.rps, errors: r.errors, answered: r.messages, windowMs: o.durationMs, shape: { connections: o.connections, messageBytes: MESSAGE_BYTES, inFlightPerConnection: 1 } });
    }
  }
  const median = (name: string): number => {
    const xs = records.filter((r) => r.case === name).map((r) => r.rps).sort((a, b) => a - b);
    return xs[xs.length >> 1] ?? 0;
  };
  const ratio = median('policy-broker') / Math.max(1, median('direct to the backend'));
  o.log(`  through the broker / direct: ${ratio.toFixed(2)}x (goal >= 0.8x)`);
  return records;
}

/** `connections` WebSockets, each echoing one message at a time for `durationMs`; messages per second. */
async function pingPong(port: number, connections: number, durationMs: number): Promise<{ rps: number; messages: number; errors: number }> {
  const payload = Buffer.alloc(MESSAGE_BYTES, 'x');
  const sockets = await Promise.all(Array.from({ length: connections }, () => openEcho(port)));
  let messages = 0;
  let errors = 0;
  let running = true;
  const loops = sockets.map(
    (ws) =>
      new Promise<void>((resolve) => {
        ws.on('message', () => {
          messages++;
          if (running) ws.send(payload);
          else resolve();
        });
        ws.once('close', () => {
          if (running) errors++;
          resolve();
        });
        ws.send(payload);
      }),
  );
  const began = performance.now();
  await sleep(durationMs);
  running = false;
  const elapsed = performance.now() - began;
  const counted = messages;
  await Promise.all(loops);
  for (const ws of sockets) ws.terminate();
  return { rps: (counted * 1000) / elapsed, messages: counted, errors };
}

/** A WebSocket to a pool server's echo (direct or through the broker), its hello read. */
function openEcho(port: number): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/`, { perMessageDeflate: false });
    ws.once('message', () => resolve(ws));
    ws.once('error', reject);
  });
}

function mb(bytes: number): string {
  return (bytes / 1024 / 1024).toFixed(1);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({
    options: { idle: { type: 'string', default: '10000' }, connections: { type: 'string', default: '64' }, 'duration-ms': { type: 'string', default: '4000' }, rounds: { type: 'string', default: '3' } },
  });
  const records = await websocketSuite({
    idle: Number(values.idle),
    connections: Number(values.connections),
    durationMs: Number(values['duration-ms']),
    rounds: Number(values.rounds),
    log: (line) => process.stderr.write(`${line}\n`),
  });
  for (const r of records) process.stdout.write(`${JSON.stringify(r)}\n`);
  process.exit(0);
}

/**
 * docs/benchmarks-websocket.md, written whenever the suite runs: the idle memory per connection
 * of each kind and the relayed messages per second, each round, with the goal's verdict (noisy
 * when the machine was busy before it: `busy` cores of other work).
 */
export function renderWebsocketReport(records: readonly RunRecord[], meta: { startedAt: string; commit: string; node: string; loadBefore: number[]; busy: number }): string {
  const idle = records.filter((r) => r.suite === 'websocket-idle');
  const rounds = (name: string): number[] => records.filter((r) => r.suite === 'websocket-throughput' && r.case === name).map((r) => Math.round(r.rps));
  const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[xs.length >> 1] ?? 0;
  const ours = rounds('policy-broker');
  const direct = rounds('direct to the backend');
  const ratio = median(ours) / Math.max(1, median(direct));
  const verdict = ours.length === 0 ? 'not run' : meta.busy > NOISY_CORES ? 'noisy' : ratio >= 0.8 ? 'met' : 'missed';
  const mem = (r: RunRecord) => r.memory as { connections: number; rssBefore: number; rssIdle: number; bytesPerConnection: number };
  return [
    '# WebSockets through the broker: measured',
    '',
    '<!-- Generated by `npm run bench -- --only websocket` (scripts/bench/websocket.ts); do not edit by hand. -->',
    '',
    `Run on ${meta.startedAt.slice(0, 16).replace('T', ' ')} UTC, build \`${meta.commit}\`, Node ${meta.node}; load average before: ${meta.loadBefore.join(' ')}; ` +
      `${meta.busy} cores of other work before the throughput rounds (above ${NOISY_CORES}: **noisy**). One policy-server-pool --http server is the backend.`,
    '',
    '| idle connections | open | broker RSS before → with them | bytes per connection |',
    '| --- | --- | --- | --- |',
    ...idle.map((r) => `| ${r.case} | ${mem(r).connections} | ${mb(mem(r).rssBefore)} → ${mb(mem(r).rssIdle)} MB | ${mem(r).bytesPerConnection} |`),
    '',
    `Relayed messages per second, ${WEBSOCKET_SHAPE} (rounds alternate which goes first):`,
    '',
    '| target | messages/s per round | median |',
    '| --- | --- | --- |',
    `| direct to the backend | ${direct.join(', ')} | ${median(direct)} |`,
    `| policy-broker | ${ours.join(', ')} | ${median(ours)} |`,
    '',
    `Through the broker / direct: **${ratio.toFixed(2)}×** (goal ≥ 0.8×: it is a pipe): **${verdict}**.`,
    '',
  ].join('\n');
}

const WEBSOCKET_SHAPE = `64-byte messages, one in flight per WebSocket, from one client process (the bench's own)`;

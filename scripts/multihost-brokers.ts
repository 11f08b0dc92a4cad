#!/usr/bin/env node
/**
 * The two-broker variant of scripts/multihost.sh: hosts made of network namespaces, two brokers
 * on their own hosts sharing a Redis on a third, servers on a fourth, clients on a fifth, every
 * program given both brokers. Under load, one broker host's link goes down (`ip link set
 * down`): nothing errors, that broker just goes silent. The clients notice the silence
 * (--silence) and resubmit to the other broker; the pool whose session was on the cut broker
 * gets no answer to its heartbeats (--broker-silence) and registers with the other. Exit 0 when
 * nothing was lost, every reply verified and both moves happened; 1 otherwise; 2 on a bad
 * option; 3 when namespaces cannot be made here (0 with "SKIP: ..." under --allow-skip).
 * Needs root, iproute2 and redis-server, and a build.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { Command, InvalidArgumentError } from 'commander';
import { parseOrExit } from '../broker/support/cli.js';
import { createNetwork, unavailable, type Network } from './lib/netns.js';
import { onStopSignal } from './lib/platform.js';
import { run, start, type Program } from './lib/programs.js';
import { parseTime } from './lib/sim-plan.js';
import { waitFor } from './lib/wait.js';
import { which } from './lib/which.js';

const SUBNET = '10.205.0';
const HOSTS = { b1: `${SUBNET}.1`, b2: `${SUBNET}.2`, redis: `${SUBNET}.5`, srv: `${SUBNET}.11`, client: `${SUBNET}.100` };
type Host = keyof typeof HOSTS;
const PORT = 2100;
const B1 = `${HOSTS.b1}:${PORT}`;
const B2 = `${HOSTS.b2}:${PORT}`;
const SERVER_TIMEOUT_MS = 1000;
/** Above --server-timeout: a slow server is answered TIMEOUT by its broker before this. */
const CLIENT_SILENCE_MS = 1500;
const BROKER_SILENCE_MS = 1000;
const READY_TIMEOUT_MS = 20_000;

interface Options {
  prefix: string;
  loadSeconds: number;
  cutAfter: number;
  json?: boolean;
  allowSkip?: boolean;
}

/** What one load reported (its --json summary), with the brokers it was given. */
interface ClientResult {
  brokers: string;
  sent: number;
  lost: number;
  errors: Record<string, number>;
  verified: number;
  verifyFailed: number;
  resubmitted: number;
  silentBrokers: number;
  maxMs: number;
}

export interface Report {
  multihostBrokers: true;
  ok: boolean;
  problems: string[];
  clients: ClientResult[];
  /** From the cut to the cut pool's registration with the other broker, by its log. */
  poolMovedAfterMs: number | undefined;
  /** Replies by server, of packets sent through b2 after the load. */
  after: Record<string, number>;
  totalMs: number;
}

function milliseconds(value: string): number {
  const ms = parseTime(value);
  if (ms === undefined || ms < 200) throw new InvalidArgumentError(`expected a time of at least 200ms like 1500ms or 2s, got "${value}"`);
  return ms;
}

function wholeSeconds(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 2 || n > 600) throw new InvalidArgumentError(`expected whole seconds from 2 to 600, got "${value}"`);
  return n;
}

/** The last stdout line of a --json load, parsed. */
function lastJson(stdout: string): Record<string, any> {
  try {
    return JSON.parse(stdout.trim().split('\n').pop() ?? '{}');
  } catch {
    return {};
  }
}

/** Established TCP connections from `host` to `destination`, as ss lists them. */
function established(network: Network, host: Host, destination: string): string {
  try {
    return execFileSync('ip', ['netns', 'exec', network.ns(host), 'ss', '-Htn', 'state', 'established', 'dst', destination], { encoding: 'utf8' });
  } catch {
    return '';
  }
}

async function scenario(options: Options, network: Network, programs: Program[], say: (line: string) => void): Promise<Report> {
  const started = Date.now();
  const secret = randomBytes(18).toString('hex');
  const registry = `redis://${HOSTS.redis}:6379`;
  const add = (program: Program): Program => {
    programs.push(program);
    return program;
  };
  say(`network   bridge br0 in netns ${options.prefix}-lan, subnet ${SUBNET}.0/24`);

  const brokers = (['b1', 'b2'] as const).map((host) =>
    add(
      start(
        'broker',
        ['--host', HOSTS[host], '--port', String(PORT), '--registry', registry, '--registry-resync', '250', '--heartbeat', '250', '--heartbeat-misses', '4',
          '--server-timeout', String(SERVER_TIMEOUT_MS), '--max-attempts', '5'],
        { netns: network.ns(host), env: { POLICY_BROKER_REGISTRATION_SECRET: secret }, readyTimeoutMs: READY_TIMEOUT_MS },
      ),
    ),
  );
  // Each broker keeps trying Redis (--registry-wait) before its ready line.
  await Promise.all(brokers.map((b) => b.ready));
  const line = (host: Host, what: string) => say(`host      ${`${options.prefix}-${host}`.padEnd(14)}${HOSTS[host].padEnd(14)}${what}`);
  line('redis', 'redis-server on :6379');
  line('b1', `policy-broker on ${B1}, --registry ${registry}`);
  line('b2', `policy-broker on ${B2}, --registry ${registry}`);

  // Servers 100, 101 register with b1 first (theirs is the session the cut breaks), 200, 201 with b2.
  const pool = (ids: string, first: string, second: string, port: number): Program =>
    add(
      start(
        'pool',
        ['--broker', `${first},${second}`, '--policy', '111', '--ids', ids, '--listen-host', HOSTS.srv, '--port', String(port), '--delay', '2',
          '--broker-silence', String(BROKER_SILENCE_MS), '--log-format', 'json'],
        { netns: network.ns('srv'), env: { POLICY_SERVER_POOL_SECRET: secret }, logLevel: 'info', readyTimeoutMs: READY_TIMEOUT_MS },
      ),
    );
  const onB1 = pool('100,101', B1, B2, 7100);
  const onB2 = pool('200,201', B2, B1, 7200);
  await Promise.all([onB1.ready, onB2.ready]);
  line('srv', 'servers 100, 101 (--broker b1,b2) and 200, 201 (--broker b2,b1), policy 111');

  // Every server routable from both brokers before the load (the registry's hints and resync).
  for (const broker of [B1, B2]) {
    await waitFor(`all four servers served through ${broker}`, async () => {
      const result = await run('client', ['--broker', broker, '--policy', '111', '--count', '40', '--json'], { netns: network.ns('client'), timeoutMs: READY_TIMEOUT_MS });
      return Object.keys(lastJson(result.stdout).byServer ?? {}).length === 4;
    }, READY_TIMEOUT_MS, 100);
  }

  const load = (first: string, second: string): Program =>
    add(
      start(
        'client',
        ['--broker', `${first},${second}`, '--policy', '111', '--duration', String(options.loadSeconds), '--concurrency', '16', '--payload-size', '32',
          '--verify', 'sha1', '--silence', String(CLIENT_SILENCE_MS), '--json'],
        { netns: network.ns('client') },
      ),
    );
  say(`load      ${options.loadSeconds}s from ${options.prefix}-client (${HOSTS.client}): one client --broker b1,b2, one --broker b2,b1; b1's link goes down ${options.cutAfter / 1000}s in`);
  const loads = [load(B1, B2), load(B2, B1)];
  await waitFor('the clients connected to b1 and b2', () => established(network, 'client', B1) !== '' && established(network, 'client', B2) !== '', READY_TIMEOUT_MS, 20);
  // The cut comes mid-load: that is the scenario, so this one delay is deliberate.
  await sleep(options.cutAfter);
  execFileSync('ip', ['-n', `${options.prefix}-lan`, 'link', 'set', 'v-b1', 'down']);
  const cutAt = Date.now();
  say(`cut       ip -n ${options.prefix}-lan link set v-b1 down`);
  const codes = await Promise.all(loads.map((c) => c.exited));

  const problems: string[] = [];
  const clients = loads.map((c, i): ClientResult => {
    const s = lastJson(c.lines.join('\n'));
    const result: ClientResult = {
      brokers: i === 0 ? 'b1,b2' : 'b2,b1',
      sent: s.sent ?? 0,
      lost: s.lost ?? 0,
      errors: s.errors ?? {},
      verified: s.verified ?? 0,
      verifyFailed: s.verifyFailed ?? 0,
      resubmitted: s.resubmitted ?? 0,
      silentBrokers: s.silentBrokers ?? 0,
      maxMs: s.maxMs ?? 0,
    };
    const who = `client --broker ${result.brokers}`;
    if (s.sent === undefined) problems.push(`${who}: no summary (exit ${codes[i]}): ${c.stderr().trim().split('\n').pop() ?? ''}`);
    if (result.lost !== 0) problems.push(`${who}: ${result.lost} lost`);
    if (Object.keys(result.errors).length > 0) problems.push(`${who}: errors ${JSON.stringify(result.errors)}`);
    if (result.verified !== result.sent || result.verifyFailed !== 0) problems.push(`${who}: ${result.verified} of ${result.sent} replies verified`);
    return result;
  });
  if (clients[0]!.silentBrokers === 0 || clients[0]!.resubmitted === 0) problems.push('the client on b1 did not give it up for its silence');
  if (clients[1]!.silentBrokers !== 0) problems.push('the client on b2 took it for silent');

  const moved = onB1
    .stderr()
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, string>)
    .find((entry) => entry.message === 're-registered with the broker');
  const poolMovedAfterMs = moved === undefined ? undefined : Date.parse(moved.timestamp!) - cutAt;
  if (moved === undefined) problems.push('the pool on b1 did not register with b2');

  // After: every server is served through b2, the cut pool's included.
  let after: Record<string, number> = {};
  await waitFor('all four servers served through b2', async () => {
    const result = await run('client', ['--broker', B2, '--policy', '111', '--count', '80', '--verify', 'sha1', '--json'], { netns: network.ns('client'), timeoutMs: READY_TIMEOUT_MS });
    after = lastJson(result.stdout).byServer ?? {};
    return Object.keys(after).length === 4;
  }, 10_000, 100).catch(() => problems.push(`after the cut, b2 served only ${JSON.stringify(after)}`));

  return { multihostBrokers: true, ok: problems.length === 0, problems, clients, poolMovedAfterMs, after, totalMs: Date.now() - started };
}

function format(report: Report): string {
  const rows = [['client', 'sent', 'lost', 'verified', 'resubmitted', 'silent brokers', 'slowest ms']];
  for (const c of report.clients) rows.push([`--broker ${c.brokers}`, String(c.sent), String(c.lost), `${c.verified}/${c.sent}`, String(c.resubmitted), String(c.silentBrokers), String(Math.round(c.maxMs))]);
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  const table = rows.map((r) => r.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join('  ')).join('\n');
  const moved = report.poolMovedAfterMs === undefined ? 'did not move' : `registered with b2 ${(report.poolMovedAfterMs / 1000).toFixed(1)} s after the cut`;
  const after = Object.entries(report.after).map(([id, n]) => `${id}: ${n}`).join(', ');
  return [
    '',
    table,
    '',
    `pool on b1: ${moved}`,
    `after     through b2: ${after}`,
    report.ok ? 'result: OK (0 lost, every reply verified; clients and pool moved to b2)' : `result: FAILED\n${report.problems.map((p) => `  ${p}`).join('\n')}`,
  ].join('\n');
}

const program = new Command('multihost-brokers')
  .description('Two brokers sharing a Redis, on hosts made of network namespaces; one broker host cut off under load (needs root, iproute2, redis-server)')
  .option('--prefix <name>', 'name prefix of the namespaces', 'pbmb')
  .option('--load-seconds <n>', 'length of the load during which the link is cut', wholeSeconds, 6)
  .option('--cut-after <time>', 'when b1\'s link goes down, into the load', milliseconds, 1500)
  .option('--json', 'also print the report as one JSON line, last')
  .option('--allow-skip', 'print "SKIP: reason" and exit 0 where namespaces cannot be made');

program.action(async (options: Options) => {
  if (!/^[a-z][a-z0-9]{0,7}$/.test(options.prefix)) program.error('--prefix: 1 to 8 lower-case letters and digits, starting with a letter', { exitCode: 2 });
  if (options.cutAfter > options.loadSeconds * 1000 - 1000) program.error('--cut-after: at least 1s before the end of --load-seconds', { exitCode: 2 });
  const why = unavailable() ?? (!which('redis-server') ? 'redis-server is missing (apt-get install -y redis-server)' : undefined);
  if (why !== undefined) {
    if (options.allowSkip === true) {
      process.stdout.write(`SKIP: multihost-brokers: ${why}\n`);
      return;
    }
    process.stderr.write(`multihost-brokers: ${why} (use --allow-skip to skip instead)\n`);
    process.exitCode = 3;
    return;
  }
  const network = createNetwork(options.prefix, HOSTS);
  const programs: Program[] = [];
  let redis: ChildProcess | undefined;
  const cleanUp = async (): Promise<void> => {
    for (const p of programs.reverse()) await p.stop('SIGKILL');
    if (redis !== undefined && redis.exitCode === null && redis.signalCode === null) {
      const exited = once(redis, 'exit');
      redis.kill('SIGKILL');
      await exited;
    }
    network.remove();
  };
  onStopSignal(() => void cleanUp().finally(() => process.exit(130)));
  try {
    redis = spawn('ip', ['netns', 'exec', network.ns('redis'), 'redis-server', '--port', '6379', '--bind', HOSTS.redis, '--protected-mode', 'no', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
    const report = await scenario(options, network, programs, (text) => process.stdout.write(text + '\n'));
    process.stdout.write(format(report) + '\n');
    if (options.json === true) process.stdout.write(JSON.stringify(report) + '\n');
    process.exitCode = report.ok ? 0 : 1;
  } catch (err) {
    process.stderr.write(`multihost-brokers: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  } finally {
    await cleanUp();
  }
});

await parseOrExit(program);

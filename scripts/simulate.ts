#!/usr/bin/env node
/**
 * npm run simulate: a whole lab from one command, on Linux, macOS and Windows. Starts a broker,
 * a server pool per policy and N clients on loopback, waits for each program's ready line
 * (never a fixed sleep), prints a table per policy and server, and exits 1 on any loss, error
 * answer or failed verification. With --kill-one-server-after it kills one server mid-run to
 * show failover. Everything it starts is stopped on exit and on Ctrl-C. What differs between
 * platforms is in lib/platform.ts; the plan is in lib/sim-plan.ts, the report in lib/sim-report.ts.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Command } from 'commander';
import { parseOrExit, EXIT_USAGE } from '../broker/support/cli.js';
import { lossEventsOf, parseLog, summaryFrom } from './lib/manifest.js';
import { EXIT_ON_SIGNAL, isRunning, killNow, onStopSignal, stopGracefully } from './lib/platform.js';
import { start, type Program } from './lib/programs.js';
import { clientPolicies, resolveSimulationOptions, serverIds, SimulationOptionError, type RawSimulationOptions, type SimulationOptions } from './lib/sim-plan.js';
import { formatSimulationReport, simulationReport, type SimulationInput } from './lib/sim-report.js';

const NAME = 'simulate';
const STOP_GRACE_MS = 5000;

/** A failure after the options were fine: message on stderr, exit 1. */
class SimulationFailure extends Error {}

const program = new Command(NAME)
  .usage('[options]')
  // One line per paragraph: commander wraps it to the terminal; line breaks of our own would
  // be wrapped again, mid-sentence.
  .description(
    [
      'Starts a broker, servers and clients on 127.0.0.1, waits until each is ready, runs the clients, prints who served whom and how fast, and stops everything.',
      'Exit code 0 when every packet got a verified reply, 1 when anything was lost, answered with an error or failed verification, 2 on a bad option.',
      'Defaults are the classic lab: servers 100 and 300 in policy 111, 200 and 400 in policy 222, 15 clients with random policies.',
      'Runs on Linux, macOS and Windows (npm run simulate -- OPTIONS); scripts/simulate.sh runs the same.',
    ].join('\n\n'),
  )
  .option('--policies <list>', 'comma-separated policies (default 111,222)')
  .option('--servers-per-policy <n>', 'servers in each policy (default 2); ids are 100, 200, ... taken in turn by the policies, as in the classic lab')
  .option('--clients <n>', 'client processes, each with a random policy (default 15)')
  .option('--packets <n>', 'packets per client (default 100)')
  .option('--duration <seconds>', 'send for this long per client instead of --packets')
  .option('--concurrency <n>', 'packets in flight per client (default 1)')
  .option('--payload-size <n>', 'random payload length, verified by SHA-1 (default 32)')
  .option('--algorithm <name>', 'round-robin|random|first|last|least-outstanding (default round-robin)')
  .option('--delay <ms>', 'simulated work per packet on the servers (default 0; 5 with a kill)')
  .option('--kill-one-server-after <time>', 'chaos: kill one server with SIGKILL this long into the load (2s, 1500ms); each server then runs as its own process, and the clients send for 2*T+2 s unless --duration says otherwise')
  .option('--kill-server <id>', "which server to kill (default: the first of client 1's policy)")
  .option('--seed <n>', "seed for the clients' random policies (default: random)")
  .option('--json', 'print the report as one JSON line, last')
  .option('--keep-logs <dir>', "write every program's output into DIR")
  .option('--ready-timeout <seconds>', 'how long each program may take to be ready (default 20)')
  .addHelpText(
    'after',
    `
Examples:
  npm run simulate -- --policies 111,222 --servers-per-policy 2 --clients 15 --packets 100
  npm run simulate -- --kill-one-server-after 2s`,
  );

program.action(async (raw: Record<string, string | boolean | undefined>) => {
  let options: SimulationOptions;
  try {
    options = resolveSimulationOptions({
      policies: raw.policies,
      serversPerPolicy: raw.serversPerPolicy,
      clients: raw.clients,
      packets: raw.packets,
      durationS: raw.duration,
      concurrency: raw.concurrency,
      payloadSize: raw.payloadSize,
      algorithm: raw.algorithm,
      delayMs: raw.delay,
      killAfterMs: raw.killOneServerAfter,
      killServer: raw.killServer,
      seed: raw.seed,
      json: raw.json,
      keepLogs: raw.keepLogs,
      readyTimeoutS: raw.readyTimeout,
    } as RawSimulationOptions);
  } catch (err) {
    if (!(err instanceof SimulationOptionError)) throw err;
    process.stderr.write(`${NAME}: error: ${err.message}\nTry '${NAME} --help'.\n`);
    process.exit(EXIT_USAGE);
  }
  const run = new Simulation(options);
  onStopSignal((signal) => void run.stop().then(() => process.exit(EXIT_ON_SIGNAL[signal] ?? 1)));
  let code: number;
  try {
    code = await run.execute();
  } catch (err) {
    if (!(err instanceof SimulationFailure || err instanceof Error)) throw err;
    process.stderr.write(`${NAME}: ${err.message}\n`);
    code = 1;
  }
  await run.stop();
  process.exit(code);
});

class Simulation {
  /** Everything started, in start order, with the name its logs are kept under. */
  private readonly started: Array<{ name: string; program: Program }> = [];
  private stopping: Promise<void> | undefined;

  constructor(private readonly o: SimulationOptions) {}

  async execute(): Promise<number> {
    const o = this.o;
    const env = { POLICY_BROKER_LOG_FORMAT: 'json', POLICY_SERVER_POOL_LOG_FORMAT: 'json', POLICY_CLIENT_LOG_FORMAT: 'json' };

    // The broker, on free ports; its status page tells when the load has begun.
    const broker = this.start('broker', 'broker', ['--host', '127.0.0.1', '--port', '0', '--http-port', '0', '--algorithm', o.algorithm], { env, logLevel: 'info' });
    const ready = await broker.ready;
    const port = ready.packet.port as number;
    const httpPort = ready.http.port as number;
    console.log(`broker      127.0.0.1:${port}  algorithm ${o.algorithm}  (pid ${broker.child.pid})`);
    console.log(`dashboard   http://127.0.0.1:${httpPort}/_broker/  (while it runs)`);

    // The servers: one pool per policy, or one process per server when one is to be killed.
    const ids = serverIds(o.policies, o.serversPerPolicy);
    const processOf = new Map<number, Program>();
    const pools: Program[] = [];
    for (const [policy, list] of ids) {
      const groups = o.killAfterMs === undefined ? [list] : list.map((id) => [id]);
      for (const group of groups) {
        const pool = this.start(`pool-${policy}-${group.join('-')}`, 'pool', ['--broker', `127.0.0.1:${port}`, '--policy', String(policy), '--ids', group.join(','), '--delay', String(o.delayMs)], {
          env,
          logLevel: 'warn',
        });
        pools.push(pool);
        for (const id of group) processOf.set(id, pool);
      }
    }
    for (const pool of pools) {
      const poolReady = await pool.ready;
      console.log(`servers     ${JSON.stringify(poolReady.servers)}  (pid ${pool.child.pid})`);
    }

    // The clients, each with a random policy.
    const policies = clientPolicies(o.clients, o.policies, o.seed ?? Math.floor(Math.random() * 2 ** 32));
    const load = o.durationS === undefined ? ['--count', String(o.packets)] : ['--duration', String(o.durationS)];
    const clients = policies.map((policy, i) =>
      this.start(`client-${i + 1}`, 'client', [
        '--broker', `127.0.0.1:${port}`, '--policy', String(policy), '--srcid', String(i + 1), ...load,
        '--concurrency', String(o.concurrency), '--payload-size', String(o.payloadSize), '--verify', 'sha1', '--json',
      ], { env, logLevel: 'warn' }),
    );
    const what = o.durationS === undefined ? `${o.packets} packets` : `for ${o.durationS}s`;
    console.log(`clients     ${o.clients}, ${what} each, ${o.concurrency} in flight, policies: ${policies.join(' ')}`);

    let kill: SimulationInput['kill'];
    if (o.killAfterMs !== undefined) {
      const id = o.killServer ?? ids.get(policies[0]!)![0]!;
      const victim = processOf.get(id) ?? fail(`--kill-server ${id}: no such server (servers: ${[...processOf.keys()].join(' ')})`);
      // The kill's clock starts when the load does: once the broker has a packet from every
      // client, however long the processes took to start on a busy machine.
      await this.waitForPackets(httpPort, o.clients);
      await sleep(o.killAfterMs);
      if (!clients.some((client) => isRunning(client.child))) {
        fail(`every client had finished before the kill at ${o.killAfterMs / 1000}s: use a longer --duration`);
      }
      killNow(victim.child);
      await victim.exited;
      console.log(`chaos       killed server ${id} with SIGKILL (pid ${victim.child.pid}) ${o.killAfterMs / 1000}s into the load`);
      kill = { id, afterMs: o.killAfterMs, brokerEvents: [] };
    }

    const codes = await Promise.all(clients.map((client) => client.exited));
    // Let the last lines arrive.
    await Promise.all(clients.map((client) => new Promise((resolve) => (client.child.stdout!.readableEnded ? resolve(undefined) : client.child.stdout!.once('end', resolve)))));
    if (kill !== undefined) kill.brokerEvents = lossEventsOf(parseLog(broker.stderr()), kill.id);
    const input: SimulationInput = {
      algorithm: o.algorithm,
      policies: [...ids].map(([policy, servers]) => ({ policy, servers })),
      clients: clients.map((client, i) => ({ srcid: i + 1, policy: policies[i]!, exitCode: codes[i] ?? 1, summary: summaryFrom(client.lines.join('\n')) })),
      ...(kill !== undefined && { kill }),
    };
    const report = simulationReport(input);
    console.log('');
    process.stdout.write(formatSimulationReport(report));
    if (o.json) console.log(JSON.stringify(report));
    return report.ok ? 0 : 1;
  }

  /** Stops everything started, last first, and keeps the logs when asked; once. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      await Promise.all([...this.started].reverse().map(({ program }) => stopGracefully(program.child, STOP_GRACE_MS)));
      if (this.o.keepLogs !== undefined) this.keepLogs(this.o.keepLogs);
    })();
    return this.stopping;
  }

  private start(name: string, kind: 'broker' | 'pool' | 'client', args: string[], options: { env: Record<string, string>; logLevel: string }): Program {
    const p = start(kind, args, { ...options, readyTimeoutMs: this.o.readyTimeoutS * 1000 });
    this.started.push({ name, program: p });
    return p;
  }

  /** Polls the broker's status until it has received `count` packets. */
  private async waitForPackets(httpPort: number, count: number): Promise<void> {
    const deadline = Date.now() + this.o.readyTimeoutS * 1000;
    for (;;) {
      try {
        const status = (await (await fetch(`http://127.0.0.1:${httpPort}/_broker/status`)).json()) as { packet: { received: number } };
        if (status.packet.received >= count) return;
      } catch {
        // not answering yet
      }
      if (Date.now() > deadline) fail(`the clients did not start sending within ${this.o.readyTimeoutS}s`);
      await sleep(50);
    }
  }

  private keepLogs(dir: string): void {
    mkdirSync(dir, { recursive: true });
    for (const { name, program } of this.started) {
      writeFileSync(path.join(dir, `${name}.out`), program.lines.join('\n') + '\n');
      writeFileSync(path.join(dir, `${name}.log`), program.stderr());
    }
    process.stderr.write(`logs in ${path.resolve(dir)}\n`);
  }
}

function fail(message: string): never {
  throw new SimulationFailure(message);
}

await parseOrExit(program);

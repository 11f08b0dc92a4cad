/**
 * Several brokers sharing one registry on a real redis-server (docs/scale-out.md): packets and
 * HTTP requests through any broker reach every server of their policy; a broker killed under
 * load loses no packet (clients resubmit, pools re-register elsewhere); Redis restarted or
 * paused under load stops nothing, and the views agree again afterwards.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { run, start, startBroker, type Program } from '../helpers/programs.js';
import { teardown, timeUntil, waitFor } from '../helpers/fault.js';
import { brokerStatus, get } from '../helpers/http.js';
import { startRedis, type TestRedis } from '../helpers/redis-server.js';

const { programs } = teardown();

interface Node {
  program: Program;
  port: number;
  httpPort: number;
  id: string;
}

/** The resync period of every broker here: short, so expiries show within a test's time. */
const RESYNC_MS = 200;
/** Heartbeats every 200 ms, 3 missed: a session record's TTL is 600 ms. */
const HEARTBEAT = ['--heartbeat', '200', '--heartbeat-misses', '3'];
const TTL_MS = 600;

async function brokers(redis: TestRedis, prefix: string, count: number, extra: string[] = []): Promise<Node[]> {
  return Promise.all(
    Array.from({ length: count }, async () => {
      const { broker, port } = await startBroker(['--registry', redis.url, '--registry-prefix', prefix, '--registry-resync', String(RESYNC_MS), '--http-port', '0', ...HEARTBEAT, ...extra]);
      programs.push(broker);
      const ready = await broker.ready;
      const httpPort = ready.http.port as number;
      const status = await brokerStatus(httpPort);
      return { program: broker, port, httpPort, id: status.registry.brokerId as string };
    }),
  );
}

async function pool(brokerList: Node[], args: string[]): Promise<Program> {
  const p = start('pool', ['--broker', brokerList.map((b) => `127.0.0.1:${b.port}`).join(','), ...args]);
  programs.push(p);
  await p.ready;
  return p;
}

/** Servers (id → owner) of a policy in a broker's view. */
async function serversOf(node: Node, policy: number): Promise<Map<number, string>> {
  const status = await brokerStatus(node.httpPort);
  const group = status.policies.find((p: any) => p.policy === policy);
  return new Map((group?.servers ?? []).map((s: any) => [s.id as number, s.owner as string]));
}

/** Packets served by each server (id → count) of a policy, as a broker counts them. */
async function served(node: Node, policy: number): Promise<Map<number, number>> {
  const status = await brokerStatus(node.httpPort);
  const group = status.policies.find((p: any) => p.policy === policy);
  return new Map((group?.servers ?? []).map((s: any) => [s.id as number, s.served as number]));
}

async function allSee(nodes: Node[], policy: number, ids: number[], timeoutMs = 5000): Promise<void> {
  await waitFor(
    `every broker sees servers ${ids.join(',')} of policy ${policy}`,
    async () => {
      for (const node of nodes) {
        const seen = [...(await serversOf(node, policy)).keys()].sort((a, b) => a - b);
        if (seen.join() !== ids.join()) return false;
      }
      return true;
    },
    timeoutMs,
    50,
  );
}

async function load(brokerList: Node[], args: string[]): Promise<Record<string, any>> {
  const { code, stdout, stderr } = await run('client', ['--broker', brokerList.map((b) => `127.0.0.1:${b.port}`).join(','), '--json', ...args], { timeoutMs: 90_000 });
  const summary = JSON.parse(stdout.trim().split('\n').pop()!) as Record<string, any>;
  assert.equal(code, 0, `client exited ${code}: ${stdout} ${stderr}`);
  return summary;
}

describe('brokers sharing a registry', async () => {
  const redis = await startRedis();

  it('packets through any of 3 brokers spread over every server of their policy, never another policy', async () => {
    const nodes = await brokers(redis, 'spread:', 3);
    await pool([nodes[0]!], ['--policy', '111', '--ids', '100,101']);
    await pool([nodes[1]!], ['--policy', '111', '--ids', '102,103']);
    await pool([nodes[2]!], ['--policy', '222', '--ids', '200,201']);
    await allSee(nodes, 111, [100, 101, 102, 103]);
    await allSee(nodes, 222, [200, 201]);
    for (const node of nodes) {
      const summary = await load([node], ['--policy', '111', '--count', '3000', '--concurrency', '16']);
      assert.deepEqual(Object.keys(summary.byServer).sort(), ['100', '101', '102', '103']);
      for (const n of Object.values(summary.byServer) as number[]) assert.ok(Math.abs(n - 750) <= 7.5, `round-robin within 1%: ${JSON.stringify(summary.byServer)}`);
      const other = await load([node], ['--policy', '222', '--count', '1000', '--concurrency', '16']);
      assert.deepEqual(Object.keys(other.byServer).sort(), ['200', '201']);
    }
    const owners = await serversOf(nodes[2]!, 111);
    assert.equal(owners.get(100), nodes[0]!.id);
    assert.equal(owners.get(102), nodes[1]!.id);
    const status = await brokerStatus(nodes[1]!.httpPort);
    assert.deepEqual(status.registry.brokers.map((b: any) => b.id).sort(), nodes.map((n) => n.id).sort());
  });

  it('a broker SIGKILLed under 60,000 packets: none lost, its pools re-register elsewhere, its dead servers leave', async () => {
    // Default --max-attempts (3): a moving server keeps its member and its link on every broker
    // (a registration of the same server at the same endpoints renews it), so a packet meets at
    // most the dead server before a live one.
    const nodes = await brokers(redis, 'kill:', 3);
    const [b0, b1, b2] = nodes as [Node, Node, Node];
    // Pools whose home is b0 move on to b1, then b2; another pool stays on b1.
    await pool([b0, b1, b2], ['--policy', '111', '--ids', '100,101']);
    await pool([b1, b2, b0], ['--policy', '111', '--ids', '102,103']);
    // A server on b0's host that dies with it.
    const doomed = await pool([b0], ['--policy', '111', '--ids', '104']);
    await allSee(nodes, 111, [100, 101, 102, 103, 104]);
    const clients = [
      load([b0, b1, b2], ['--policy', '111', '--count', '30000', '--concurrency', '64', '--verify', 'sha1']),
      load([b2, b0, b1], ['--policy', '111', '--count', '30000', '--concurrency', '64', '--verify', 'sha1']),
    ];
    await waitFor('b0 routing the load', async () => (await brokerStatus(b0.httpPort)).packet.received > 5000, 30_000, 20);
    const servedBefore = await Promise.all([b1, b2].map((n) => served(n, 111)));
    const killedAt = Date.now();
    await Promise.all([b0.program.stop('SIGKILL'), doomed.stop('SIGKILL')]);
    const moved = await timeUntil(
      'pools 100 and 101 registered with another broker',
      async () => {
        const owners = await serversOf(b1, 111);
        return owners.get(100) !== undefined && owners.get(100) !== b0.id && owners.get(101) !== undefined && owners.get(101) !== b0.id;
      },
      TTL_MS + 1000,
      20,
    );
    // b1 and b2 kept the members of 100 and 101 (their links and counts) through the move: a
    // new member would have started its count afresh.
    const servedAfter = await Promise.all([b1, b2].map((n) => served(n, 111)));
    for (const [i, before] of servedBefore.entries()) {
      for (const id of [100, 101]) assert.ok(servedAfter[i]!.get(id)! >= before.get(id)!, `b${i + 1} kept server ${id}: served ${before.get(id)} then ${servedAfter[i]!.get(id)}`);
    }
    await waitFor('server 104 gone from b1 and b2', async () => !(await serversOf(b1, 111)).has(104) && !(await serversOf(b2, 111)).has(104), TTL_MS + 3 * RESYNC_MS + 1000, 20);
    const gone = Date.now() - killedAt;
    const [first, second] = await Promise.all(clients);
    for (const summary of [first!, second!]) {
      assert.equal(summary.lost, 0);
      assert.deepEqual(summary.errors, {});
      assert.equal(summary.verifyFailed, 0);
      assert.equal(summary.answered, 30000);
    }
    assert.ok(first!.resubmitted > 0, 'the client on b0 resubmitted its unanswered packets');
    console.log(`# broker-kill: ${JSON.stringify({ movedMs: moved, deadServerGoneMs: gone, resubmitted: first!.resubmitted + second!.resubmitted })}`);
    // Nothing reaches 104 any more: later packets go to the four live servers only.
    const after = await load([b1], ['--policy', '111', '--count', '2000', '--concurrency', '16']);
    assert.deepEqual(Object.keys(after.byServer).sort(), ['100', '101', '102', '103']);
  });

  it('Redis restarted and paused under load: routing goes on, nothing lost, the views agree again', async () => {
    const nodes = await brokers(redis, 'outage:', 2);
    const [b0, b1] = nodes as [Node, Node];
    await pool([b0, b1], ['--policy', '111', '--ids', '100,101']);
    await pool([b1, b0], ['--policy', '111', '--ids', '102,103']);
    await allSee(nodes, 111, [100, 101, 102, 103]);
    const running = load([b0, b1], ['--policy', '111', '--count', '40000', '--concurrency', '32']);
    await redis.restart();
    await allSee(nodes, 111, [100, 101, 102, 103], 5000);
    await waitFor('both brokers answer again', async () => {
      for (const n of nodes) if ((await brokerStatus(n.httpPort)).registry.degraded) return false;
      return (await redis.command(['SCARD', 'outage:servers'])) === 4;
    }, 5000, 50);
    // Redis stops answering for 3 s; a server registers with b1 meanwhile.
    const paused = redis.pause(3);
    await waitFor('b1 degraded', async () => (await brokerStatus(b1.httpPort)).registry.degraded === true, 3000, 50);
    await pool([b1], ['--policy', '111', '--ids', '104']);
    await paused;
    const summary = await running;
    assert.equal(summary.lost, 0);
    assert.deepEqual(summary.errors, {});
    // Written back: b0 learns of 104, and both views match Redis.
    await allSee(nodes, 111, [100, 101, 102, 103, 104], 5000);
    const [v0, v1] = await Promise.all([serversOf(b0, 111), serversOf(b1, 111)]);
    assert.deepEqual([...v0].sort(), [...v1].sort());
    assert.equal(v0.get(104), b1.id);
    const metrics = await get(`http://127.0.0.1:${b1.httpPort}/_broker/metrics`);
    assert.match(metrics.body, /^policy_broker_registry_degraded 0$/m);
  });

  it('HTTP: two brokers reach the same servers, and each balances over all of them', async () => {
    const nodes = await brokers(redis, 'http:', 2);
    const [b0, b1] = nodes as [Node, Node];
    await pool([b0], ['--policy', '111', '--ids', '100,101', '--http']);
    await pool([b1], ['--policy', '111', '--ids', '102,103', '--http']);
    await allSee(nodes, 111, [100, 101, 102, 103]);
    for (const node of nodes) {
      const seen = new Map<string, number>();
      for (let i = 0; i < 40; i++) {
        const res = await get(`http://127.0.0.1:${node.httpPort}/`, { 'x-privacy-policy': '111' });
        assert.equal(res.status, 200);
        const id = String(res.headers['x-server-id']);
        seen.set(id, (seen.get(id) ?? 0) + 1);
      }
      assert.deepEqual([...seen.keys()].sort(), ['100', '101', '102', '103']);
      for (const n of seen.values()) assert.equal(n, 10, `balanced: ${JSON.stringify([...seen])}`);
    }
  });
});

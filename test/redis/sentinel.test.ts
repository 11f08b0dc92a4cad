/**
 * Brokers sharing a registry through Redis Sentinel (docs/scale-out.md), with real processes: a
 * primary, a replica and three redis-sentinels; two brokers with pools on each. The primary is
 * SIGKILLed under load: no packet is lost or answered with an error, both brokers follow the
 * promoted replica (status and metrics say which, and when), a server registered after the
 * failover on one broker is routable from the other within 5 s, and the old primary coming back
 * (as a replica) changes nothing for clients.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { run, start, startBroker, type Program } from '../helpers/programs.js';
import { teardown, timeUntil, waitFor } from '../helpers/fault.js';
import { brokerStatus, get } from '../helpers/http.js';
import { startSentinels } from '../helpers/redis-sentinel.js';

const { programs } = teardown();

interface Node {
  program: Program;
  port: number;
  httpPort: number;
  id: string;
}

const RESYNC_MS = 200;
const HEARTBEAT = ['--heartbeat', '200', '--heartbeat-misses', '3'];

async function broker(url: string, prefix: string): Promise<Node> {
  const { broker, port } = await startBroker(['--registry', url, '--registry-prefix', prefix, '--registry-resync', String(RESYNC_MS), '--http-port', '0', ...HEARTBEAT]);
  programs.push(broker);
  const ready = await broker.ready;
  const httpPort = ready.http.port as number;
  const status = await brokerStatus(httpPort);
  return { program: broker, port, httpPort, id: status.registry.brokerId as string };
}

async function pool(brokers: Node[], args: string[]): Promise<Program> {
  const p = start('pool', ['--broker', brokers.map((b) => `127.0.0.1:${b.port}`).join(','), ...args]);
  programs.push(p);
  await p.ready;
  return p;
}

async function serversOf(node: Node, policy: number): Promise<number[]> {
  const status = await brokerStatus(node.httpPort);
  const group = status.policies.find((p: any) => p.policy === policy);
  return (group?.servers ?? []).map((s: any) => s.id as number).sort((a: number, b: number) => a - b);
}

async function allSee(nodes: Node[], policy: number, ids: number[], timeoutMs = 5000): Promise<number> {
  return timeUntil(
    `every broker sees servers ${ids.join(',')} of policy ${policy}`,
    async () => {
      for (const node of nodes) if ((await serversOf(node, policy)).join() !== ids.join()) return false;
      return true;
    },
    timeoutMs,
    20,
  );
}

async function load(brokers: Node[], args: string[]): Promise<Record<string, any>> {
  const { code, stdout, stderr } = await run('client', ['--broker', brokers.map((b) => `127.0.0.1:${b.port}`).join(','), '--json', ...args], { timeoutMs: 90_000 });
  const summary = JSON.parse(stdout.trim().split('\n').pop()!) as Record<string, any>;
  assert.equal(code, 0, `client exited ${code}: ${stdout} ${stderr}`);
  return summary;
}

describe('brokers sharing a registry through Redis Sentinel', async () => {
  const redis = await startSentinels();

  it('the primary SIGKILLed under 60,000 packets: none lost, no error, both brokers follow the new primary', async () => {
    const first = await redis.primaryPort();
    const nodes = [await broker(redis.url, 'failover:'), await broker(redis.url, 'failover:')];
    const [b0, b1] = nodes as [Node, Node];
    for (const node of nodes) {
      const { registry } = await brokerStatus(node.httpPort);
      assert.equal(registry.primary.address, `127.0.0.1:${first}`);
      assert.equal(registry.primary.changes, 0);
    }
    await pool([b0, b1], ['--policy', '111', '--ids', '100,101']);
    await pool([b1, b0], ['--policy', '111', '--ids', '102,103']);
    await allSee(nodes, 111, [100, 101, 102, 103]);
    const clients = [
      // 16 in flight each: long enough to span the failover (about 3 s) on 2 busy cores.
      load([b0, b1], ['--policy', '111', '--count', '30000', '--concurrency', '16', '--verify', 'sha1']),
      load([b1, b0], ['--policy', '111', '--count', '30000', '--concurrency', '16', '--verify', 'sha1']),
    ];
    let loadDone = false;
    void Promise.allSettled(clients).then(() => (loadDone = true));
    await waitFor('the load running', async () => (await brokerStatus(b0.httpPort)).packet.received > 1000, 30_000, 20);
    const killedAt = Date.now();
    assert.equal(loadDone, false, 'the primary is killed under load');
    await redis.kill(first);
    const second = await redis.failedOver(first, 30_000);
    const promotedMs = Date.now() - killedAt;
    const followedMs = await timeUntil(
      'both brokers on the new primary, not degraded',
      async () => {
        for (const node of nodes) {
          const { registry } = await brokerStatus(node.httpPort);
          if (registry.primary.address !== `127.0.0.1:${second}` || registry.degraded) return false;
        }
        return true;
      },
      15_000,
      20,
    );
    const loadSpannedFailover = !loadDone;
    // A server registered with b1 after the failover is routable from b0 within 5 s.
    const registeredAt = Date.now();
    await pool([b1], ['--policy', '111', '--ids', '104']);
    await allSee(nodes, 111, [100, 101, 102, 103, 104], 5000);
    const seenMs = Date.now() - registeredAt;
    const summaries = await Promise.all(clients);
    for (const summary of summaries) {
      assert.equal(summary.lost, 0);
      assert.deepEqual(summary.errors, {});
      assert.equal(summary.verifyFailed, 0);
      assert.equal(summary.answered, 30000);
    }
    const via0 = await load([b0], ['--policy', '111', '--count', '500', '--concurrency', '8']);
    assert.ok((via0.byServer['104'] ?? 0) > 0, `b0 routes to 104: ${JSON.stringify(via0.byServer)}`);
    for (const node of nodes) {
      const { registry } = await brokerStatus(node.httpPort);
      assert.equal(registry.primary.changes, 1);
      assert.ok(registry.primary.since >= killedAt);
      const metrics = await get(`http://127.0.0.1:${node.httpPort}/_broker/metrics`);
      assert.match(metrics.body, new RegExp(`^policy_broker_registry_primary\\{address="127\\.0\\.0\\.1:${second}"\\} 1$`, 'm'));
      assert.match(metrics.body, /^policy_broker_registry_primary_changes 1$/m);
    }
    // Every server's record is on the new primary (written back by its owner where the replica lacked it).
    assert.equal(await redis.command(second, ['SCARD', 'failover:servers']), 5);
    console.log(`# sentinel-failover: ${JSON.stringify({ promotedMs, followedMs, newServerSeenMs: seenMs, loadSpannedFailover, sent: 60000, lost: 0 })}`);

    // The old primary comes back: the Sentinels make it a replica; nothing changes for clients.
    await redis.restart(first);
    await waitFor(
      'the old primary a replica of the new one',
      async () => {
        const role = (await redis.command(first, ['ROLE']).catch(() => [])) as unknown[];
        return role[0] === 'slave' && String(await redis.command(first, ['INFO', 'replication'])).includes('master_link_status:up');
      },
      20_000,
      50,
    );
    const after = await Promise.all([load([b0, b1], ['--policy', '111', '--count', '3000', '--concurrency', '32']), load([b1, b0], ['--policy', '111', '--count', '3000', '--concurrency', '32'])]);
    for (const summary of after) {
      assert.equal(summary.lost, 0);
      assert.deepEqual(summary.errors, {});
    }
    for (const node of nodes) {
      const { registry } = await brokerStatus(node.httpPort);
      assert.equal(registry.primary.address, `127.0.0.1:${second}`);
      assert.equal(registry.primary.changes, 1);
    }
    assert.deepEqual(await serversOf(b0, 111), await serversOf(b1, 111));
  });
});

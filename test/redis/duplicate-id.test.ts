/**
 * The duplicate-id rule across brokers sharing a registry (issue 22, item 1): an id a live
 * server holds through one broker cannot be taken through another (DUPLICATE_ID, decided in
 * Redis), and a session whose record another broker replaced is told so and closed, so that the
 * real server behind it registers again.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { run, startBroker } from '../helpers/programs.js';
import { teardown, waitFor } from '../helpers/fault.js';
import { brokerStatus } from '../helpers/http.js';
import { FakeServer } from '../helpers/wire.js';
import { startRedis, type TestRedis } from '../helpers/redis-server.js';

const { programs, cleanups } = teardown();

async function twoBrokers(redis: TestRedis, prefix: string): Promise<Array<{ port: number; httpPort: number }>> {
  return Promise.all(
    [0, 1].map(async () => {
      const { broker, port } = await startBroker(['--registry', redis.url, '--registry-prefix', prefix, '--registry-resync', '200', '--http-port', '0']);
      programs.push(broker);
      const ready = await broker.ready;
      return { port, httpPort: ready.http.port as number };
    }),
  );
}

async function sees(httpPort: number, id: number): Promise<boolean> {
  const status = await brokerStatus(httpPort);
  return status.policies.some((p: any) => p.servers.some((s: any) => s.id === id));
}

async function fake(options: Parameters<typeof FakeServer.start>[0]): Promise<FakeServer> {
  const server = await FakeServer.start(options);
  cleanups.push(() => server.kill());
  return server;
}

describe('one id, two brokers, one Redis', async () => {
  const redis = await startRedis();

  it('a live session server\'s id registered through the other broker gets DUPLICATE_ID; its packets stay with the real server', async () => {
    const [b1, b2] = (await twoBrokers(redis, 'dup1:')) as [{ port: number; httpPort: number }, { port: number; httpPort: number }];
    const real = await fake({ id: 100, policy: 111, brokerPort: b1.port, heartbeatMs: 100 });
    assert.equal(JSON.parse(real.registration!.received[0]!).type, 4);
    await waitFor('b2 sees server 100', () => sees(b2.httpPort, 100), 5000, 20);
    for (const session of [true, false]) {
      const squatter = await fake({ id: 100, policy: 111, brokerPort: b2.port, session });
      const answer = JSON.parse(squatter.registration!.received[0]!);
      assert.equal(answer.code, 'DUPLICATE_ID', JSON.stringify(answer));
    }
    for (const broker of [b1, b2]) {
      const { code, stdout } = await run('client', ['--broker', `127.0.0.1:${broker.port}`, '--json', '--policy', '111', '--count', '20'], { timeoutMs: 30_000 });
      assert.equal(code, 0, stdout);
    }
    assert.equal(real.realPackets.length, 40);
  });

  it('a session whose record another broker replaced is told DUPLICATE_ID and closed', async () => {
    const [b1] = (await twoBrokers(redis, 'dup2:')) as [{ port: number; httpPort: number }];
    const real = await fake({ id: 101, policy: 111, brokerPort: b1.port, heartbeatMs: 100 });
    // A newer generation of 101 written by another broker (one that took it while b1 could not
    // renew its record), with its hint.
    const generation = String(Date.now() * 1000 + 1_000_000);
    const e = JSON.stringify({ policy: 111, host: '127.0.0.1', packetPort: real.port, maxInflight: 1, session: true, tls: false, registeredAt: Date.now(), owner: 'other-broker' });
    await redis.command(['HSET', 'dup2:server:101', 'g', generation, 'e', e]);
    await redis.command(['HSET', 'dup2:generations', '101', generation]);
    await redis.command(['PUBLISH', 'dup2:events', JSON.stringify({ k: 'a', id: 101, g: Number(generation), e })]);
    const told = await real.registration!.line(1, 5000);
    assert.equal(told.code, 'DUPLICATE_ID', JSON.stringify(told));
    assert.match(told.message, /other-broker/);
    await real.registration!.closedByPeer(5000);
  });
});

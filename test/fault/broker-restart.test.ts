/**
 * Broker restarts (SIGTERM, then SIGKILL) on the same port under a steady load: the pool's
 * servers register again by themselves, and a library client with `reconnect` carries on.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BrokerClient, ClientError } from '../../client/index.js';
import { freePort, sha1 } from '../helpers/classic.js';
import { figures, teardown, waitFor } from '../helpers/fault.js';
import { brokerStatus } from '../helpers/http.js';
import { start, type Program } from '../helpers/programs.js';

const { programs, cleanups } = teardown();

const SERVERS = 3;

function startBrokerOn(port: number): Program {
  // The HTTP listener serves the status page, where the registered servers are counted.
  const broker = start('broker', ['--port', String(port), '--http-port', '0']);
  programs.push(broker);
  return broker;
}

/** Time from the broker's ready line until every server of the pool registered with it. */
async function reRegistration(broker: Program): Promise<number> {
  const ready = await broker.ready;
  const readyAt = Date.now();
  await waitFor('the pool registered again', async () => (await brokerStatus(ready.http.port)).policies.find((p: any) => p.policy === 111)?.servers.length === SERVERS, 10_000, 5);
  return Date.now() - readyAt;
}

test('broker restarted twice under load: the pool registers again within a second, the client reconnects, nothing is lost silently', async () => {
  const port = await freePort();
  let broker = startBrokerOn(port);
  await broker.ready;
  const pool = start('pool', ['--broker', `127.0.0.1:${port}`, '--policy', '111', '--ids', '100,101,102']);
  programs.push(pool);
  await pool.ready;
  const client = await BrokerClient.connect({ host: '127.0.0.1', port, reconnect: true, timeoutMs: 10_000 });
  cleanups.push(() => client.close());

  const count = { sent: 0, replies: 0, wrong: 0, errors: {} as Record<string, number>, failed: {} as Record<string, number> };
  let stop = false;
  const worker = async (w: number): Promise<void> => {
    for (let n = 0; !stop; n++) {
      const payload = `r-${w}-${n}`;
      count.sent++;
      try {
        const answer = await client.send({ type: 0, srcid: 1, privPoliId: 111, payload });
        if (answer.type === 2) {
          count.replies++;
          if (answer.payload !== sha1(payload)) count.wrong++;
        } else if (answer.type === 3) {
          count.errors[answer.code] = (count.errors[answer.code] ?? 0) + 1;
        }
      } catch (err) {
        const code = err instanceof ClientError ? err.code : String(err);
        count.failed[code] = (count.failed[code] ?? 0) + 1;
      }
    }
  };
  const workers = Array.from({ length: 8 }, (_, w) => worker(w));

  const registeredAfterMs: number[] = [];
  const repliesAfter = async (n: number): Promise<void> => {
    const target = count.replies + n;
    await waitFor(`${n} more replies`, () => count.replies >= target, 20_000);
  };
  await repliesAfter(500);
  // 1: graceful restart.
  broker.child.kill('SIGTERM');
  assert.equal(await broker.exited, 0);
  broker = startBrokerOn(port);
  registeredAfterMs.push(await reRegistration(broker));
  await repliesAfter(500);
  // 2: crash restart.
  broker.child.kill('SIGKILL');
  await broker.exited;
  broker = startBrokerOn(port);
  registeredAfterMs.push(await reRegistration(broker));
  await repliesAfter(500);
  stop = true;
  await Promise.all(workers);

  const failed = Object.values(count.failed).reduce((a, b) => a + b, 0);
  const errors = Object.values(count.errors).reduce((a, b) => a + b, 0);
  figures('broker-restart', { ...count, reconnects: client.reconnects, registeredAfterMs });
  assert.equal(count.replies + errors + failed, count.sent, 'every send settled');
  assert.equal(count.wrong, 0);
  assert.equal(count.failed.TIMEOUT_LOCAL, undefined, 'no send waited in vain');
  // Only the sends in flight when the broker died may fail, each with CONNECTION_CLOSED.
  assert.deepEqual(Object.keys(count.failed).filter((code) => code !== 'CONNECTION_CLOSED'), []);
  assert.ok(failed <= 2 * 8, `at most the sends in flight failed (${failed})`);
  // Between the broker's return and the servers' registration a packet may find no server.
  assert.deepEqual(Object.keys(count.errors).filter((code) => code !== 'NO_SERVER' && code !== 'UNAVAILABLE'), []);
  assert.equal(client.reconnects, 2);
  for (const ms of registeredAfterMs) assert.ok(ms < 1000, `the pool registered again within a second (${ms} ms)`);
});

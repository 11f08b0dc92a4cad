/**
 * Policy isolation under churn, as a property: servers of random policies register, re-register
 * under another policy, crash, leave and close their sessions while clients send packets of
 * random policies. No server ever receives a packet of another policy, every reply comes from a
 * server of the packet's policy, and every packet gets exactly one answer.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { BrokerClient, ClientError, type Answer } from '../../client/index.js';
import { figures, inProcessBroker } from '../helpers/fault.js';
import { FakeServer } from '../helpers/wire.js';

const POLICIES = [111, 222, 333];

type Action =
  | { kind: 'register'; policy: number; maxInflight: number }
  | { kind: 'reregister'; index: number; policy: number }
  | { kind: 'kill' | 'leave' | 'close-session'; index: number }
  | { kind: 'send'; policy: number; count: number };

// Mostly policies that have servers; now and then one that never has any.
const policy = fc.oneof({ weight: 6, arbitrary: fc.constantFrom(...POLICIES) }, { weight: 1, arbitrary: fc.constant(444) });
const action: fc.Arbitrary<Action> = fc.oneof(
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('register' as const), policy: fc.constantFrom(...POLICIES), maxInflight: fc.integer({ min: 1, max: 8 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('reregister' as const), index: fc.nat(), policy: fc.constantFrom(...POLICIES) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constantFrom('kill' as const, 'leave' as const, 'close-session' as const), index: fc.nat() }) },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('send' as const), policy, count: fc.integer({ min: 1, max: 40 }) }) },
);

const totals = { runs: 0, packets: 0, replies: 0, errors: {} as Record<string, number>, servers: 0, delivered: 0 };

test('policy isolation under churn (property): no packet ever reaches a server of another policy', async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(action, { minLength: 5, maxLength: 30 }), fc.constantFrom('round-robin', 'random', 'least-outstanding' as const), async (actions, algorithm) => {
      const { broker, port } = await inProcessBroker({ serverTimeoutMs: 1000, algorithm });
      const instances: FakeServer[] = [];
      const client = await BrokerClient.connect({ host: '127.0.0.1', port, timeoutMs: 20_000 });
      const sent: Array<{ policy: number; payload: string; answer: Promise<Answer> }> = [];
      let nextId = 1;
      let n = 0;
      try {
        for (const a of actions) {
          if (a.kind === 'register') {
            instances.push(await FakeServer.start({ id: nextId++, policy: a.policy, brokerPort: port, maxInflight: a.maxInflight }));
          } else if (a.kind === 'reregister' && instances.length > 0) {
            // The same id again from the same address, under another policy: a restart that replaces it.
            const old = instances[a.index % instances.length]!;
            instances.push(await FakeServer.start({ id: old.options.id, policy: a.policy, brokerPort: port, maxInflight: 4 }));
          } else if (a.kind === 'kill' && instances.length > 0) {
            instances[a.index % instances.length]!.kill();
          } else if (a.kind === 'leave' && instances.length > 0) {
            const target = instances[a.index % instances.length]!;
            if (!target.registration!.closed) target.leave();
          } else if (a.kind === 'close-session' && instances.length > 0) {
            instances[a.index % instances.length]!.registration!.close();
          } else if (a.kind === 'send') {
            for (let i = 0; i < a.count; i++) {
              const payload = `c${n++}`;
              sent.push({ policy: a.policy, payload, answer: client.send({ type: 0, srcid: 5, privPoliId: a.policy, payload }) });
            }
          }
        }
        const settled = await Promise.allSettled(sent.map((s) => s.answer));
        // 1. No server instance ever got a packet of another policy (probes included).
        for (const instance of instances) {
          for (const packet of instance.packets) {
            assert.equal(packet.privPoliId, instance.options.policy, `server ${instance.options.id} (policy ${instance.options.policy}) got a packet of policy ${packet.privPoliId}`);
          }
        }
        // 2. Every packet has exactly one answer; a reply comes from an instance of its policy that got it.
        settled.forEach((result, i) => {
          const { policy: p, payload } = sent[i]!;
          assert.equal(result.status, 'fulfilled', `packet ${payload} got no answer: ${result.status === 'rejected' ? (result.reason as ClientError).message : ''}`);
          const answer = (result as PromiseFulfilledResult<Answer>).value;
          totals.packets++;
          if (answer.type === 3) {
            totals.errors[answer.code] = (totals.errors[answer.code] ?? 0) + 1;
            assert.ok(['NO_SERVER', 'UNAVAILABLE', 'TIMEOUT'].includes(answer.code), answer.code);
            return;
          }
          assert.equal(answer.type, 2);
          totals.replies++;
          assert.equal(answer.payload, `${answer.srcid}:${payload}`);
          const by = instances.filter((s) => s.options.id === answer.srcid && s.packets.some((pk) => pk.payload === payload));
          assert.ok(by.length > 0 && by.every((s) => s.options.policy === p), `reply to a policy ${p} packet from server ${answer.srcid}`);
        });
        totals.runs++;
        totals.servers += instances.length;
        totals.delivered += instances.reduce((sum, s) => sum + s.packets.length, 0);
      } finally {
        for (const instance of instances) instance.kill();
        await client.close();
        await broker.close();
      }
    }),
    { numRuns: 100, seed: 777 },
  );
  figures('policy-churn', totals);
});

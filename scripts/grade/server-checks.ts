/**
 * The checks of a packet server (docs/grading.md). The grader plays the broker: it got the
 * server's registration (unless --target named the server's port directly) and dials the
 * listenport, sending packets exactly as policy-broker forwards them (one NDJSON line each,
 * with a rid). A malformed packet comes last, since it may kill the server.
 */
import { encodeForward } from '../../broker/protocol/encode.js';
import { sha1Hex } from '../../broker/support/sha1.js';
import { fail, pass, type Check, type Scope } from './check.js';
import type { ReceivedRegistration } from './grader-broker.js';
import { GRADER_SRCID, POLICY_A, type GradeSettings } from './options.js';
import { numberField, PacketConnection } from './packet-connection.js';

export interface ServerContext {
  /** Where the server listens: the registration's source address and listenport, or --target. */
  host: string;
  port: number;
  settings: GradeSettings;
  /** The registration, when the server registered with the grader. */
  registration?: ReceivedRegistration;
}

let nextRid = 1;
let nextPayload = 0;

function registered(context: ServerContext): { id?: number; policy: number; maxInflight: number } {
  const result = context.registration?.result;
  return result?.ok === true ? { id: result.packet.id, policy: result.packet.policy, maxInflight: result.packet.maxInflight } : { policy: POLICY_A, maxInflight: 1 };
}

async function dial(context: ServerContext, scope: Scope): Promise<PacketConnection> {
  return scope.own(await PacketConnection.open(context.host, context.port, context.settings.answerTimeoutMs));
}

/** Sends one packet as the broker forwards it and checks the reply; throws saying what was wrong. */
async function exchange(context: ServerContext, connection: PacketConnection, text: string): Promise<void> {
  const { id, policy, maxInflight } = registered(context);
  const rid = nextRid++;
  const srcid = GRADER_SRCID + (rid % 1000);
  connection.write(encodeForward(srcid, policy, text, rid));
  const reply = await connection.nextPacket(context.settings.answerTimeoutMs, `packet "${text.slice(0, 20)}"`);
  if (numberField(reply, 'type') !== 2) throw new Error(`answered type ${String(reply.type)}, not a reply (type 2)`);
  if (reply.payload !== sha1Hex(text)) throw new Error(`reply payload ${JSON.stringify(reply.payload).slice(0, 50)} is not the SHA-1 of "${text.slice(0, 20)}"`);
  if (numberField(reply, 'destid') !== srcid) throw new Error(`reply destid ${String(reply.destid)}, expected the packet's srcid ${srcid}`);
  if (id !== undefined && numberField(reply, 'srcid') !== id) throw new Error(`reply srcid ${String(reply.srcid)}, expected the registered id ${id}`);
  if (maxInflight > 1 && numberField(reply, 'rid') !== rid) throw new Error(`reply rid ${String(reply.rid)}, expected ${rid} (the server declared maxInflight ${maxInflight})`);
}

const payload = (tag: string) => `grade-${tag}-${nextPayload++}`;

export const SERVER_CHECKS: ReadonlyArray<Check<ServerContext>> = [
  {
    id: 'registration',
    name: 'registration well formed',
    points: 2,
    async run(context) {
      const registration = context.registration;
      if (registration === undefined) return fail('the server did not register with the grader');
      if (!registration.result.ok) return fail(`${registration.result.error}: ${registration.text.slice(0, 100)}`);
      const { id, policy, listenport, session } = registration.result.packet;
      return pass(`type 1, id ${id}, policy ${policy}, listenport ${listenport}${session ? ', session' : ''}: ${registration.text.slice(0, 100)}`);
    },
  },
  {
    id: 'answers',
    name: 'answers correct (SHA-1)',
    points: 3,
    async run(context, scope) {
      const texts = ['', 'hello', 'grüße ✓', 'x'.repeat(1000), payload('answers')];
      for (const text of texts) {
        const connection = await dial(context, scope);
        await exchange(context, connection, text);
        connection.destroy();
      }
      return pass(`${texts.length} packets (empty, UTF-8 and 1 KB payloads among them), one per connection: every reply is the SHA-1 of its payload${registered(context).id === undefined ? '' : ', from the registered id'}, to the packet's srcid`);
    },
  },
  {
    id: 'sequence',
    name: 'several packets in sequence',
    points: 2,
    async run(context, scope) {
      const count = Math.max(10, context.settings.pipelineCount);
      const connection = await dial(context, scope);
      for (let i = 0; i < count; i++) {
        try {
          await exchange(context, connection, payload('sequence'));
        } catch (err) {
          return fail(`packet ${i + 1} of ${count} on one connection: ${(err as Error).message}`);
        }
      }
      return pass(`${count} packets one after another on one connection: all answered correctly`);
    },
  },
  {
    id: 'new-connection',
    name: 'a new broker connection served',
    points: 1,
    async run(context, scope) {
      // A broker that restarts, or lost its link, dials again: the server must accept again.
      for (let i = 0; i < 3; i++) {
        const connection = await dial(context, scope);
        await exchange(context, connection, payload('redial'));
        connection.destroy();
      }
      return pass('3 connections one after another, each closed after its answer: each served');
    },
  },
  {
    id: 'malformed',
    name: 'malformed packet survived',
    points: 2,
    async run(context, scope) {
      const seen: string[] = [];
      for (const junk of ['this is not json\n', '{"type":0,"srcid":1,"privPoliId":111,"payload":42,"rid":1}\n']) {
        const connection = await dial(context, scope);
        connection.write(junk);
        const received = await connection.next(Math.min(1000, context.settings.answerTimeoutMs));
        connection.destroy();
        seen.push(received.kind === 'packet' ? `type ${String(received.packet.type)}` : received.kind);
      }
      try {
        const connection = await dial(context, scope);
        await exchange(context, connection, payload('after-malformed'));
      } catch (err) {
        return fail(`after not JSON and a payload that is a number (answers: ${seen.join(', ')}) the next packet failed: ${(err as Error).message}`);
      }
      return pass(`not JSON and a payload that is a number (answers: ${seen.join(', ')}); the next packet was answered`);
    },
  },
];

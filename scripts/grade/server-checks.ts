/**
 * The checks of a packet server (docs/grading.md). The grader plays the broker: it got the
 * server's registration (unless --target named the server's port directly) and dials the
 * listenport, sending packets exactly as policy-broker forwards them (one NDJSON line each,
 * with a rid). A malformed packet comes last, since it may kill the server.
 */
import { encodeForward } from '../../broker/protocol/encode.js';
import { sha1Hex } from '../../broker/support/sha1.js';
import { fail, killer, pass, type Check, type Scope } from './check.js';
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

/** A field as a student can act on it: its value, or "missing". */
function shown(reply: Record<string, unknown>, field: string): string {
  return reply[field] === undefined ? `${field} missing` : `${field} ${JSON.stringify(reply[field])}`;
}

/**
 * Sends one packet as the broker forwards it; returns the reply once it is a type 2 whose payload
 * is the SHA-1 of the packet's (what policy-broker itself needs to route it back), or throws
 * saying what was wrong. The other fields are the reply-fields check's business: one bug, one check.
 */
async function exchange(context: ServerContext, connection: PacketConnection, text: string): Promise<{ reply: Record<string, unknown>; srcid: number; rid: number }> {
  const { policy } = registered(context);
  const rid = nextRid++;
  const srcid = GRADER_SRCID + (rid % 1000);
  connection.write(encodeForward(srcid, policy, text, rid));
  const reply = await connection.nextPacket(context.settings.answerTimeoutMs, `packet "${text.slice(0, 20)}"`);
  if (numberField(reply, 'type') !== 2) throw new Error(`answered type ${String(reply.type)}, not a reply (type 2)`);
  if (reply.payload !== sha1Hex(text)) throw new Error(`reply payload ${JSON.stringify(reply.payload).slice(0, 50)} is not the SHA-1 of "${text.slice(0, 20)}"`);
  return { reply, srcid, rid };
}

/** Why a reply's addressing fields are wrong, or null: destid the packet's srcid, srcid the registered id, rid echoed when declared. */
export function wrongFields(reply: Record<string, unknown>, expected: { srcid: number; rid: number; id?: number; maxInflight: number }): string | null {
  const problems: string[] = [];
  if (numberField(reply, 'destid') !== expected.srcid) problems.push(`${shown(reply, 'destid')}, expected the packet's srcid ${expected.srcid}`);
  if (expected.id !== undefined && numberField(reply, 'srcid') !== expected.id) problems.push(`${shown(reply, 'srcid')}, expected the registered id ${expected.id}`);
  if (expected.maxInflight > 1 && numberField(reply, 'rid') !== expected.rid) problems.push(`${shown(reply, 'rid')}, expected ${expected.rid} (the server declared maxInflight ${expected.maxInflight}, so the broker matches replies by rid)`);
  return problems.length === 0 ? null : problems.join('; ');
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
    points: 2,
    async run(context, scope) {
      const texts = ['', 'hello', 'grüße ✓', 'x'.repeat(1000), payload('answers')];
      for (const text of texts) {
        const connection = await dial(context, scope);
        await exchange(context, connection, text);
        connection.destroy();
      }
      return pass(`${texts.length} packets (empty, UTF-8 and 1 KB payloads among them), one per connection: every reply is a type 2 carrying the SHA-1 of its payload`);
    },
  },
  {
    id: 'reply-fields',
    name: 'reply fields (destid, srcid, rid)',
    points: 1,
    async run(context, scope) {
      const { id, maxInflight } = registered(context);
      const connection = await dial(context, scope);
      const { reply, srcid, rid } = await exchange(context, connection, payload('fields'));
      const wrong = wrongFields(reply, { srcid, rid, id, maxInflight });
      if (wrong !== null) return fail(`a reply's ${wrong}: ${JSON.stringify(reply).slice(0, 160)}`);
      const fields = [`destid the packet's srcid`, ...(id === undefined ? [] : ['srcid the registered id']), ...(maxInflight > 1 ? ['rid echoed'] : [])];
      return pass(`${fields.join(', ')}`);
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
      const junks = ['this is not json\n', '{"type":0,"srcid":1,"privPoliId":111,"payload":42,"rid":1}\n'];
      for (const [i, junk] of junks.entries()) {
        let connection: PacketConnection;
        try {
          connection = await dial(context, scope);
        } catch (err) {
          if (i === 0) throw err;
          const k = killer(seen, i);
          return fail(`after malformed packet ${k + 1} (${JSON.stringify(junks[k])}) the server is gone (answers: ${seen.join(', ')}): ${(err as Error).message}`);
        }
        connection.write(junk);
        const received = await connection.next(Math.min(1000, context.settings.answerTimeoutMs));
        connection.destroy();
        seen.push(received.kind === 'packet' ? `type ${String(received.packet.type)}` : received.kind);
      }
      try {
        const connection = await dial(context, scope);
        await exchange(context, connection, payload('after-malformed'));
      } catch (err) {
        // Gone rather than refusing the next packet: name the packet that killed it.
        if (seen.includes('closed') && /ECONNREFUSED|cannot connect/.test((err as Error).message)) {
          const k = killer(seen, junks.length);
          return fail(`after malformed packet ${k + 1} (${JSON.stringify(junks[k])}) the server is gone (answers: ${seen.join(', ')}): ${(err as Error).message}`);
        }
        return fail(`after not JSON and a payload that is a number (answers: ${seen.join(', ')}; the last was ${JSON.stringify(junks[1])}) the next packet failed: ${(err as Error).message}`);
      }
      return pass(`not JSON and a payload that is a number (answers: ${seen.join(', ')}); the next packet was answered`);
    },
  },
];

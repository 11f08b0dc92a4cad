/**
 * The checks of a broker speaking the classic protocol (docs/grading.md says why each matters).
 * The grader's own servers are registered before the first check: A1 and A2 in POLICY_A, B1 in
 * POLICY_B. Clients send classic packets (numbers as strings, no newline) unless a check says
 * otherwise, or the framing probe found that the broker needs a newline after each (then every
 * check but the framing one adds it). Order matters: the checks that may break the target come last.
 */
import { sha1Hex } from '../../broker/support/sha1.js';
import { atOnce, connectAll } from './at-once.js';
import { balanceFloor, isBalanced } from './balance.js';
import { fail, killer, pass, type Check, type Scope } from './check.js';
import { newlineDiagnosis, type Framing } from './framing-probe.js';
import type { GraderServer } from './grader-server.js';
import { GRADER_SRCID, POLICY_A, POLICY_B, UNKNOWN_POLICY, type GradeSettings } from './options.js';
import { describe, numberField, PacketConnection, type Received } from './packet-connection.js';

export interface BrokerContext {
  host: string;
  port: number;
  settings: GradeSettings;
  servers: { a1: GraderServer; a2: GraderServer; b1: GraderServer };
  /** What the target answered to each server's registration, by server id. */
  registrations: Map<number, Received>;
  /** What the framing probe found before the checks. */
  framing: Framing;
}

/** What ends a client packet in every check but the framing one: nothing, or the newline the broker needs. */
const eol = (context: BrokerContext) => (context.framing.kind === 'newline' ? '\n' : '');

type PolicyField = 'privPoliId' | 'privPolyId';

let nextSrcid = GRADER_SRCID;
let nextPayload = 0;

/** A payload no other packet of this run carries, so an answer can be matched by its hash. */
function payload(tag: string): string {
  return `grade-${tag}-${nextPayload++}-${Math.random().toString(36).slice(2, 8)}`;
}

/** A client packet as the classic scripts write it: every number a string, no newline. */
export function classicPacket(srcid: number, policy: number, text: string, field: PolicyField = 'privPoliId'): string {
  return JSON.stringify({ type: '0', srcid: String(srcid), [field]: String(policy), payloadsize: String(text.length), payload: text });
}

/** Why an answer is not the right reply to (srcid, payload), or null when it is. */
export function wrongAnswer(answer: Record<string, unknown>, srcid: number, text: string): string | null {
  const type = numberField(answer, 'type');
  if (type !== 2) return `answered type ${String(answer.type)}${typeof answer.code === 'string' ? ` ${answer.code}` : ''}, not a reply (type 2)`;
  if (answer.payload !== sha1Hex(text)) return `reply payload ${JSON.stringify(answer.payload).slice(0, 60)} is not the SHA-1 of the payload sent`;
  if (numberField(answer, 'destid') !== srcid) return `reply destid ${String(answer.destid)}, expected the client's srcid ${srcid}`;
  return null;
}

/** A fresh client connection owned by the check's scope. */
async function client(context: BrokerContext, scope: Scope): Promise<PacketConnection> {
  return scope.own(await PacketConnection.open(context.host, context.port, context.settings.answerTimeoutMs));
}

/** Sends one packet on `connection`, checks its answer, and returns the payload it sent; throws saying what went wrong. */
async function ask(context: BrokerContext, connection: PacketConnection, policy: number, tag: string, field: PolicyField = 'privPoliId'): Promise<string> {
  const srcid = nextSrcid++;
  const text = payload(tag);
  connection.write(classicPacket(srcid, policy, text, field) + eol(context));
  const answer = await connection.nextPacket(context.settings.answerTimeoutMs, `packet to policy ${policy}`);
  const wrong = wrongAnswer(answer, srcid, text);
  if (wrong !== null) throw new Error(`packet to policy ${policy}: ${wrong}`);
  return text;
}

/** One packet on a fresh connection. */
async function askOnce(context: BrokerContext, scope: Scope, policy: number, tag: string, field: PolicyField = 'privPoliId'): Promise<string> {
  const connection = await client(context, scope);
  try {
    return await ask(context, connection, policy, tag, field);
  } finally {
    connection.destroy();
  }
}


/**
 * Which of the grader's servers received each of these payloads (and so answered it), counted
 * per server: who served a packet is seen at the servers, whatever the reply says.
 */
function servedBy(context: BrokerContext, payloads: string[], since: Map<GraderServer, number>): Map<GraderServer, number> {
  const wanted = new Set(payloads);
  const counts = new Map<GraderServer, number>();
  for (const server of Object.values(context.servers)) {
    const n = server.received.slice(since.get(server) ?? 0).filter((receipt) => typeof receipt.payload === 'string' && wanted.has(receipt.payload)).length;
    if (n > 0) counts.set(server, n);
  }
  return counts;
}

/** Where each server's received packets start now, to count what a check sends. */
const receiptMarks = (context: BrokerContext) => new Map(Object.values(context.servers).map((server) => [server, server.received.length]));

/** "server 4821 (policy 111): 150, server 977 (policy 222): 3" */
function perServer(counts: Map<GraderServer, number>, servers: GraderServer[]): string {
  const shown = [...new Set([...servers, ...counts.keys()])];
  return shown.map((server) => `server ${server.id} (policy ${server.policy}): ${fmt(counts.get(server) ?? 0)}`).join(', ');
}

const fmt = (n: number) => n.toLocaleString('en-US');

export const BROKER_CHECKS: ReadonlyArray<Check<BrokerContext>> = [
  {
    id: 'registration',
    name: 'registration accepted',
    points: 2,
    async run(context, scope) {
      const refused = [...context.registrations].filter(([, received]) => received.kind === 'packet' && numberField(received.packet, 'type') === 3);
      if (refused.length > 0) {
        const [id, received] = refused[0]!;
        return fail(`server ${id}'s registration was refused: ${describe(received, 0)}`);
      }
      for (const policy of [POLICY_A, POLICY_B]) await askOnce(context, scope, policy, 'registration');
      const answers = [...context.registrations.values()].map((received) => (received.kind === 'packet' ? `type ${String(received.packet.type)}` : received.kind === 'closed' ? 'closed' : 'none'));
      return pass(`3 servers registered (answers: ${answers.join(', ')}); policies ${POLICY_A} and ${POLICY_B} each answered a packet`);
    },
  },
  {
    id: 'answers',
    name: 'answers correct (SHA-1)',
    points: 2,
    async run(context, scope) {
      const payloads = ['', 'x', 'grüße ✓', 'a'.repeat(1000)];
      let count = 0;
      for (let i = 0; i < 12; i++) {
        const connection = await client(context, scope);
        const srcid = nextSrcid++;
        const text = payloads[i] ?? payload('answers');
        const policy = i % 2 === 0 ? POLICY_A : POLICY_B;
        connection.write(classicPacket(srcid, policy, text) + eol(context));
        const answer = await connection.nextPacket(context.settings.answerTimeoutMs, `packet ${i + 1}`);
        connection.destroy();
        const wrong = wrongAnswer(answer, srcid, text);
        if (wrong !== null) return fail(`packet ${i + 1} (policy ${policy}): ${wrong}`);
        count++;
      }
      return pass(`${count} packets (empty, UTF-8 and 1 KB payloads among them): every reply is the SHA-1 of its payload, addressed to its client`);
    },
  },
  {
    id: 'framing',
    name: 'classic framing',
    points: 2,
    async run(context, scope) {
      if (context.framing.kind === 'newline') return fail(newlineDiagnosis(context.framing, context.settings.answerTimeoutMs));
      const before = context.servers.a1.received.length + context.servers.a2.received.length + context.servers.b1.received.length;
      for (const field of ['privPoliId', 'privPolyId'] as const) {
        for (const policy of [POLICY_A, POLICY_B]) await askOnce(context, scope, policy, `framing-${field}`, field);
      }
      const servers = Object.values(context.servers);
      const garbled = servers.flatMap((server) => server.unparsable);
      if (garbled.length > 0) return fail(`a grader server got a frame that is not one JSON object: ${garbled[0]!.slice(0, 80)}`);
      const forwarded = servers.flatMap((server) => server.received).slice(before);
      const withoutPolicy = forwarded.find((receipt) => receipt.policy === undefined);
      if (withoutPolicy !== undefined) return fail(`a forwarded packet carries no privPoliId/privPolyId: ${withoutPolicy.text.slice(0, 80)}`);
      return pass('numbers as strings, no newline, privPoliId and privPolyId: all 4 answered; forwarded packets are well formed');
    },
  },
  {
    id: 'round-robin',
    name: 'round-robin per packet',
    points: 3,
    async run(context, scope) {
      const { a1, a2 } = context.servers;
      const count = context.settings.balanceCount;
      const connection = await client(context, scope);
      const since = receiptMarks(context);
      const payloads: string[] = [];
      for (let i = 0; i < count; i++) payloads.push(await ask(context, connection, POLICY_A, 'round-robin'));
      const counts = servedBy(context, payloads, since);
      const shares = [a1, a2].map((server) => counts.get(server) ?? 0);
      const detail = `${fmt(count)} packets to policy ${POLICY_A} on one connection, served by ${perServer(counts, [a1, a2])}`;
      return isBalanced(shares, count) ? pass(detail) : fail(`${detail} (each should get at least ${fmt(balanceFloor(count, shares.length))}: balanced per connection?)`);
    },
  },
  {
    id: 'isolation',
    name: 'policy isolation',
    points: 3,
    async run(context, scope) {
      const servers = Object.values(context.servers);
      const before = new Map(servers.map((server) => [server, server.received.length]));
      const perClient = Math.max(10, Math.ceil(context.settings.balanceCount / 10));
      const clients = 4;
      // One connection after another: serving clients at once is another check's business.
      for (let c = 0; c < clients; c++) {
        const connection = await client(context, scope);
        for (let i = 0; i < perClient; i++) await ask(context, connection, (i + c) % 2 === 0 ? POLICY_A : POLICY_B, 'isolation');
        connection.destroy();
      }
      const strays = servers.flatMap((server) => server.received.slice(before.get(server)).filter((receipt) => receipt.policy !== server.policy).map((receipt) => ({ server, receipt })));
      const total = clients * perClient;
      if (strays.length > 0) {
        const { server, receipt } = strays[0]!;
        return fail(`${strays.length} of ${total} packets reached a server of another policy (e.g. policy ${String(receipt.policy)} to server ${server.id} of policy ${server.policy})`);
      }
      return pass(`${total} packets, policies ${POLICY_A} and ${POLICY_B} interleaved on ${clients} connections: none crossed policies`);
    },
  },
  {
    id: 'concurrent',
    name: 'several clients at the same time',
    points: 2,
    async run(context, scope) {
      const { concurrentClients: clients, perClientCount: each, answerTimeoutMs } = context.settings;
      // Every client connects first and stays connected until all are done: a broker that serves
      // one connection at a time cannot answer the second while the first is open.
      const connections = await connectAll(clients, () => client(context, scope));
      if (!Array.isArray(connections)) return fail(`${clients} clients connecting at once: ${connections.refused} of them got ${connections.first}: one client at a time? (a serial server's listen queue, 5 with socketserver.TCPServer, holds only a few waiting clients)`);
      const { done: answered, failures } = await atOnce(connections, each, (connection, c) => ask(context, connection, c % 2 === 0 ? POLICY_A : POLICY_B, 'concurrent'));
      const detail = `${clients} clients × ${each} packets at once: ${fmt(answered)} of ${fmt(clients * each)} answered`;
      if (failures.length === 0) return pass(detail);
      return fail(`${detail}; ${failures.length} clients stalled (${failures[0]}; answer wait ${answerTimeoutMs} ms): one client at a time?`);
    },
  },
  {
    id: 'pipelining',
    name: 'pipelined packets on one connection',
    points: 2,
    async run(context, scope) {
      const count = context.settings.pipelineCount;
      const connection = await client(context, scope);
      const expected = new Map<string, number>();
      let batch = '';
      for (let i = 0; i < count; i++) {
        const srcid = nextSrcid++;
        const text = payload('pipelining');
        expected.set(sha1Hex(text), i);
        batch += classicPacket(srcid, i % 2 === 0 ? POLICY_A : POLICY_B, text) + '\n';
      }
      connection.write(batch);
      const order: number[] = [];
      for (let i = 0; i < count; i++) {
        const received = await connection.next(context.settings.answerTimeoutMs);
        if (received.kind !== 'packet') return fail(`${count} packets in one write: ${order.length} answered, then ${describe(received, context.settings.answerTimeoutMs)}`);
        const index = expected.get(String(received.packet.payload));
        if (index === undefined) return fail(`answer ${i + 1} of ${count} matches no packet sent: ${received.text.slice(0, 80)}`);
        expected.delete(String(received.packet.payload));
        order.push(index);
      }
      const inOrder = order.every((index, i) => i === 0 || index > order[i - 1]!);
      return pass(`${count} packets in one write (newline after each): all answered${inOrder ? ', in order' : ', out of order'}`);
    },
  },
  {
    id: 'unknown-policy',
    name: 'unknown policy refused',
    points: 1,
    async run(context, scope) {
      const connection = await client(context, scope);
      connection.write(classicPacket(nextSrcid++, UNKNOWN_POLICY, payload('unknown')) + eol(context));
      const received = await connection.next(context.settings.answerTimeoutMs);
      connection.destroy();
      let how: string;
      if (received.kind === 'packet' && numberField(received.packet, 'type') === 3) how = `answered with an error (${String(received.packet.code ?? received.packet.message ?? 'type 3')})`;
      else if (received.kind === 'closed') how = 'refused by closing the connection';
      else return fail(`a packet to policy ${UNKNOWN_POLICY}, which no server serves: ${received.kind === 'packet' ? `answered ${received.text.slice(0, 80)}` : describe(received, context.settings.answerTimeoutMs)}`);
      await askOnce(context, scope, POLICY_A, 'after-unknown');
      return pass(`policy ${UNKNOWN_POLICY} (no server): ${how}; the next client was served`);
    },
  },
  {
    id: 'server-killed',
    name: 'server killed mid-run',
    points: 3,
    async run(context, scope) {
      const { a1, a2 } = context.servers;
      const { failoverCount: count, answerTimeoutMs } = context.settings;
      // A2 dies on the next packet it gets, before answering: that packet is in flight on a dead server.
      a2.dieOnNextPacket();
      let inFlight: Received | undefined;
      for (let i = 0; i < 20 && inFlight === undefined; i++) {
        const connection = await client(context, scope);
        connection.write(classicPacket(nextSrcid++, POLICY_A, payload('killed')) + eol(context));
        const received = await connection.next(answerTimeoutMs);
        connection.destroy();
        if (a2.isDead) inFlight = received;
        else if (received.kind !== 'packet') return fail(`before the kill: ${describe(received, answerTimeoutMs)}`);
      }
      if (inFlight === undefined) return fail(`server ${a2.id} got none of 20 packets of its policy, so it could not be killed mid-packet`);
      if (inFlight.kind !== 'packet') return fail(`the packet in flight on killed server ${a2.id}: ${describe(inFlight, answerTimeoutMs)}`);
      const rerouted = numberField(inFlight.packet, 'type') === 2;
      const connection = await client(context, scope);
      const since = receiptMarks(context);
      const served: string[] = [];
      const errors: string[] = [];
      for (let i = 0; i < count; i++) {
        const srcid = nextSrcid++;
        const text = payload('after-kill');
        connection.write(classicPacket(srcid, POLICY_A, text) + eol(context));
        const received = await connection.next(answerTimeoutMs);
        if (received.kind !== 'packet') return fail(`packet ${i + 1} of ${count} after the kill: ${describe(received, answerTimeoutMs)}`);
        const wrong = wrongAnswer(received.packet, srcid, text);
        if (wrong === null) served.push(text);
        else errors.push(`packet ${i + 1}: ${wrong}`);
      }
      // The broker may fail a packet or two while it learns the server is gone; after that, every packet is served.
      const lateErrors = errors.filter((error) => Number(/packet (\d+)/.exec(error)?.[1]) > count / 2);
      // Who served them is read at the grader's servers, not taken on trust (isolation is another check's business).
      const detail = `in-flight packet ${rerouted ? 're-routed' : `answered with an error (${String(inFlight.packet.code ?? 'type 3')})`}; ${count} later packets: served by ${perServer(servedBy(context, served, since), [a1])}; ${errors.length} errors`;
      return lateErrors.length === 0 ? pass(detail) : fail(`${detail} (${lateErrors[0]})`);
    },
  },
  {
    id: 'malformed',
    name: 'malformed packet survived',
    points: 2,
    async run(context, scope) {
      const seen: string[] = [];
      const junks = ['this is not json\n', '{"type":"0","srcid":"one","privPoliId":"111","payload":"x"}', '{"type":"0","srcid":"1","privPoliId":"111","payload":'];
      const sent = (i: number) => `malformed packet ${i + 1} (${JSON.stringify(junks[i])})`;
      for (const [i, junk] of junks.entries()) {
        let connection: PacketConnection;
        try {
          connection = await client(context, scope);
        } catch (err) {
          if (i === 0) throw err;
          // A dying process may still accept a connection or two while it exits: the packet
          // that killed it is the first one whose connection closed without an answer.
          return fail(`after ${sent(killer(seen, i))} the broker is gone (answers: ${seen.join(', ')}): ${(err as Error).message}`);
        }
        connection.write(junk);
        if (junk.endsWith(':')) connection.socket.end();
        const received = await connection.next(context.settings.answerTimeoutMs);
        connection.destroy();
        seen.push(received.kind === 'packet' ? `type ${String(received.packet.type)}${typeof received.packet.code === 'string' ? ` ${received.packet.code}` : ''}` : received.kind);
      }
      try {
        await askOnce(context, scope, POLICY_B, 'after-malformed');
      } catch (err) {
        // Gone rather than refusing the next client: name the packet that killed it.
        if (seen.includes('closed') && /ECONNREFUSED|cannot connect/.test((err as Error).message)) {
          return fail(`after ${sent(killer(seen, junks.length))} the broker is gone (answers: ${seen.join(', ')}): ${(err as Error).message}`);
        }
        return fail(`after 3 malformed packets (answers: ${seen.join(', ')}; the last was ${sent(2)}) the next client was not served: ${(err as Error).message}`);
      }
      return pass(`not JSON, a srcid that is not a number, a packet cut short (answers: ${seen.join(', ')}); the next client was served`);
    },
  },
];


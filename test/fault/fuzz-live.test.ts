/**
 * Byte-level fuzz of a live broker: connections pour random bytes, truncated JSON, deep
 * nesting, huge numbers, invalid UTF-8 and lines over the limit into it, while a normal client
 * keeps sending. The broker stays up, every abusive connection still works afterwards, and
 * the normal client gets every reply.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type AddressInfo } from 'node:net';
import { test } from 'node:test';
import fc from 'fast-check';
import { BrokerClient } from '../../client/index.js';
import { sha1 } from '../helpers/classic.js';
import { figures, procStatusKb, teardown, waitFor } from '../helpers/fault.js';
import { fuzzInputs } from '../helpers/fuzz-inputs.js';
import { start, startBroker } from '../helpers/programs.js';
import { RawPeer } from '../helpers/wire.js';

const { programs, cleanups } = teardown();

const MiB = 1024 * 1024;

/** Inputs no generator makes small: each on its own, framed or not. */
function bigCases(): Buffer[] {
  return [
    Buffer.from('['.repeat(100_000) + '\n'),
    Buffer.from('['.repeat(100_000) + ']'.repeat(100_000) + '\n'),
    // An object 100,000 deep with no newline: framed at its closing brace, parsed, refused.
    Buffer.from('{"a":'.repeat(100_000) + '1' + '}'.repeat(100_000)),
    // Deeper than the limit and never closed, then a newline.
    Buffer.from('{"a":'.repeat(250_000) + '\n'),
    Buffer.from('x'.repeat(2 * MiB) + '\n'),
    Buffer.from(`{"type":0,"srcid":1,"privPoliId":111,"payload":"${'y'.repeat(MiB + 10)}"}`),
    Buffer.from('{"type":0,"srcid":1e400,"privPoliId":111,"payload":"n"}\n{"type":0,"srcid":123456789012345678901234567890,"privPoliId":111}\n'),
    Buffer.from([0xff, 0xfe, 0x00, 0x0a, 0xc3, 0x28, 0x0a, 0xed, 0xa0, 0x80, 0x7b, 0x0a]),
    Buffer.alloc(64 * 1024, 0),
  ];
}

test('a live broker fed hostile bytes on many connections stays up and keeps serving everyone', async () => {
  // A silent port of ours for the registrations the fuzz makes: the broker dials only it.
  const sink = createServer((socket) => socket.on('error', () => undefined));
  sink.listen(0, '127.0.0.1');
  await once(sink, 'listening');
  cleanups.push(() => sink.close());
  const sinkPort = (sink.address() as AddressInfo).port;

  const { broker, port } = await startBroker(['--server-timeout', '1000']);
  programs.push(broker);
  const pool = start('pool', ['--broker', `127.0.0.1:${port}`, '--policy', '111', '--id', '900000001']);
  programs.push(pool);
  await pool.ready;

  // The normal client: one packet at a time (two in flight), every reply checked.
  const client = await BrokerClient.connect({ host: '127.0.0.1', port, timeoutMs: 20_000 });
  cleanups.push(() => client.close());
  const normal = { sent: 0, replies: 0, wrong: 0, errors: 0, maxLatencyMs: 0 };
  let abusing = true;
  const normalWorker = async (w: number): Promise<void> => {
    for (let n = 0; abusing || n < 5; n++) {
      const payload = `normal-${w}-${n}`;
      normal.sent++;
      const started = Date.now();
      const answer = await client.send({ type: 0, srcid: 7, privPoliId: 111, payload });
      normal.maxLatencyMs = Math.max(normal.maxLatencyMs, Date.now() - started);
      if (answer.type !== 2) normal.errors++;
      else if (answer.payload !== sha1(payload)) normal.wrong++;
      else normal.replies++;
    }
  };
  const normalWorkers = [normalWorker(0), normalWorker(1)];

  const { piece } = fuzzInputs({ maxFrame: 4096, listenport: fc.constant(sinkPort) });
  const ABUSERS = 8;
  const abusers = await Promise.all(Array.from({ length: ABUSERS }, () => RawPeer.connect(port)));
  cleanups.push(() => abusers.forEach((abuser) => abuser.close()));
  let bytes = 0;
  const write = async (peer: RawPeer, data: Buffer): Promise<void> => {
    bytes += data.length;
    if (!peer.socket.write(data)) await once(peer.socket, 'drain');
  };
  await Promise.all(
    abusers.map(async (peer, i) => {
      const inputs = fc.sample(fc.tuple(piece, fc.constantFrom('\n', '', '\r\n', ' ')), { numRuns: 400, seed: 1000 + i });
      const big = bigCases();
      for (let k = 0; k < inputs.length; k++) {
        const [input, sep] = inputs[k]!;
        await write(peer, Buffer.concat([input, Buffer.from(sep)]));
        if (k % 50 === 0 && big.length > 0) await write(peer, big[(i + k / 50) % big.length]!);
      }
    }),
  );
  // Each abusive connection still works: end whatever it left open, then a normal packet.
  abusers.forEach((peer, i) => peer.write(`\n{"type":0,"srcid":9,"privPoliId":111,"payload":"final-${i}","seq":"final-${i}"}\n`));
  const finals = await Promise.all(
    abusers.map(async (peer, i) => {
      await waitFor(`abuser ${i}'s final answer`, () => peer.received.some((line) => line.includes(`"final-${i}"`)) || peer.closed, 30_000);
      return peer.received.map((line) => JSON.parse(line)).find((answer) => answer.seq === `final-${i}`);
    }),
  );
  abusing = false;
  await Promise.all(normalWorkers);

  const answersByKind: Record<string, number> = {};
  for (const peer of abusers) {
    for (const line of peer.received) {
      const answer = JSON.parse(line);
      const kind = answer.type === 3 ? answer.code : `type ${answer.type}`;
      answersByKind[kind] = (answersByKind[kind] ?? 0) + 1;
    }
  }
  const peakRssMb = Math.round(procStatusKb(broker.child.pid!, 'VmHWM') / 1024);
  figures('fuzz-live', { abusers: ABUSERS, bytesSent: bytes, answersByKind, normal, brokerPeakRssMb: peakRssMb });
  assert.equal(broker.child.exitCode, null, 'the broker is up');
  for (const [i, answer] of finals.entries()) {
    assert.ok(answer !== undefined, `abuser ${i}'s connection still works`);
    assert.equal(answer.type, 2, `abuser ${i}'s final packet answered: ${JSON.stringify(answer)}`);
    assert.equal(answer.payload, sha1(`final-${i}`));
  }
  assert.equal(normal.errors + normal.wrong, 0, JSON.stringify(normal));
  assert.equal(normal.replies, normal.sent);
  assert.ok((answersByKind.TOO_LARGE ?? 0) > 0 && (answersByKind.BAD_PACKET ?? 0) > 0);
});

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { start, startBroker, type Program } from '../helpers/programs.js';
import { RawPeer } from '../helpers/wire.js';

let brokerPort = 0;
const programs: Program[] = [];

before(async () => {
  const { broker, port } = await startBroker(['--max-packet-bytes', '4096']);
  programs.push(broker);
  brokerPort = port;
  const pool = start('pool', ['--broker', `127.0.0.1:${port}`, '--policy', '111', '--ids', '100,300']);
  programs.push(pool);
  await pool.ready;
});

after(async () => {
  for (const program of programs.reverse()) await program.stop();
});

const BAD_INPUTS: Array<[string, string, string]> = [
  ['malformed JSON', '{"type":0,"srcid":', 'BAD_PACKET'],
  ['not an object', '[1,2,3]', 'BAD_PACKET'],
  ['a wrong field type', '{"type":0,"srcid":"seven","privPoliId":111,"payload":"x"}', 'BAD_PACKET'],
  ['a missing policy', '{"type":0,"srcid":1,"payload":"x"}', 'BAD_PACKET'],
  ['a payload that is not a string', '{"type":0,"srcid":1,"privPoliId":111,"payload":{"a":1}}', 'BAD_PACKET'],
  ['a wrong payloadsize', '{"type":0,"srcid":1,"privPoliId":111,"payloadsize":9,"payload":"x"}', 'BAD_PACKET'],
  ['an unknown type', '{"type":42}', 'UNKNOWN_TYPE'],
  ['an oversized line', `{"type":0,"srcid":1,"privPoliId":111,"payload":"${'x'.repeat(5000)}"}`, 'TOO_LARGE'],
  ['an unknown policy', '{"type":0,"srcid":1,"privPoliId":777,"payload":"x"}', 'NO_SERVER'],
  ['a reply sent by a client', '{"type":2,"srcid":1,"destid":2,"payload":"x"}', 'BAD_PACKET'],
  ['a registration with a bad port', '{"type":1,"id":5,"privPolyId":111,"listenport":70000}', 'BAD_PACKET'],
];

test('each bad input gets a type 3 error with its code, and the same connection keeps working', async () => {
  const peer = await RawPeer.connect(brokerPort);
  try {
    let expected = 0;
    for (const [what, line, code] of BAD_INPUTS) {
      peer.write(line + '\n');
      const error = await peer.line(expected++);
      assert.equal(error.type, 3, `${what}: ${JSON.stringify(error)}`);
      assert.equal(error.code, code, `${what}: ${JSON.stringify(error)}`);
      assert.ok(error.message.length > 0);
      // The connection is still usable after every bad frame.
      peer.send({ type: 0, srcid: 1, privPoliId: 111, payload: 'still-ok', seq: expected });
      const answer = await peer.line(expected++);
      assert.equal(answer.type, 2, `after ${what}: ${JSON.stringify(answer)}`);
      assert.equal(answer.seq, expected - 1);
    }
  } finally {
    peer.close();
  }
});

test('garbage on one connection does not disturb a client on another', async () => {
  const abuser = await RawPeer.connect(brokerPort);
  const client = await RawPeer.connect(brokerPort);
  try {
    const garbage = Buffer.alloc(64 * 1024);
    for (let i = 0; i < garbage.length; i++) garbage[i] = (i * 7919) % 256;
    for (let round = 0; round < 20; round++) {
      abuser.write(garbage);
      client.send({ type: 0, srcid: 2, privPoliId: 111, payload: `r${round}`, seq: round });
    }
    const answers = await client.lines(20);
    assert.deepEqual(answers.map((a) => a.type), new Array(20).fill(2));
    assert.deepEqual(answers.map((a) => a.seq).sort((a, b) => a - b), [...Array(20).keys()]);
  } finally {
    abuser.close();
    client.close();
  }
});

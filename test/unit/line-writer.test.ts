import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { once } from 'node:events';
import { LineWriter } from '../../broker/support/line-writer.js';

/** A connected pair on loopback: what `write` does to the first, as the second receives it. */
async function received(write: (writer: LineWriter) => void): Promise<string> {
  const server = net.createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as net.AddressInfo;
  const client = net.connect(port, '127.0.0.1');
  const [peer] = (await once(server, 'connection')) as [net.Socket];
  const chunks: Buffer[] = [];
  peer.on('data', (c: Buffer) => chunks.push(c));
  write(new LineWriter(client));
  // The writer flushes at the end of this turn; ending after it lets the peer see everything.
  await new Promise((resolve) => setImmediate(resolve));
  client.end();
  await once(peer, 'end');
  server.close();
  return Buffer.concat(chunks).toString('latin1');
}

test('lines and spliced lines leave in the order they were queued', async () => {
  const bytes = Buffer.from('"' + 'x'.repeat(70_000) + '"');
  const text = await received((w) => {
    w.write('{"a":1}\n');
    w.writeSpliced('{"payload":', bytes, ',"rid":1}\n');
    w.write('{"b":2}\n');
    w.writeSpliced('{"payload":', bytes.subarray(0, 3), ',"rid":2}\n');
  });
  assert.equal(text, `{"a":1}\n{"payload":${bytes.toString('latin1')},"rid":1}\n{"b":2}\n{"payload":"xx,"rid":2}\n`);
});

test('a spliced line alone, and plain lines alone, are written whole', async () => {
  assert.equal(await received((w) => w.writeSpliced('[', Buffer.from('1,2'), ']\n')), '[1,2]\n');
  assert.equal(await received((w) => ['a\n', 'b\n'].forEach((l) => w.write(l))), 'a\nb\n');
});

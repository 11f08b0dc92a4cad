/**
 * The client library's opt-in reconnect, against a fake broker the test controls: sends in flight
 * when the connection drops fail with CONNECTION_CLOSED, later ones wait for the new connection
 * (within their timeout, and are never sent once timed out), close() ends the waiting.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type Server, type Socket } from 'node:net';
import { test } from 'node:test';
import { BrokerClient, ClientError } from '../../client/index.js';
import { freePort } from '../helpers/classic.js';
import { teardown, waitFor } from '../helpers/fault.js';
import { readLines } from '../helpers/wire.js';

/** A broker stand-in: records every line, answers none unless told to. */
class FakeBroker {
  readonly lines: any[] = [];
  readonly sockets: Socket[] = [];
  private server: Server | undefined;

  constructor(readonly port: number) {}

  async up(): Promise<void> {
    const server = createServer((socket) => {
      this.sockets.push(socket);
      socket.on('error', () => undefined);
      readLines(socket, (line) => this.lines.push(JSON.parse(line)));
    });
    this.server = server;
    server.listen(this.port, '127.0.0.1');
    await once(server, 'listening');
  }

  /** Stops listening and drops every connection, like a crash. */
  async down(): Promise<void> {
    for (const socket of this.sockets.splice(0)) socket.destroy();
    await new Promise((resolve) => this.server?.close(resolve));
  }

  answer(line: any): void {
    this.sockets.at(-1)!.write(JSON.stringify({ type: 2, srcid: 1, destid: line.srcid, payload: `ok:${line.payload}`, seq: line.seq }) + '\n');
  }
}

const { cleanups } = teardown();

const packet = (payload: string) => ({ type: 0, srcid: 1, privPoliId: 111, payload });
const codeOf = (p: Promise<unknown>) => p.then(() => 'resolved', (err: ClientError) => err.code);

test('reconnect: in-flight sends fail with CONNECTION_CLOSED, later sends wait and go out on the new connection', async () => {
  const fake = new FakeBroker(await freePort());
  await fake.up();
  cleanups.push(() => fake.down());
  const client = await BrokerClient.connect({ port: fake.port, reconnect: true, reconnectMinMs: 20, reconnectMaxMs: 100, timeoutMs: 5000 });
  cleanups.push(() => client.close());

  const first = client.send(packet('first'));
  await waitFor('the first line', () => fake.lines.length === 1);
  fake.answer(fake.lines[0]);
  assert.equal(((await first) as any).payload, 'ok:first');

  const inflight = codeOf(client.send(packet('in flight')));
  await waitFor('the in-flight line', () => fake.lines.length === 2);
  await fake.down();
  assert.equal(await inflight, 'CONNECTION_CLOSED', 'the broker may or may not have routed it: the caller decides');
  await waitFor('reconnecting', () => client.reconnecting);
  assert.equal(client.closed, false);

  const later = client.send(packet('later'));
  await fake.up();
  await waitFor('the waiting send written on the new connection', () => fake.lines.length === 3, 5000);
  assert.equal(fake.lines[2].payload, 'later');
  fake.answer(fake.lines[2]);
  assert.equal(((await later) as any).payload, 'ok:later');
  assert.equal(client.reconnects, 1);
});

test('reconnect: a send that times out while waiting is never sent; close() ends the waiting', async () => {
  const fake = new FakeBroker(await freePort());
  await fake.up();
  const client = await BrokerClient.connect({ port: fake.port, reconnect: true, reconnectMinMs: 20, reconnectMaxMs: 50, timeoutMs: 300 });
  await fake.down();
  await waitFor('reconnecting', () => client.reconnecting);
  assert.equal(await codeOf(client.send(packet('too late'))), 'TIMEOUT_LOCAL');
  await fake.up();
  cleanups.push(() => fake.down());
  await waitFor('reconnected', () => client.reconnects === 1, 5000);
  const sent = client.send(packet('fresh'));
  await waitFor('the fresh line', () => fake.lines.length === 1);
  assert.deepEqual(fake.lines.map((l) => l.payload), ['fresh'], 'the timed-out send never went out');
  fake.answer(fake.lines[0]);
  await sent;

  await fake.down();
  await waitFor('reconnecting', () => client.reconnecting);
  const waiting = codeOf(client.send(packet('never')));
  await client.close();
  assert.equal(await waiting, 'CONNECTION_CLOSED');
  assert.equal(client.closed, true);
  assert.equal(await codeOf(client.send(packet('after close'))), 'CONNECTION_CLOSED');
});

test('without reconnect (the default) a lost connection closes the client for good', async () => {
  const fake = new FakeBroker(await freePort());
  await fake.up();
  const client = await BrokerClient.connect({ port: fake.port });
  const inflight = codeOf(client.send(packet('x')));
  await waitFor('the line', () => fake.lines.length === 1);
  await fake.down();
  assert.equal(await inflight, 'CONNECTION_CLOSED');
  assert.equal(client.closed, true);
  assert.equal(client.reconnecting, false);
});

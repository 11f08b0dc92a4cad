import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect, createServer, Socket, type AddressInfo, type Server } from 'node:net';
import { leanAccept } from '../../broker/support/lean-accept.js';

async function listening(server: Server): Promise<number> {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return (server.address() as AddressInfo).port;
}

async function connections(server: Server): Promise<number> {
  return await new Promise((resolve, reject) => server.getConnections((err, n) => (err ? reject(err) : resolve(n))));
}

async function until(check: () => Promise<boolean>): Promise<void> {
  for (let i = 0; i < 200 && !(await check()); i++) await new Promise((resolve) => setTimeout(resolve, 10));
  assert.ok(await check(), 'condition not reached in 2 s');
}

describe('leanAccept', () => {
  it('is not installed on a server that is not listening', () => {
    assert.equal(leanAccept(createServer()), false);
  });

  it('hands over sockets as Node does: options, counting, data both ways, counted off on close', async () => {
    const accepted: Socket[] = [];
    const server = createServer({ noDelay: true, allowHalfOpen: true }, (socket) => {
      accepted.push(socket);
      socket.on('data', (chunk) => socket.write(chunk));
      // Half-open allowed: this side ends when told to.
      socket.on('end', () => socket.end());
    });
    const port = await listening(server);
    assert.equal(leanAccept(server), true);
    try {
      const client = connect(port, '127.0.0.1');
      await once(client, 'connect');
      client.write('ping');
      const [echo] = (await once(client, 'data')) as [Buffer];
      assert.equal(echo.toString(), 'ping');
      const socket = accepted[0]!;
      assert.ok(socket instanceof Socket);
      assert.equal((socket as Socket & { server?: Server }).server, server);
      assert.equal(socket.allowHalfOpen, true);
      assert.equal(await connections(server), 1);
      client.end();
      await until(async () => (await connections(server)) === 0);
    } finally {
      server.close();
    }
  });

  it('leaves connections over maxConnections to Node, which drops them', async () => {
    const server = createServer((socket) => socket.on('data', () => undefined));
    server.maxConnections = 1;
    const port = await listening(server);
    assert.equal(leanAccept(server), true);
    const dropped = once(server, 'drop');
    const first = connect(port, '127.0.0.1');
    const second = connect(port, '127.0.0.1');
    second.on('error', () => undefined);
    try {
      await dropped;
      await once(second, 'close');
      assert.equal(await connections(server), 1);
    } finally {
      first.destroy();
      server.close();
    }
  });
});

import assert from 'node:assert/strict';
import { createServer, type Socket } from 'node:net';
import { test } from 'node:test';
import { PacketServer } from '../../server-pool/index.js';
import type { Logger } from '../../broker/support/logger.js';

test('connecting to a broker that never completes the handshake gives up within the registration timeout, and retries', async (t) => {
  // A TCP listener that says nothing: a TLS handshake to it never completes, as a connect to an
  // address that drops SYNs never does (the kernel would retry for minutes).
  const held: Socket[] = [];
  let connections = 0;
  const silent = createServer((socket) => {
    connections++;
    held.push(socket);
    socket.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
  t.after(() => {
    for (const s of held) s.destroy();
    silent.close();
  });
  const port = (silent.address() as { port: number }).port;
  const failures: string[] = [];
  const logger: Logger = {
    error: () => undefined,
    warn: (_message, meta) => failures.push(String(meta?.error)),
    info: () => undefined,
    debug: (_message, meta) => failures.push(String(meta?.error)),
  };
  const server = new PacketServer({ id: 1, policy: 1, broker: { host: '127.0.0.1', port }, brokerTls: true, registerTimeoutMs: 200, reconnectMinMs: 10, reconnectMaxMs: 20, logger });
  const starting = server.start().catch(() => undefined);
  const deadline = Date.now() + 10_000;
  while (connections < 2 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
  await server.stop();
  await starting;
  assert.ok(connections >= 2, `the attempt was retried (${connections} connections)`);
  assert.ok(failures.includes('could not connect to the broker within 200 ms'), failures.join('; '));
});

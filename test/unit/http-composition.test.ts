/** The HTTP half of a broker (http-composition.ts): a listener that cannot start leaves nothing running. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type AddressInfo } from 'node:net';
import { createBroker } from '../../broker/broker.js';

test('an HTTP port in use fails listen() with EADDRINUSE, and the broker still closes', async (t) => {
  const blocker = createServer();
  await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
  t.after(() => blocker.close());
  const broker = createBroker({ port: 0, httpPort: (blocker.address() as AddressInfo).port, httpServers: [{ host: '127.0.0.1', port: 9 }] });
  await assert.rejects(broker.listen(), { code: 'EADDRINUSE' });
  assert.equal(broker.http, undefined);
  await broker.close();
});

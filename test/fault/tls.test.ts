/**
 * Transport security with certificates made for the test: TLS on the broker's packet listener
 * (--tls-cert/--tls-key), to servers that register with `tls: true` (verified against
 * --server-ca), and from clients (--tls/--ca). Plain or untrusted peers get nothing.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { after, test } from 'node:test';
import { BrokerClient, ClientError } from '../../client/index.js';
import { sha1 } from '../helpers/classic.js';
import { makeTestCa, type TestCa } from '../helpers/certs.js';
import { figures, waitFor } from '../helpers/fault.js';
import { run, start, startBroker, type Program } from '../helpers/programs.js';

const programs: Program[] = [];
const cleanups: Array<() => unknown> = [];
after(async () => {
  for (const program of programs.reverse()) await program.stop('SIGKILL');
  for (const cleanup of cleanups.reverse()) await cleanup();
});

test('TLS end to end: broker listener, servers dialed with TLS, clients over TLS; plain and untrusted peers refused', async () => {
  const ca: TestCa = await makeTestCa();
  cleanups.push(() => ca.remove());
  const other: TestCa = await makeTestCa('some other CA');
  cleanups.push(() => other.remove());

  const { broker, port } = await startBroker(['--tls-cert', ca.cert, '--tls-key', ca.key, '--server-ca', ca.ca, '--dial-retry', '300']);
  programs.push(broker);
  const brokerArg = ['--broker', `127.0.0.1:${port}`, '--tls', '--ca', ca.ca];
  // Policy 111: TLS both ways. Policy 222: a TLS session, a plain data port.
  const tlsPool = start('pool', [...brokerArg, '--policy', '111', '--ids', '100,101', '--tls-cert', ca.cert, '--tls-key', ca.key]);
  const plainDataPool = start('pool', [...brokerArg, '--policy', '222', '--id', '200']);
  programs.push(tlsPool, plainDataPool);
  await Promise.all([tlsPool.ready, plainDataPool.ready]);

  // The client program over TLS, every reply verified.
  const summaries: Record<string, any> = {};
  for (const policy of ['111', '222']) {
    const result = await run('client', ['--broker', `127.0.0.1:${port}`, '--tls', '--ca', ca.ca, '--policy', policy, '--count', '2000', '--concurrency', '32', '--verify', 'sha1', '--json']);
    assert.equal(result.code, 0, result.stderr);
    summaries[policy] = JSON.parse(result.stdout.trim().split('\n').at(-1)!);
    assert.equal(summaries[policy].answered, 2000);
    assert.equal(summaries[policy].lost, 0);
    assert.equal(summaries[policy].verifyFailed, 0);
  }
  // The library over TLS.
  const client = await BrokerClient.connect({ host: '127.0.0.1', port, tls: { ca: readFileSync(ca.ca) } });
  cleanups.push(() => client.close());
  const answer = await client.send({ type: 0, srcid: 1, privPoliId: 111, payload: 'secret stuff' });
  assert.equal(answer.type, 2);
  assert.equal((answer as any).payload, sha1('secret stuff'));

  // A client that does not trust the broker's CA cannot connect.
  const untrusting = await BrokerClient.connect({ host: '127.0.0.1', port, tls: { ca: readFileSync(other.ca) } }).then(
    () => 'connected',
    (err: ClientError) => err.code,
  );
  assert.equal(untrusting, 'CONNECT_FAILED');

  // A plain-text client gets no packet back, only a closed connection.
  const plain = connect({ port, host: '127.0.0.1' });
  cleanups.push(() => plain.destroy());
  await once(plain, 'connect');
  let received = Buffer.alloc(0);
  plain.on('data', (data: Buffer) => (received = Buffer.concat([received, data])));
  plain.on('error', () => undefined);
  plain.write('{"type":0,"srcid":1,"privPoliId":111,"payload":"in the clear"}\n');
  await waitFor('the plain connection closed', () => plain.destroyed || plain.readableEnded, 10_000);
  assert.ok(!received.toString('latin1').includes('"type"'), 'no packet in the clear');

  // A server whose certificate the broker cannot verify is dropped, never used.
  const untrusted = start('pool', [...brokerArg, '--policy', '333', '--id', '300', '--tls-cert', other.cert, '--tls-key', other.key]);
  programs.push(untrusted);
  await untrusted.ready;
  // A packet for it waits for the broker's dial, which fails the handshake: refused.
  const refused = await client.send({ type: 0, srcid: 1, privPoliId: 333, payload: 'x' });
  assert.equal(refused.type, 3, JSON.stringify(refused));
  // Dropped, not kept as down: the policy has no server left.
  const dropped = await client.send({ type: 0, srcid: 1, privPoliId: 333, payload: 'y' });
  assert.equal(dropped.type === 3 && dropped.code, 'NO_SERVER', JSON.stringify(dropped));

  figures('tls', {
    policy111: { answered: summaries['111'].answered, lost: summaries['111'].lost, verifyFailed: summaries['111'].verifyFailed },
    policy222: { answered: summaries['222'].answered, lost: summaries['222'].lost },
    untrustingClient: untrusting,
    plainClientGot: received.length,
    untrustedServer: (refused as any).code,
  });
});

/**
 * Upgrade requests and the interceptors (match.upgrades), the trace and least-outstanding, in
 * this process: a broker made with createBroker over ws echo backends.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createBroker, type Broker } from '../../broker/broker.js';
import type { Interceptor } from '../../broker/hooks/interceptor.js';
import type { Decision } from '../../broker/trace/decision.js';
import { brokerStatus, waitFor } from '../helpers/http.js';
import { ask, closed, mustOpen, openWs, wsBackend, type WsBackend } from '../helpers/ws.js';

describe('upgrade requests, hooks, trace and least-outstanding', () => {
  let one: WsBackend;
  let two: WsBackend;
  let other: WsBackend;
  let broker: Broker;
  let port: number;
  const seenByHooks: string[] = [];
  const decisions: Decision[] = [];

  const interceptors: Interceptor[] = [
    {
      // Captures upgrades: refuses /forbidden, tags the rest, and sends /elsewhere to policy 222.
      name: 'gate',
      match: { upgrades: true, path: /^\/(forbidden|tagged|elsewhere)$/ },
      onRequest(ctx) {
        seenByHooks.push(`gate ${ctx.path}`);
        if (ctx.path === '/forbidden') return ctx.respond(403, { 'content-type': 'text/plain' }, 'no sockets here');
        ctx.headers.set('x-tag', 'gate');
        if (ctx.path === '/elsewhere') ctx.policy = 222;
      },
    },
    {
      // Does not say upgrades: never sees them.
      name: 'plain-only',
      onRequest(ctx) {
        seenByHooks.push(`plain-only ${ctx.path}`);
      },
    },
  ];

  before(async () => {
    [one, two, other] = await Promise.all([wsBackend('one'), wsBackend('two'), wsBackend('other')]);
    broker = createBroker({
      port: 0,
      httpPort: 0,
      healthIntervalMs: 0,
      algorithm: 'least-outstanding',
      trace: true,
      httpServers: [
        { host: '127.0.0.1', port: one.port, policy: 111 },
        { host: '127.0.0.1', port: two.port, policy: 111 },
        { host: '127.0.0.1', port: other.port, policy: 222 },
      ],
      interceptors,
    });
    await broker.listen();
    port = broker.httpAddress()!.port;
    broker.trace.listen({ decision: (d) => decisions.push(d), state: () => undefined });
  });

  after(async () => {
    await broker?.close();
    await Promise.all([one, two, other].map((b) => b?.close()));
  });

  it('an interceptor with match.upgrades can refuse with ctx.respond; nothing switches', async () => {
    const r = await openWs(`ws://127.0.0.1:${port}/forbidden`);
    assert.ok(!r.ok);
    assert.equal(r.status, 403);
    assert.equal(r.body, 'no sockets here');
    assert.ok(seenByHooks.includes('gate /forbidden'));
    assert.ok(!seenByHooks.some((s) => s.startsWith('plain-only')));
  });

  it('it can add headers and choose the policy; others never see upgrades', async () => {
    const before = one.handshakes.length + two.handshakes.length;
    const tagged = await mustOpen(`ws://127.0.0.1:${port}/tagged`);
    assert.equal(one.handshakes.length + two.handshakes.length, before + 1);
    const last = [...one.handshakes, ...two.handshakes].find((h) => h['x-tag'] === 'gate');
    assert.ok(last !== undefined);
    const moved = await mustOpen(`ws://127.0.0.1:${port}/elsewhere`);
    assert.equal((await ask(moved, 'name?')).data.toString(), 'other');
    for (const ws of [tagged, moved]) ws.close();
    await Promise.all([closed(tagged), closed(moved)]);
    assert.ok(!seenByHooks.some((s) => s.startsWith('plain-only')));
  });

  it('least-outstanding: a backend holding a WebSocket is busy, so the next one goes to the other', async () => {
    await waitFor('no tunnel open', async () => (await brokerStatus(port)).http.upgrades.open === 0);
    const first = await mustOpen(`ws://127.0.0.1:${port}/`);
    const firstName = (await ask(first, 'name?')).data.toString();
    const names: string[] = [];
    for (let i = 0; i < 3; i++) {
      const ws = await mustOpen(`ws://127.0.0.1:${port}/`);
      names.push((await ask(ws, 'name?')).data.toString());
      ws.close();
      await closed(ws);
      await waitFor('the tunnel to close', async () => (await brokerStatus(port)).http.upgrades.open === 1);
    }
    assert.deepEqual(names, Array(3).fill(firstName === 'one' ? 'two' : 'one'));
    first.close();
    await closed(first);
  });

  it('the trace has one line per upgrade decision', async () => {
    const ws = await mustOpen(`ws://127.0.0.1:${port}/traced`);
    const line = await waitFor('the decision', () => decisions.find((d) => d.kind === 'http' && d.path === '/traced'));
    assert.equal(line.kind === 'http' && line.outcome, 'UPGRADED');
    assert.equal(line.kind === 'http' && line.status, 101);
    ws.close();
    await closed(ws);
    assert.equal(decisions.filter((d) => d.kind === 'http' && d.path === '/traced').length, 1);
    assert.ok(decisions.some((d) => d.kind === 'http' && d.path === '/forbidden' && d.outcome === 'HOOK_ANSWERED'));
  });
});

/**
 * The runtime API without sockets: it answers AdminRequests (plain data, as a --workers worker
 * relays them) over a ServerControl: one table (TableControl), or a --workers broker
 * (WorkersControl: the primary's registered servers and the workers' reported static backends,
 * each change told to the workers once, before the answer).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { AdminAnswer, AdminRequest } from '../../broker/admin/answer.js';
import { RuntimeApi, TableControl, WorkersControl, type ServerChange } from '../../broker/admin/runtime-api.js';
import type { HttpBackendView } from '../../broker/http/backend-view.js';
import { Member, type AdminMode } from '../../broker/routing/member.js';
import { PolicyTable } from '../../broker/routing/policy-table.js';
import type { Logger } from '../../broker/support/logger.js';

function registered(id: number, policy: number): Member {
  return new Member({ id, policy, host: '10.0.0.1', packetPort: 2000 + id, httpPort: 8000 + id, maxInflight: 1, session: true, tls: false, registeredAt: 0, generation: 1 });
}

function backend(address: string, policy: number, extra: Partial<HttpBackendView> = {}): HttpBackendView {
  return { policy, id: undefined, source: 'static', address, state: 'up', weight: 1, admin: 'enabled', outstanding: 0, served: 0, failures: 0, lastError: undefined, ...extra };
}

function recordingLog(lines: Array<[string, Record<string, unknown> | undefined]>): Logger {
  const keep = (message: string, extra?: Record<string, unknown>) => void lines.push([message, extra]);
  return { error: keep, warn: keep, info: keep, debug: keep };
}

const request = (path: string, method = 'GET', body?: unknown, authorization = 'Bearer t'): AdminRequest => ({
  path,
  url: `/_broker/${path}`,
  method,
  authorized: true,
  authorization,
  who: '10.9.9.9',
  ...(body !== undefined && { body: typeof body === 'string' ? body : JSON.stringify(body) }),
});

const json = (a: AdminAnswer) => JSON.parse(a.body);

describe('runtime API over a --workers broker (WorkersControl)', () => {
  const setup = () => {
    const table = new PolicyTable('round-robin');
    table.add(registered(100, 111));
    const told: Array<[string, ServerChange, boolean]> = [];
    const backends = [backend('10.0.0.5:80', 111, { served: 7 }), backend('10.0.0.5:80', 222), { ...backend('10.0.0.1:8100', 111), source: 'registered' as const, id: 100, served: 5, outstanding: 2 }];
    // The primary's membership, applying to its table at once (a memory store's event would do the same).
    const membership = {
      setAdmin: async (member: Member, change: { mode?: AdminMode; weight?: number }) => {
        if (change.weight !== undefined) table.setWeight(member, change.weight);
        if (change.mode !== undefined) table.setAdmin(member, change.mode);
        return true;
      },
    };
    const control = new WorkersControl(table, membership, { backends: () => backends }, async (key, change, isStatic) => void told.push([key, change, isStatic]));
    const lines: Array<[string, Record<string, unknown> | undefined]> = [];
    const api = new RuntimeApi({ servers: control, log: recordingLog(lines), writeToken: 't', loopbackOnly: false });
    return { table, told, api, lines };
  };

  it('lists the registered servers with the workers\' HTTP figures, and every static backend the workers report', async () => {
    const { api } = setup();
    const rows = json(await api.answer('servers', request('api/servers'))).servers;
    assert.deepEqual(rows.map((r: any) => [r.key, r.policy, r.source, r.inflight, r.served]), [
      ['100', 111, 'registered', 2, 5],
      ['10.0.0.5:80', 111, 'static', 0, 7],
      ['10.0.0.5:80', 222, 'static', 0, 0],
    ]);
  });

  it('a change is applied to the table and told to the workers once; logged with who asked', async () => {
    const { api, table, told, lines } = setup();
    const registeredChange = await api.answer('servers/100', request('api/servers/100', 'PATCH', { state: 'drain' }));
    assert.equal(registeredChange.status, 200);
    assert.equal(table.get(100)!.admin, 'drain');
    const staticChange = await api.answer('servers/10.0.0.5%3A80', request('api/servers/10.0.0.5%3A80', 'PATCH', { weight: 5 }));
    assert.deepEqual(json(staticChange).changed.map((r: any) => [r.key, r.policy, r.weight]), [['10.0.0.5:80', 111, 5], ['10.0.0.5:80', 222, 5]]);
    assert.deepEqual(told, [['100', { admin: 'drain' }, false], ['10.0.0.5:80', { weight: 5 }, true]]);
    assert.deepEqual(lines.filter(([m]) => m === 'server changed by the operator').map(([, e]) => [e!.server, e!.policy, e!.by]), [['100', 111, '10.9.9.9'], ['10.0.0.5:80', 111, '10.9.9.9'], ['10.0.0.5:80', 222, '10.9.9.9']]);
  });

  it('refuses bad input with a clear error, and tells the workers nothing', async () => {
    const { api, told } = setup();
    assert.equal((await api.answer('servers/100', request('api/servers/100', 'PATCH', { state: 'drain' }, 'Bearer wrong'))).status, 401);
    assert.equal((await api.answer('servers/100', request('api/servers/100', 'PATCH', '{not json'))).status, 400);
    assert.match(json(await api.answer('servers/100', request('api/servers/100', 'PATCH', { state: 'sideways' }))).message, /"state" must be/);
    assert.equal((await api.answer('servers/999', request('api/servers/999', 'PATCH', { state: 'drain' }))).status, 404);
    assert.equal((await api.answer('servers', request('api/servers', 'POST'))).status, 405);
    assert.equal((await api.answer('reload', request('api/reload', 'POST'))).status, 404, 'no reload without a front end');
    assert.deepEqual(told, []);
  });
});

describe('runtime API over one table (TableControl)', () => {
  it('changes every member of a key, and nothing for an unknown one', async () => {
    const table = new PolicyTable('round-robin');
    table.add(registered(100, 111));
    const control = new TableControl(table);
    assert.deepEqual((await control.change('100', { admin: 'disabled', weight: 3 })).map((r) => [r.key, r.admin, r.weight]), [['100', 'disabled', 3]]);
    assert.deepEqual(await control.change('101', { admin: 'drain' }), []);
  });
});

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { AddressInfo } from 'node:net';
import { resolveBrokerOptions, type BrokerOptions } from '../../broker/options.js';
import { RegistrationGuard, sourceKey, PER_CONNECTION_BURST, REFUSED_BURST } from '../../broker/registry/registration-guard.js';
import type { Registration } from '../../broker/protocol/packet-types.js';
import { idClaimRefusal, portClaimRefusal } from '../../broker/registry/id-claim.js';
import { Member, type MemberState } from '../../broker/routing/member.js';
import { AddressList, isLoopbackAddress } from '../../broker/support/address-list.js';
import { BoundedTable } from '../../broker/support/bounded-table.js';
import { RateLimit } from '../../broker/support/rate-limit.js';

const reg = (fields: Partial<Registration> = {}): Registration => ({ type: 1, id: 1, policy: 111, listenport: 7000, maxInflight: 1, session: true, ...fields }) as Registration;
const guard = (options: Partial<BrokerOptions>, listeners: AddressInfo[] = [], serversFrom: (key: string) => number = () => 0) => {
  let now = 0;
  const g = new RegistrationGuard(resolveBrokerOptions(options), () => listeners, serversFrom, () => now);
  return { g, advance: (ms: number) => (now += ms) };
};

describe('AddressList', () => {
  it('matches CIDR blocks and bare addresses, IPv4-mapped peers too, and names a bad entry', () => {
    const list = new AddressList(['10.0.0.0/8', '192.168.1.7', 'fd00::/8']);
    assert.ok(list.has('10.1.2.3'));
    assert.ok(list.has('::ffff:10.1.2.3'));
    assert.ok(list.has('192.168.1.7'));
    assert.ok(!list.has('192.168.1.8'));
    assert.ok(list.has('fd12::1'));
    assert.ok(!list.has('11.0.0.1'));
    for (const bad of ['10.0.0.0/33', 'nope', '10.0.0.0/', '1.2.3.4/8/9']) assert.throws(() => new AddressList([bad]), new RegExp(bad.replace(/[/.]/g, '\\$&')));
  });

  it('knows loopback', () => {
    for (const a of ['127.0.0.1', '127.9.9.9', '::1', '::ffff:127.0.0.2']) assert.ok(isLoopbackAddress(a), a);
    for (const a of ['10.0.0.1', '::2', '128.0.0.1']) assert.ok(!isLoopbackAddress(a), a);
  });
});

describe('RateLimit', () => {
  it('allows a burst, then the rate, per key', () => {
    const limit = new RateLimit(3, 2);
    assert.deepEqual([1, 2, 3, 4].map(() => limit.take('a', 0)), [true, true, true, false]);
    assert.ok(limit.take('b', 0), 'another key has its own bucket');
    assert.ok(limit.take('a', 500));
    assert.ok(!limit.take('a', 500));
  });

  it('holds at most maxKeys buckets', () => {
    const limit = new RateLimit(1, 1, 100);
    for (let i = 0; i < 10_000; i++) limit.take(`k${i}`, i);
    assert.ok(limit.size <= 100, String(limit.size));
  });
});

describe('BoundedTable', () => {
  it('folds the oldest entries that are not live into other, keeping live ones and the totals', () => {
    const live = new Set([0, 1]);
    const table = new BoundedTable<number, { n: number }>(5, () => ({ n: 0 }), (into, from) => (into.n += from.n), (k) => live.has(k));
    for (let k = 0; k < 100; k++) table.entry(k).n = 1;
    assert.equal(table.size, 5);
    assert.ok(table.get(0) !== undefined && table.get(1) !== undefined, 'live entries are kept');
    assert.equal(table.forgotten, 95);
    assert.equal([...table.values()].reduce((s, v) => s + v.n, 0) + table.other!.n, 100);
  });
});

describe('sourceKey', () => {
  it('counts all loopback as one source and IPv6 by its /64', () => {
    assert.equal(sourceKey('127.0.0.2'), 'loopback');
    assert.equal(sourceKey('::1'), 'loopback');
    assert.equal(sourceKey('10.0.0.1'), '10.0.0.1');
    assert.equal(sourceKey('2001:db8:1:2:aaaa::1'), sourceKey('2001:db8:1:2::ffff'));
    assert.notEqual(sourceKey('2001:db8:1:2::1'), sourceKey('2001:db8:1:3::1'));
    // --ipv6-source-prefix: 128 counts each address, 48 a whole site.
    assert.notEqual(sourceKey('2001:db8:1:2::1', 128), sourceKey('2001:db8:1:2::2', 128));
    assert.equal(sourceKey('2001:db8:1:2::1', 48), sourceKey('2001:db8:1:3::1', 48));
    assert.notEqual(sourceKey('2001:db8:1:2::1', 48), sourceKey('2001:db8:2:2::1', 48));
    assert.equal(sourceKey('2001:db8:1:2:aaaa::1', 60), sourceKey('2001:db8:1:f::1', 60));
    assert.notEqual(sourceKey('2001:db8:1:2::1', 60), sourceKey('2001:db8:1:12::1', 60));
  });
});

describe('RegistrationGuard', () => {
  it('says which mode is in force', () => {
    assert.equal(guard({}).g.mode, 'loopback');
    assert.equal(guard({ host: '0.0.0.0' }).g.mode, 'protected');
    assert.equal(guard({ host: '0.0.0.0', registrationSecret: 's' }).g.mode, 'secret');
    assert.equal(guard({ host: '0.0.0.0', insecureOpenRegistration: true }).g.mode, 'open');
    assert.equal(guard({ allowRegisterFrom: ['10.0.0.0/8'] }).g.mode, 'protected');
  });

  it('in protected mode refuses other hosts with a hint naming the flags, and takes loopback and the allow-list', () => {
    const { g } = guard({ host: '0.0.0.0', allowRegisterFrom: ['192.0.2.0/24'] });
    const refused = g.check({ host: '198.51.100.7' }, reg());
    assert.equal(refused?.code, 'UNAUTHORIZED');
    assert.match(refused!.message, /--allow-register-from.*--registration-secret.*--insecure-open-registration/);
    assert.equal(g.check({ host: '192.0.2.9' }, reg()), undefined);
    assert.equal(g.check({ host: '127.0.0.5' }, reg()), undefined);
  });

  it('with a secret and an allow-list, both must hold', () => {
    const { g } = guard({ host: '0.0.0.0', registrationSecret: 's', allowRegisterFrom: ['192.0.2.0/24'] });
    assert.equal(g.check({ host: '192.0.2.9' }, reg({ secret: 's' })), undefined);
    assert.equal(g.check({ host: '192.0.2.10' }, reg())?.code, 'UNAUTHORIZED');
    assert.equal(g.check({ host: '198.51.100.7' }, reg({ secret: 's' }))?.code, 'UNAUTHORIZED');
  });

  it('refuses the broker\'s own ports at any local address with a wildcard listener, only at the bound one otherwise', () => {
    const wild = guard({}, [{ address: '0.0.0.0', port: 2100, family: 'IPv4' }, { address: '::', port: 8080, family: 'IPv6' }]).g;
    assert.equal(wild.check({ host: '127.0.0.2' }, reg({ listenport: 2100 }))?.code, 'BAD_PACKET');
    assert.equal(wild.check({ host: '127.0.0.3' }, reg({ httpport: 8080 }))?.code, 'BAD_PACKET');
    assert.equal(wild.check({ host: '127.0.0.4' }, reg({ listenport: 2101 })), undefined);
    const bound = guard({}, [{ address: '127.0.0.1', port: 2100, family: 'IPv4' }]).g;
    assert.equal(bound.check({ host: '127.0.0.1' }, reg({ listenport: 2100 }))?.code, 'BAD_PACKET');
    assert.equal(bound.check({ host: '127.0.0.2' }, reg({ listenport: 2100 })), undefined, '127.0.0.2:2100 is not the broker');
  });

  it('refuses a source past --max-servers-per-source', () => {
    const { g } = guard({ maxServersPerSource: 3 }, [], (key) => (key === 'loopback' ? 3 : 0));
    assert.equal(g.check({ host: '127.0.0.9' }, reg())?.code, 'OVERLOADED');
    const open = guard({ host: '0.0.0.0', insecureOpenRegistration: true, maxServersPerSource: 3 }, [], (key) => (key === 'loopback' ? 3 : 0)).g;
    assert.equal(open.check({ host: '192.0.2.1' }, reg()), undefined);
  });

  it('rate-limits one connection, and one source over many connections', () => {
    const { g, advance } = guard({ registrationRate: 100 });
    const conn = { host: '127.0.0.1' };
    for (let i = 0; i < PER_CONNECTION_BURST; i++) assert.equal(g.check(conn, reg({ id: i })), undefined);
    assert.equal(g.check(conn, reg())?.code, 'OVERLOADED');
    let accepted = PER_CONNECTION_BURST;
    for (let c = 0; c < 200; c++) if (g.check({ host: `127.0.1.${c}` }, reg()) === undefined) accepted++;
    assert.equal(accepted, 100, 'one second of --registration-rate 100 from loopback');
    advance(1000);
    assert.equal(g.check({ host: '127.0.2.1' }, reg()), undefined, 'refilled');
  });
});

describe('refused registrations', () => {
  it('peers without the secret never spend the budget of those that have it; past their own bucket they are not logged', () => {
    const { g, advance } = guard({ registrationRate: 100, registrationSecret: 's3cret' });
    // A flood without the secret from 127.0.0.2 (the same loopback source as the real servers).
    const refusals = Array.from({ length: 2000 }, (_, i) => g.check({ host: '127.0.0.2' }, reg({ id: i, secret: 'guess' }))!);
    assert.ok(refusals.every((r) => r.code === 'UNAUTHORIZED'));
    assert.equal(refusals.filter((r) => r.quiet !== true).length, REFUSED_BURST, 'only a burst of them is logged');
    // The authorised servers still have all of their budget.
    let accepted = 0;
    for (let c = 0; c < 100; c++) if (g.check({ host: `127.0.1.${c}` }, reg({ id: 5000 + c, secret: 's3cret' })) === undefined) accepted++;
    assert.equal(accepted, 100);
    advance(1000);
    // A refused address in protected mode counts the same way.
    const p = guard({ host: '0.0.0.0', registrationRate: 10 }).g;
    for (let i = 0; i < 500; i++) assert.equal(p.check({ host: '192.0.2.1' }, reg())?.code, 'UNAUTHORIZED');
    for (let i = 0; i < 10; i++) assert.equal(p.check({ host: `127.0.0.${i + 1}` }, reg()), undefined);
  });
});

describe('id claims', () => {
  /** A registered server as the table holds it. */
  const record = (f: { id?: number; policy?: number; port?: number; session?: boolean; state?: MemberState; httpPort?: number }): Member => {
    const info = { id: f.id ?? 100, policy: f.policy ?? 111, host: '127.0.0.1', packetPort: f.port ?? 7000, httpPort: f.httpPort };
    const member = new Member({ ...info, maxInflight: 1, session: f.session ?? true, tls: false, registeredAt: 0, generation: 1 });
    member.packets!.state = f.state ?? 'up';
    return member;
  };
  it('keeps a live session\'s id to its own connection', () => {
    assert.match(idClaimRefusal(record({}), reg({ id: 100 }), '127.0.0.1', 'another-open-connection')!, /live session/);
    assert.equal(idClaimRefusal(record({}), reg({ id: 100 }), '127.0.0.1', 'this-connection'), undefined);
    assert.equal(idClaimRefusal(record({}), reg({ id: 100 }), '127.0.0.1', 'none'), undefined);
  });
  it('gives a reachable classic server\'s id only to a restart in place', () => {
    const classic = record({ session: false });
    assert.equal(idClaimRefusal(classic, reg({ id: 100, session: false, listenport: 7000 }), '127.0.0.1', 'none'), undefined);
    assert.ok(idClaimRefusal(classic, reg({ id: 100, session: false, listenport: 7001 }), '127.0.0.1', 'none'));
    assert.ok(idClaimRefusal(classic, reg({ id: 100, session: true, listenport: 7000 }), '127.0.0.1', 'none'));
    assert.ok(idClaimRefusal(classic, reg({ id: 100, session: false, listenport: 7000, policy: 222 }), '127.0.0.1', 'none'));
    assert.equal(idClaimRefusal(record({ session: false, state: 'down' }), reg({ id: 100, listenport: 7001 }), '127.0.0.1', 'none'), undefined);
  });
  it('keeps a port to one policy', () => {
    const servers = [record({ id: 100, policy: 111, port: 7000, httpPort: 8000 })];
    assert.ok(portClaimRefusal(servers, reg({ id: 101, policy: 222, listenport: 7000 }), '127.0.0.1'));
    assert.ok(portClaimRefusal(servers, reg({ id: 101, policy: 222, listenport: 7001, httpport: 8000 }), '127.0.0.1'));
    assert.equal(portClaimRefusal(servers, reg({ id: 101, policy: 111, listenport: 7000 }), '127.0.0.1'), undefined);
    // A server listening on a wildcard address answers on every address of this host.
    for (const local of ['127.0.0.2', '::1', '::ffff:127.0.0.1']) assert.ok(portClaimRefusal(servers, reg({ id: 101, policy: 222, listenport: 7000 }), local), local);
    const remote = [record({ id: 100, policy: 111, port: 7000 })];
    (remote[0]!.info as { host: string }).host = '192.0.2.10';
    assert.ok(portClaimRefusal(remote, reg({ id: 101, policy: 222, listenport: 7000 }), '::ffff:192.0.2.10'));
    assert.equal(portClaimRefusal(remote, reg({ id: 101, policy: 222, listenport: 7000 }), '192.0.2.11'), undefined);
  });
});

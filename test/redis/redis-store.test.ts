/**
 * The Redis registry store against a real redis-server: brokers see each other's
 * registrations, generations guard every write, TTLs expire what no broker renews, a resync
 * heals what the hints lost, and a broker cut off from Redis keeps working and catches up
 * without reviving what changed meanwhile.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { RedisConnection, type RegistryConnection } from '../../broker/registry/redis-connection.js';
import { RedisStore } from '../../broker/registry/redis-store.js';
import { parseRegistryUrl } from '../../broker/registry/redis-connection.js';
import type { NewEntry } from '../../broker/registry/store.js';
import { ErrorCode, ProtocolError } from '../../broker/protocol/error-codes.js';
import { silentLogger, type Logger } from '../../broker/support/logger.js';
import { startRedis, type TestRedis } from '../helpers/redis-server.js';
import { timeUntil, waitFor } from '../helpers/fault.js';

const RESYNC_MS = 100;

const entry = (id: number, owner: string, extra: Partial<NewEntry> = {}): NewEntry => ({
  id,
  policy: 111,
  host: '127.0.0.1',
  packetPort: 20_000 + id,
  httpPort: undefined,
  maxInflight: 1,
  session: false,
  tls: false,
  owner,
  ...extra,
});

/** A connection that can be cut: calls fail and hints are lost while it is. */
class Breakable implements RegistryConnection {
  cut = false;
  constructor(private readonly inner: RedisConnection) {}
  run(script: string, keys: readonly string[], args: readonly string[]): Promise<unknown> {
    return this.cut ? Promise.reject(new Error('cut off')) : this.inner.run(script, keys, args);
  }
  subscribe(channel: string, listener: (message: string) => void): Promise<void> {
    return this.inner.subscribe(channel, (m) => {
      if (!this.cut) listener(m);
    });
  }
}

const closers: Array<() => Promise<void>> = [];
after(async () => {
  for (const close of closers.reverse()) await close();
});

async function broker(redis: TestRedis, id: string, prefix: string, logger: Logger = silentLogger()) {
  const inner = await RedisConnection.open(parseRegistryUrl(redis.url), { connectTimeoutMs: 3000, commandTimeoutMs: 500, logger, name: id });
  const connection = new Breakable(inner);
  const store = new RedisStore({ prefix, brokerId: id, resyncMs: RESYNC_MS, logger });
  await store.start(connection);
  closers.push(async () => {
    await store.close();
    await inner.close();
  });
  return { store, connection };
}

const ids = async (store: RedisStore): Promise<string[]> => (await store.list()).map((e) => `${e.id}@${e.owner}${e.draining ? ' draining' : ''}`).sort();

describe('RedisStore', async () => {
  const redis = await startRedis();

  it('a registration with one broker reaches the others; removal and drain too', async () => {
    const a = await broker(redis, 'a', 't1:');
    const b = await broker(redis, 'b', 't1:');
    const { entry: e1 } = await a.store.register(entry(1, 'a'));
    await waitFor('b sees server 1', async () => (await ids(b.store)).join() === '1@a', 2000);
    assert.equal(await a.store.drain(1, e1.generation), true);
    await waitFor('b sees it draining', async () => (await ids(b.store)).join() === '1@a draining', 2000);
    assert.equal(await b.store.remove(1, e1.generation, { kind: 'dropped', detail: 'unreachable' }), true);
    await waitFor('a no longer has it', async () => (await ids(a.store)).length === 0, 2000);
  });

  it('refuses an id live from another host; a call about an older generation changes nothing', async () => {
    const a = await broker(redis, 'a', 't2:');
    const b = await broker(redis, 'b', 't2:');
    const first = (await a.store.register(entry(5, 'a'))).entry;
    await waitFor('b sees server 5', async () => (await b.store.list()).length === 1, 2000);
    await assert.rejects(
      b.store.register(entry(5, 'b', { host: '127.0.0.2' })),
      (err: unknown) => err instanceof ProtocolError && err.code === ErrorCode.DUPLICATE_ID,
    );
    // The same server moves to b (same host): a new generation, owned by b.
    const second = (await b.store.register(entry(5, 'b'))).entry;
    assert.ok(second.generation > first.generation);
    await waitFor('a follows', async () => (await ids(a.store)).join() === '5@b', 2000);
    assert.equal(await a.store.remove(5, first.generation, { kind: 'left', detail: 'late' }), false);
    assert.equal(await a.store.drain(5, first.generation), false);
    await a.store.resync();
    assert.deepEqual(await ids(b.store), ['5@b']);
    assert.deepEqual(await ids(a.store), ['5@b']);
  });

  it('a session record expires when its broker stops renewing it; a classic one stays', async () => {
    const a = await broker(redis, 'a', 't3:');
    const b = await broker(redis, 'b', 't3:');
    await a.store.register(entry(7, 'a', { session: true }), { ttlMs: 400 });
    await a.store.register(entry(8, 'a'));
    // Its broker renews it past its TTL.
    await new Promise((resolve) => setTimeout(resolve, 900));
    assert.deepEqual(await ids(b.store), ['7@a', '8@a']);
    // The broker dies (it stops renewing): b drops the session server within TTL + a resync.
    await a.store.close();
    const took = await timeUntil('b drops server 7', async () => (await ids(b.store)).join() === '8@a', 3000);
    assert.ok(took < 400 + 3 * RESYNC_MS + 400, `expired after ${took} ms`);
  });

  it('the resync heals a lost hint, and a record that does not parse is skipped and logged', async () => {
    const warnings: string[] = [];
    const quiet = silentLogger();
    const logger: Logger = { error: () => quiet.error(''), info: () => undefined, debug: () => undefined, warn: (message, meta) => warnings.push(`${message} ${JSON.stringify(meta)}`) };
    const b = await broker(redis, 'b', 't4:', logger);
    // Written behind the brokers' backs: no hint.
    const gen = String(Date.now() * 1000);
    const json = JSON.stringify({ policy: 111, host: '127.0.0.1', packetPort: 20009, maxInflight: 1, session: false, tls: false, registeredAt: 1, owner: 'x' });
    await redis.command(['HSET', 't4:server:9', 'g', gen, 'e', json]);
    await redis.command(['HSET', 't4:server:10', 'g', gen, 'e', '{"policy":"no"}']);
    await redis.command(['SADD', 't4:servers', '9', '10']);
    await waitFor('b finds server 9', async () => (await ids(b.store)).join() === '9@x', 2000);
    await b.store.resync();
    await b.store.resync();
    const bad = warnings.filter((w) => w.includes('does not parse'));
    assert.equal(bad.length, 1, warnings.join('\n'));
    assert.match(bad[0]!, /t4:server:10/);
  });

  it('cut off from Redis: keeps its view, takes registrations locally, writes them back, revives nothing stale', async () => {
    const a = await broker(redis, 'a', 't5:');
    const b = await broker(redis, 'b', 't5:');
    const degraded: boolean[] = [];
    a.store.onDegraded = (d) => degraded.push(d);
    const s = (await a.store.register(entry(20, 'a', { session: true }), { ttlMs: 2000 })).entry;
    await waitFor('b sees 20', async () => (await b.store.list()).length === 1, 2000);

    a.connection.cut = true;
    await a.store.resync();
    assert.equal(a.store.degraded, true);
    // a cannot renew its session record: it expires, and only then may another broker take the id.
    await waitFor('the record of 20 expires', async () => (await redis.command(['EXISTS', 't5:server:20'])) === 0, 4000);
    // While a is away, the server moves to b, and then leaves b.
    const moved = (await b.store.register(entry(20, 'b', { session: true }), { ttlMs: 2000 })).entry;
    assert.ok(moved.generation > s.generation);
    await b.store.remove(20, moved.generation, { kind: 'left', detail: 'left' });
    // a still routes from its view, and takes a registration of its own.
    assert.deepEqual(await ids(a.store), ['20@a']);
    const local = (await a.store.register(entry(21, 'a'))).entry;
    assert.deepEqual(await ids(a.store), ['20@a', '21@a']);

    a.connection.cut = false;
    await waitFor('a answers again', () => !a.store.degraded, 2000);
    assert.deepEqual(degraded, [true, false]);
    // Its stale record of 20 is not revived; its local registration is written back.
    assert.deepEqual(await ids(a.store), ['21@a']);
    await waitFor('b sees 21', async () => (await ids(b.store)).join() === '21@a', 2000);
    assert.equal((await b.store.list())[0]!.generation, local.generation);
    assert.equal(await redis.command(['EXISTS', 't5:server:20']), 0);
  });

  it('Redis restarted empty: the brokers write back what they hold, and agree again', async () => {
    const a = await broker(redis, 'a', 't6:');
    const b = await broker(redis, 'b', 't6:');
    await a.store.register(entry(30, 'a', { session: true }), { ttlMs: 2000 });
    await b.store.register(entry(31, 'b'));
    await waitFor('both see both', async () => (await ids(a.store)).length === 2 && (await ids(b.store)).length === 2, 2000);
    await redis.restart();
    await waitFor('Redis holds both again', async () => (await redis.command(['SMEMBERS', 't6:servers']) as string[]).length === 2, 5000);
    await waitFor('both answer again', () => !a.store.degraded && !b.store.degraded, 3000);
    await a.store.resync();
    await b.store.resync();
    assert.deepEqual(await ids(a.store), ['30@a', '31@b']);
    assert.deepEqual(await ids(b.store), ['30@a', '31@b']);
  });

  it('an id another live broker keeps is DUPLICATE_ID, decided in Redis, whatever the registering broker\'s view', async () => {
    const a = await broker(redis, 'a', 't7:');
    const b = await broker(redis, 'b', 't7:');
    await a.store.register(entry(40, 'a', { session: true }), { ttlMs: 2000 });
    await a.store.register(entry(41, 'a'));
    // b has not heard of them yet, or has: either way Redis decides. Same host, as a squatter on the server's host.
    for (const [id, extra] of [[40, { session: true }], [41, { packetPort: 30_041 }], [41, { session: true }]] as const) {
      await assert.rejects(
        b.store.register(entry(id, 'b', extra), { ttlMs: 2000 }),
        (err: unknown) => err instanceof ProtocolError && err.code === ErrorCode.DUPLICATE_ID && /through another broker \(a\)/.test(err.message),
      );
    }
    // The classic server restarting in place (same address, port and policy) may move.
    assert.equal((await b.store.register(entry(41, 'b'))).entry.owner, 'b');
    // Once a stops (its presence key goes), the id is free at once, its record not yet expired.
    await a.store.close();
    assert.equal(await redis.command(['EXISTS', 't7:server:40']), 1);
    assert.equal((await b.store.register(entry(40, 'b', { session: true }), { ttlMs: 2000 })).entry.owner, 'b');
  });

  it('malformed data in Redis costs its own id only: registrations go on, no "Redis does not answer", logged once', async () => {
    const warnings: string[] = [];
    const errors: string[] = [];
    const logger: Logger = {
      error: (message, meta) => errors.push(`${message} ${JSON.stringify(meta)}`),
      info: () => undefined,
      debug: () => undefined,
      warn: (message, meta) => warnings.push(`${message} ${JSON.stringify(meta)}`),
    };
    const a = await broker(redis, 'a', 't8:', logger);
    const b = await broker(redis, 'b', 't8:');
    await a.store.register(entry(304, 'a'));
    await a.store.register(entry(305, 'a'));
    // A bad generations value, a record with a bad generation, a record key of the wrong type,
    // and a bad value for an id a owns (its next renewal meets it).
    await redis.command(['HSET', 't8:generations', '300', 'rX', '304', 'zz']);
    await redis.command(['HSET', 't8:server:302', 'g', 'zz', 'e', '{}']);
    await redis.command(['SET', 't8:server:303', 'not a hash']);
    await redis.command(['SADD', 't8:servers', '302', '303']);
    for (const id of [300, 302, 303, 306]) await a.store.register(entry(id, 'a'));
    await a.store.resync();
    await a.store.resync();
    assert.equal(a.store.degraded, false);
    await waitFor('b sees every good registration', async () => (await ids(b.store)).join() === ['300@a', '302@a', '303@a', '304@a', '305@a', '306@a'].join(), 3000);
    assert.deepEqual(errors, []);
    assert.ok(!warnings.some((w) => w.includes('does not answer')), warnings.join('\n'));
    const bad = warnings.filter((w) => w.includes('does not parse'));
    assert.equal(new Set(bad).size, bad.length, `each logged once: ${bad.join('\n')}`);
    assert.ok(bad.some((w) => w.includes('300')), bad.join('\n'));
  });

  it('a generation above 2^53 is bad data for its id only: the id registers, the next id gets a safe generation', async () => {
    const warnings: string[] = [];
    const logger: Logger = { error: () => undefined, info: () => undefined, debug: () => undefined, warn: (message, meta) => warnings.push(`${message} ${JSON.stringify(meta)}`) };
    const a = await broker(redis, 'a', 't9:', logger);
    const b = await broker(redis, 'b', 't9:');
    await redis.command(['HSET', 't9:generations', '310', '9007199254740993', '312', String(Date.now() * 1000 + 3_600_000_000)]);
    const e310 = (await a.store.register(entry(310, 'a'))).entry;
    const e311 = (await a.store.register(entry(311, 'a'))).entry;
    const e312 = (await a.store.register(entry(312, 'a'))).entry;
    for (const e of [e310, e311, e312]) assert.ok(Number.isSafeInteger(e.generation), String(e.generation));
    // 311 is not dragged along: its generation is this broker's clock, not another id's.
    assert.ok(Math.abs(e311.generation - Date.now() * 1000) < 60_000_000, String(e311.generation));
    // 312's last generation is an hour ahead (a broker whose clock is wrong): it follows it, and it is logged.
    assert.ok(e312.generation > Date.now() * 1000 + 3_000_000_000);
    assert.ok(warnings.some((w) => w.includes('far ahead') && w.includes('312')), warnings.join('\n'));
    await waitFor('b sees all three', async () => (await ids(b.store)).join() === '310@a,311@a,312@a', 3000);
    assert.equal(a.store.degraded, false);
  });
});

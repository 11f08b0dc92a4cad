/**
 * The registry connection tells its failures apart: a malformed URL, a wrong password,
 * something that is not Redis, and a Redis that does not answer within the start-up bound.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type AddressInfo } from 'node:net';
import { parseRegistryUrl, RedisConnection, RegistryError } from '../../broker/registry/redis-connection.js';
import { SentinelConnection } from '../../broker/registry/sentinel-connection.js';
import { silentLogger } from '../../broker/support/logger.js';
import { closedPort } from '../helpers/ports.js';
import { startRedis } from '../helpers/redis-server.js';

const open = (url: string, connectTimeoutMs = 2000) =>
  RedisConnection.open(parseRegistryUrl(url), { connectTimeoutMs, commandTimeoutMs: 500, logger: silentLogger(), name: 'test' });

const code = (c: string) => (err: unknown) => err instanceof RegistryError && err.code === c;

describe('registry connection', async () => {
  const redis = await startRedis(['--requirepass', 'right']);

  it('checks the URL up front, and never prints the password', () => {
    for (const bad of ['127.0.0.1:6379', 'http://127.0.0.1:6379', 'redis://', 'redis://h:6379/db', 'redis://h:6379/?x=1', 'redis://u:secret@h:99999']) {
      assert.throws(() => parseRegistryUrl(bad), (err: unknown) => err instanceof RegistryError && err.code === 'BAD_URL' && !err.message.includes('secret'), bad);
    }
    assert.equal(parseRegistryUrl('rediss://u:secret@h:6380/2').display, 'rediss://u:***@h:6380/2');
  });

  it('a Sentinel URL names the Sentinels and the primary, with credentials for the primary, never printed', () => {
    const url = parseRegistryUrl('rediss+sentinel://u:s%40cret@10.0.0.1:26380,[::1],sentinel-3.example:26381/my-primary');
    assert.deepEqual(url.sentinel, {
      nodes: [{ host: '10.0.0.1', port: 26380 }, { host: '::1', port: 26379 }, { host: 'sentinel-3.example', port: 26381 }],
      name: 'my-primary',
      username: 'u',
      password: 's@cret',
      tls: true,
    });
    assert.ok(!url.display.includes('cret'), url.display);
    assert.equal(parseRegistryUrl('redis+sentinel://:pw@h:1/m').sentinel?.password, 'pw');
    assert.equal(parseRegistryUrl('redis+sentinel://h:1/m').sentinel?.tls, false);
    for (const bad of ['redis+sentinel://h:1', 'redis+sentinel://h:1/', 'redis+sentinel://u:secret@h:99999/m', 'redis+sentinel://h:1,,h:2/m', 'redis+sentinel://h:1/m?x=1', 'redis+sentinel:///m']) {
      assert.throws(() => parseRegistryUrl(bad), (err: unknown) => err instanceof RegistryError && err.code === 'BAD_URL' && !err.message.includes('secret'), bad);
    }
  });

  it('no Sentinel answering is UNREACHABLE after the bound', async () => {
    const started = Date.now();
    await assert.rejects(
      SentinelConnection.open(parseRegistryUrl('redis+sentinel://127.0.0.1:1/m'), { connectTimeoutMs: 500, commandTimeoutMs: 500, logger: silentLogger(), name: 'test' }),
      code('UNREACHABLE'),
    );
    assert.ok(Date.now() - started < 3000);
  });

  it('a wrong or missing password is AUTH, at once', async () => {
    const started = Date.now();
    await assert.rejects(open(`redis://:wrong@127.0.0.1:${redis.port}`), code('AUTH'));
    await assert.rejects(open(`redis://127.0.0.1:${redis.port}`), code('AUTH'));
    assert.ok(Date.now() - started < 1500);
    const ok = await open(`redis://:right@127.0.0.1:${redis.port}`);
    await ok.close();
  });

  it('something that is not Redis is NOT_REDIS; nothing listening is UNREACHABLE after the bound', async () => {
    const http = createServer((socket) => socket.end('HTTP/1.1 400 Bad Request\r\n\r\n'));
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
    const { port } = http.address() as AddressInfo;
    await assert.rejects(open(`redis://127.0.0.1:${port}`), code('NOT_REDIS'));
    http.close();
    const nothing = await closedPort();
    const started = Date.now();
    await assert.rejects(open(`redis://127.0.0.1:${nothing}`, 700), code('UNREACHABLE'));
    const took = Date.now() - started;
    assert.ok(took >= 600 && took < 3000, `gave up after ${took} ms`);
  });
});

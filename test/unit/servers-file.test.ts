import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseServersConf, ServersFileError } from '../../broker/support/servers-file.js';
import { originForm, requestPolicy } from '../../broker/http/request-target.js';

describe('parseServersConf', () => {
  it('reads the classic format, numbers as numbers or strings, policy optional', () => {
    const text = JSON.stringify({
      backend_servers: [
        { ip: '127.0.0.1', port: 8001 },
        { ip: '127.0.0.1', port: '8002', policy: 222 },
        { host: 'localhost', port: 8003, policy: '333' },
        { ip: '::1', port: 8004 },
      ],
    });
    assert.deepEqual(parseServersConf(text), [
      { host: '127.0.0.1', port: 8001, policy: undefined },
      { host: '127.0.0.1', port: 8002, policy: 222 },
      { host: 'localhost', port: 8003, policy: 333 },
      { host: '::1', port: 8004, policy: undefined },
    ]);
  });

  it('allows one backend in two policies, not twice in one', () => {
    assert.equal(parseServersConf(JSON.stringify({ backend_servers: [{ ip: 'a', port: 1 }, { ip: 'a', port: 1, policy: 2 }] })).length, 2);
    assert.throws(() => parseServersConf(JSON.stringify({ backend_servers: [{ ip: 'a', port: 1 }, { ip: 'a', port: '1' }] })), /listed twice/);
  });

  it('names the file and the entry in every refusal', () => {
    const cases: Array<[string, RegExp]> = [
      ['not json', /conf: not JSON/],
      ['[]', /expected \{"backend_servers"/],
      ['{"servers":[]}', /expected \{"backend_servers"/],
      ['{"backend_servers":[1]}', /backend_servers\[0\]: expected an object/],
      ['{"backend_servers":[{"port":80}]}', /backend_servers\[0\]: "ip" must be an address/],
      ['{"backend_servers":[{"ip":"a b","port":80}]}', /"ip" is not an address/],
      ['{"backend_servers":[{"ip":"h","port":0}]}', /"port" must be 1-65535/],
      ['{"backend_servers":[{"ip":"h","port":80.5}]}', /"port" must be 1-65535/],
      ['{"backend_servers":[{"ip":"h","port":80,"policy":-1}]}', /"policy" must be a whole number/],
    ];
    for (const [text, message] of cases) {
      assert.throws(() => parseServersConf(text, 'my.conf'), (err: unknown) => err instanceof ServersFileError && message.test(err.message) && err.message.startsWith('my.conf'));
    }
  });

  it('takes an empty list', () => {
    assert.deepEqual(parseServersConf('{"backend_servers":[]}'), []);
  });
});

describe('request target and policy', () => {
  it('keeps origin-form paths and reduces absolute-form URLs to their path', () => {
    assert.equal(originForm('/a/b?c=d'), '/a/b?c=d');
    assert.equal(originForm('http://example.com/x?y=1'), '/x?y=1');
    assert.equal(originForm('HTTP://example.com'), '/');
    for (const target of ['*', 'example.com:443', 'x', 'ftp://a/b', '']) assert.equal(originForm(target), undefined, target);
  });

  it('reads X-Privacy-Policy as a whole number, the default without it', () => {
    assert.equal(requestPolicy(undefined, 111), 111);
    assert.equal(requestPolicy(' 222 ', 111), 222);
    for (const bad of ['', 'abc', '1.5', '-1', '1, 2', '1'.repeat(16)]) assert.equal(requestPolicy(bad, 111), undefined, bad);
  });
});

describe('parseServersConf: TLS to backends', () => {
  it('reads "tls" and "servername"', () => {
    const text = JSON.stringify({ backend_servers: [{ ip: '127.0.0.1', port: 8443, tls: true, servername: 'api.example' }, { ip: '127.0.0.1', port: 8444, tls: true }, { ip: '127.0.0.1', port: 8001, tls: false }] });
    assert.deepEqual(parseServersConf(text), [
      { host: '127.0.0.1', port: 8443, policy: undefined, tls: true, servername: 'api.example' },
      { host: '127.0.0.1', port: 8444, policy: undefined, tls: true },
      { host: '127.0.0.1', port: 8001, policy: undefined },
    ]);
  });

  it('refuses a "tls" that is not a boolean, a servername that is no host name or comes without "tls": true', () => {
    const conf = (entry: object) => JSON.stringify({ backend_servers: [{ ip: '127.0.0.1', port: 8443, ...entry }] });
    assert.throws(() => parseServersConf(conf({ tls: 'yes' })), /backend_servers\[0\]: "tls" must be true or false/);
    assert.throws(() => parseServersConf(conf({ tls: true, servername: 'not a name' })), /"servername" must be a host name/);
    assert.throws(() => parseServersConf(conf({ tls: true, servername: '10.0.0.1' })), /"servername" must be a host name/);
    assert.throws(() => parseServersConf(conf({ servername: 'api.example' })), /"servername" needs "tls": true/);
  });
});

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { BROKER_DEFAULTS, OptionError, resolveBrokerOptions } from '../../broker/options.js';

describe('resolveBrokerOptions: HTTP', () => {
  it('leaves HTTP off by default and fills in its defaults', () => {
    const options = resolveBrokerOptions();
    assert.equal(options.httpPort, undefined);
    assert.equal(options.httpPolicy, BROKER_DEFAULTS.httpPolicy);
    assert.equal(options.adminPrefix, '/_broker/');
    assert.equal(options.healthPath, undefined, 'no path: the check asks for / (healthProbe)');
    assert.deepEqual(options.httpServers, []);
  });

  it('names the option that cannot work', () => {
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ httpPort: 65536 }, 'httpPort'],
      [{ httpServers: [{ host: '127.0.0.1', port: 8001 }] }, 'httpServers'],
      [{ httpPort: 0, httpServers: [{ host: '', port: 8001 }] }, 'httpServers[0].host'],
      [{ httpPort: 0, httpServers: [{ host: 'h', port: 0 }] }, 'httpServers[0].port'],
      [{ httpPort: 0, adminPrefix: '/_broker' }, 'adminPrefix'],
      [{ httpPort: 0, adminPrefix: '_broker/' }, 'adminPrefix'],
      [{ httpPort: 0, healthPath: 'health' }, 'healthPath'],
      [{ httpPort: 0, httpToken: '' }, 'httpToken'],
      [{ httpPort: 0, upstreamToken: 'has space' }, 'upstreamToken'],
      [{ httpPort: 0, httpMaxInflight: 0 }, 'httpMaxInflight'],
      [{ httpPort: 0, healthRise: 0 }, 'healthRise'],
      [{ httpPort: 0, upstreamConnections: 0 }, 'upstreamConnections'],
    ];
    for (const [input, option] of cases) {
      assert.throws(() => resolveBrokerOptions(input as never), (err: unknown) => err instanceof OptionError && err.option === option, option);
    }
  });

  it('accepts a full HTTP set-up', () => {
    const options = resolveBrokerOptions({
      httpPort: 0,
      httpServers: [{ host: '127.0.0.1', port: 8001 }, { host: '::1', port: 8002, policy: 222 }],
      httpToken: 't',
      upstreamToken: 'u',
      adminPrefix: '/ops/broker/',
      healthIntervalMs: 0,
    });
    assert.equal(options.httpServers.length, 2);
    assert.equal(options.adminPrefix, '/ops/broker/');
  });
});

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { healthProbe } from '../../broker/http/health.js';

describe('healthProbe', () => {
  it('without --health-path: asks for / and passes any status below 500 (a stock nginx site)', () => {
    const probe = healthProbe(undefined);
    assert.equal(probe.path, '/');
    for (const status of [200, 301, 403, 404]) assert.equal(probe.passes(status), true, String(status));
    for (const status of [500, 502, 503]) assert.equal(probe.passes(status), false, String(status));
  });

  it('with --health-path: asks for it and passes 2xx and 3xx only', () => {
    const probe = healthProbe('/health');
    assert.equal(probe.path, '/health');
    for (const status of [200, 204, 302]) assert.equal(probe.passes(status), true, String(status));
    for (const status of [403, 404, 500]) assert.equal(probe.passes(status), false, String(status));
  });

  it('a 404 on a set path names the flag to change', () => {
    assert.match(healthProbe('/health').explain(404), /--health-path/);
    assert.doesNotMatch(healthProbe('/health').explain(500), /--health-path/);
  });
});

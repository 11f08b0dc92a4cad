/**
 * The pure parts of the upgrade path: which Upgrade tokens are proxied as upgrades, raw
 * response heads, the open-tunnel table and the --workers merge of upgrade figures.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { rawError, rawHead } from '../../broker/http/raw-response.js';
import { mergeUpgradeFigures, UpgradeCounters } from '../../broker/http/upgrade-counters.js';
import { upgradeToken } from '../../broker/http/upgrades.js';
import { matchesRequest, resolveInterceptors } from '../../broker/hooks/check.js';

describe('upgrade requests', () => {
  it('only websocket is proxied as an upgrade; other tokens go as plain requests', () => {
    assert.equal(upgradeToken('websocket'), 'websocket');
    assert.equal(upgradeToken('WebSocket'), 'WebSocket');
    assert.equal(upgradeToken(' websocket , h2c'), 'websocket');
    for (const other of ['h2c', 'TLS/1.0', 'websocket2', 'h2c, websocket', '', undefined]) assert.equal(upgradeToken(other), undefined, String(other));
  });

  it('raw heads: status line, headers in order, the empty line; errors close and carry the request id', () => {
    assert.equal(rawHead(101, 'Switching Protocols', ['Upgrade', 'websocket', 'Connection', 'Upgrade']), 'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n');
    assert.equal(rawHead(403, undefined, []), 'HTTP/1.1 403 Forbidden\r\n\r\n');
    const error = rawError('NO_SERVER', 'none', 'id-1');
    assert.match(error, /^HTTP\/1\.1 503 Service Unavailable\r\n/);
    assert.match(error, /\r\nX-Request-ID: id-1\r\n/);
    assert.match(error, /\r\nConnection: close\r\n\r\n\{"code":"NO_SERVER","message":"none","requestId":"id-1"\}$/);
    const body = error.slice(error.indexOf('\r\n\r\n') + 4);
    assert.match(error, new RegExp(`Content-Length: ${Buffer.byteLength(body)}\r\n`));
  });

  it('the open table holds only open tunnels, by policy and backend', () => {
    const c = new UpgradeCounters();
    c.opened(111, '100');
    c.opened(111, '100');
    c.opened(222, '200');
    assert.equal(c.open, 3);
    assert.deepEqual([...c.openByServer()], [{ policy: 111, server: '100', open: 2 }, { policy: 222, server: '200', open: 1 }]);
    c.closedOne(111, '100');
    c.closedOne(111, '100');
    c.closedOne(222, '200');
    assert.equal(c.open, 0);
    assert.deepEqual([...c.openByServer()], []);
    assert.equal(c.totals.upgraded, 3);
    assert.equal(c.totals.closed, 3);
  });

  it('the --workers merge adds totals, refusals by code and open tunnels per policy and backend', () => {
    const one = new UpgradeCounters();
    const two = new UpgradeCounters();
    one.opened(111, '100');
    two.opened(111, '100');
    two.opened(111, '300');
    one.refused('NO_SERVER');
    two.refused('NO_SERVER');
    two.refused('UNAUTHORIZED');
    one.totals.bytesToBackend = 10;
    two.totals.bytesToClient = 5;
    const merged = mergeUpgradeFigures([one.snapshot(), two.snapshot()]);
    assert.equal(merged.totals.upgraded, 3);
    assert.deepEqual(merged.totals.refused, { NO_SERVER: 2, UNAUTHORIZED: 1 });
    assert.equal(merged.totals.bytesToBackend, 10);
    assert.equal(merged.totals.bytesToClient, 5);
    assert.deepEqual(merged.open, [{ policy: 111, server: '100', open: 2 }, { policy: 111, server: '300', open: 1 }]);
    // A snapshot is a copy: later counting does not change it.
    const snap = one.snapshot();
    one.refused('NO_SERVER');
    assert.equal(snap.totals.refused.NO_SERVER, 1);
  });

  it('interceptors capture upgrade requests only with match.upgrades: true', () => {
    const [plain, all, upgrades] = resolveInterceptors([
      { name: 'plain', onRequest() {} },
      { name: 'all', match: { upgrades: false }, onRequest() {} },
      { name: 'upgrades', match: { upgrades: true, policies: [111] }, onRequest() {} },
    ]);
    assert.equal(matchesRequest(plain!, 'GET', '/', 111, true), false);
    assert.equal(matchesRequest(all!, 'GET', '/', 111, true), false);
    assert.equal(matchesRequest(upgrades!, 'GET', '/', 111, true), true);
    assert.equal(matchesRequest(upgrades!, 'GET', '/', 222, true), false);
    assert.equal(matchesRequest(plain!, 'GET', '/', 111, false), true);
    assert.throws(() => resolveInterceptors([{ name: 'bad', match: { upgrades: 'yes' as unknown as boolean }, onRequest() {} }]), /match\.upgrades must be true or false/);
  });
});

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { connectionTokens, forwardRequestHeaders, forwardResponseHeaders, type ForwardSettings } from '../../broker/http/headers.js';

const VIA = '1.1 policy-broker-0123456789abcdef';
const plain: ForwardSettings = { upstreamAuthorization: undefined, dropClientAuthorization: false, forwardedProto: 'http', via: VIA, trustForwarded: false };

/** The pairs of a flat header list, lower-cased names. */
function pairs(flat: readonly string[]): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  for (let i = 0; i < flat.length; i += 2) out.push([flat[i]!.toLowerCase(), flat[i + 1]!]);
  return out;
}

function forwarded(raw: string[], settings = plain, http11 = true) {
  const head = forwardRequestHeaders(raw, '192.0.2.7', http11, settings);
  assert.ok(!('bad' in head), `refused: ${'bad' in head ? head.bad : ''}`);
  return head;
}

describe('forwardRequestHeaders', () => {
  it('keeps end-to-end headers in order and spelling, and adds X-Forwarded-* and X-Request-ID', () => {
    const head = forwarded(['Host', 'example.org', 'Accept', '*/*', 'X-Custom', 'a', 'x-custom', 'b']);
    assert.deepEqual(head.headers.slice(0, 8), ['Host', 'example.org', 'Accept', '*/*', 'X-Custom', 'a', 'x-custom', 'b']);
    const added = Object.fromEntries(pairs(head.headers.slice(8)));
    assert.deepEqual(Object.keys(added), ['x-forwarded-for', 'x-forwarded-proto', 'x-request-id', 'via', 'x-forwarded-host']);
    assert.equal(added.via, VIA);
    assert.equal(added['x-forwarded-for'], '192.0.2.7');
    assert.equal(added['x-forwarded-proto'], 'http');
    assert.equal(added['x-forwarded-host'], 'example.org');
    assert.match(head.requestId, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    assert.equal(added['x-request-id'], head.requestId);
    assert.equal(head.hasBody, false);
  });

  it('drops every hop-by-hop header, and those the Connection header names', () => {
    const head = forwarded([
      'Host', 'h', 'Connection', 'keep-alive, X-Private', 'connection', 'Upgrade', 'X-Private', 'secret', 'Keep-Alive', '300',
      'TE', 'trailers', 'Trailer', 'X-Sum', 'Upgrade', 'websocket', 'Proxy-Authorization', 'Basic x', 'Proxy-Connection', 'keep-alive',
      'Proxy-Authenticate', 'x', 'Expect', '100-continue', 'X-Kept', '1',
    ]);
    const names = pairs(head.headers).map(([name]) => name);
    for (const gone of ['connection', 'x-private', 'keep-alive', 'te', 'trailer', 'upgrade', 'proxy-authorization', 'proxy-connection', 'proxy-authenticate', 'expect']) {
      assert.ok(!names.includes(gone), `${gone} was forwarded`);
    }
    assert.ok(names.includes('x-kept'));
  });

  it('appends to X-Forwarded-For, replaces X-Forwarded-Proto and -Host', () => {
    const head = forwarded(['Host', 'h', 'X-Forwarded-For', '10.0.0.1', 'X-Forwarded-For', '10.0.0.2', 'X-Forwarded-Proto', 'https', 'X-Forwarded-Host', 'evil']);
    const all = pairs(head.headers);
    assert.deepEqual(all.filter(([n]) => n === 'x-forwarded-for'), [['x-forwarded-for', '10.0.0.1, 10.0.0.2, 192.0.2.7']]);
    assert.deepEqual(all.filter(([n]) => n === 'x-forwarded-proto'), [['x-forwarded-proto', 'http']]);
    assert.deepEqual(all.filter(([n]) => n === 'x-forwarded-host'), [['x-forwarded-host', 'h']]);
  });

  it('keeps X-Privacy-Policy and Host when the client lists them in Connection (end-to-end headers)', () => {
    const head = forwarded(['Host', 'h', 'Connection', 'X-Privacy-Policy, host, X-Gone', 'X-Privacy-Policy', '222', 'X-Gone', '1']);
    const all = pairs(head.headers);
    assert.deepEqual(all.filter(([n]) => n === 'x-privacy-policy'), [['x-privacy-policy', '222']]);
    assert.deepEqual(all.filter(([n]) => n === 'host'), [['host', 'h']]);
    assert.deepEqual(all.filter(([n]) => n === 'x-gone'), []);
  });

  it('removes Forwarded and X-Real-IP unless trustForwarded, and appends its Via entry to the client\'s', () => {
    const raw = ['Host', 'h', 'Forwarded', 'for=10.9.9.9', 'X-Real-IP', '10.9.9.9', 'Via', '1.0 edge'];
    const untrusted = pairs(forwarded(raw).headers);
    assert.deepEqual(untrusted.filter(([n]) => n === 'forwarded' || n === 'x-real-ip'), []);
    assert.deepEqual(untrusted.filter(([n]) => n === 'via'), [['via', `1.0 edge, ${VIA}`]]);
    const trusted = pairs(forwarded(raw, { ...plain, trustForwarded: true }).headers);
    assert.deepEqual(trusted.filter(([n]) => n === 'forwarded' || n === 'x-real-ip'), [['forwarded', 'for=10.9.9.9'], ['x-real-ip', '10.9.9.9']]);
  });

  it('says X-Forwarded-Proto: https behind a TLS listener, whatever the client sent', () => {
    const head = forwarded(['Host', 'h', 'X-Forwarded-Proto', 'http'], { ...plain, forwardedProto: 'https' });
    assert.deepEqual(pairs(head.headers).filter(([n]) => n === 'x-forwarded-proto'), [['x-forwarded-proto', 'https']]);
  });

  it('keeps a sane X-Request-ID and replaces one that is not', () => {
    assert.equal(forwarded(['Host', 'h', 'X-Request-ID', 'abc-123']).requestId, 'abc-123');
    for (const bad of ['', 'has space', 'x'.repeat(201), 'caf\u00e9']) {
      const head = forwarded(['Host', 'h', 'X-Request-ID', bad]);
      assert.notEqual(head.requestId, bad);
      assert.equal(pairs(head.headers).filter(([n]) => n === 'x-request-id').length, 1);
    }
  });

  it('reads the policy and Authorization headers on the way', () => {
    const head = forwarded(['Host', 'h', 'X-Privacy-Policy', '222', 'Authorization', 'Bearer t']);
    assert.equal(head.policy, '222');
    assert.equal(head.authorization, 'Bearer t');
    assert.ok(pairs(head.headers).some(([n, v]) => n === 'authorization' && v === 'Bearer t'));
    assert.equal(forwarded(['Host', 'h', 'X-Privacy-Policy', '1', 'x-privacy-policy', '2']).policy, '1, 2');
  });

  it('replaces or drops the client Authorization when the broker has tokens', () => {
    const upstream = forwarded(['Host', 'h', 'Authorization', 'Bearer client'], { ...plain, upstreamAuthorization: 'Bearer up', dropClientAuthorization: true });
    assert.deepEqual(pairs(upstream.headers).filter(([n]) => n === 'authorization'), [['authorization', 'Bearer up']]);
    const dropped = forwarded(['Host', 'h', 'Authorization', 'Bearer client'], { ...plain, dropClientAuthorization: true });
    assert.deepEqual(pairs(dropped.headers).filter(([n]) => n === 'authorization'), []);
  });

  it('tells whether there is a body', () => {
    assert.equal(forwarded(['Host', 'h', 'Content-Length', '0']).hasBody, false);
    assert.equal(forwarded(['Host', 'h', 'Content-Length', '5']).hasBody, true);
    const chunked = forwarded(['Host', 'h', 'Transfer-Encoding', 'Chunked']);
    assert.equal(chunked.hasBody, true);
    assert.ok(!pairs(chunked.headers).some(([n]) => n === 'transfer-encoding'), 'Transfer-Encoding is hop-by-hop');
  });

  it('refuses several Host headers, none on HTTP/1.1, and codings other than chunked', () => {
    const refuse = (raw: string[], http11 = true) => {
      const head = forwardRequestHeaders(raw, '192.0.2.7', http11, plain);
      assert.ok('bad' in head, `accepted ${JSON.stringify(raw)}`);
    };
    refuse(['Host', 'a', 'host', 'b']);
    refuse([]);
    refuse(['Host', 'h', 'Transfer-Encoding', 'gzip, chunked']);
    refuse(['Host', 'h', 'Transfer-Encoding', 'chunked'], false);
    const h10 = forwardRequestHeaders([], '192.0.2.7', false, plain);
    assert.ok(!('bad' in h10), 'HTTP/1.0 needs no Host');
  });

  it('never forwards a hop-by-hop header, whatever the input', () => {
    const name = fc.constantFrom('Connection', 'Keep-Alive', 'TE', 'Trailer', 'Transfer-Encoding', 'Upgrade', 'Proxy-Authorization', 'X-A', 'X-B', 'Accept');
    fc.assert(
      fc.property(fc.array(fc.tuple(name, fc.constantFrom('x-a', 'close', 'keep-alive, X-B', 'v')), { maxLength: 12 }), (list) => {
        const raw = ['Host', 'h', ...list.flat()].filter((_, i, all) => !(all[i - (i % 2)] === 'Transfer-Encoding'));
        const head = forwardRequestHeaders(raw, '192.0.2.7', true, plain);
        if ('bad' in head) return;
        const listed = new Set(list.filter(([n]) => n === 'Connection').flatMap(([, v]) => connectionTokens(v)));
        for (const [n] of pairs(head.headers)) {
          assert.ok(!['connection', 'keep-alive', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'proxy-authorization'].includes(n), n);
          assert.ok(!listed.has(n), `${n} was named by Connection`);
        }
      }),
    );
  });
});

describe('forwardResponseHeaders', () => {
  it('drops hop-by-hop headers, keeps the rest as raw bytes say, and sets X-Request-ID', () => {
    const raw = ['Content-Type', 'text/plain', 'Connection', 'close, X-Hop', 'X-Hop', '1', 'Keep-Alive', 'timeout=5', 'Transfer-Encoding', 'chunked',
      'Set-Cookie', 'a=1', 'Set-Cookie', 'b=2', 'X-Request-ID', 'theirs', 'Upgrade', 'h2c', 'X-Name', 'caf\u00e9'].map((s) => Buffer.from(s, 'latin1'));
    assert.deepEqual(forwardResponseHeaders(raw, 'ours'), [
      'Content-Type', 'text/plain', 'Set-Cookie', 'a=1', 'Set-Cookie', 'b=2', 'X-Name', 'caf\u00e9', 'x-request-id', 'ours',
    ]);
  });

  it('drops exactly the hop-by-hop headers and those Connection names, in any spelling', () => {
    const hop = ['connection', 'keep-alive', 'proxy-connection', 'proxy-authenticate', 'proxy-authorization', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'x-request-id'];
    const names = [...hop, 'x-hop', 'x-req', 'content-type', 'date', 'set-cookie', 'x-a-header-longer-than-the-rest'];
    const spelling = (n: string) => fc.constantFrom(n, n.toUpperCase(), n.replace(/(^|-)\w/g, (c) => c.toUpperCase()));
    const header = fc.tuple(fc.constantFrom(...names).chain(spelling), fc.constantFrom('v', 'keep-alive', 'close', 'X-Hop', 'close, x-hop'));
    fc.assert(
      fc.property(fc.array(header, { maxLength: 12 }), (list) => {
        const out = pairs(forwardResponseHeaders(list.flat().map((s) => Buffer.from(s, 'latin1')), 'ours'));
        const listed = new Set(list.filter(([n]) => n.toLowerCase() === 'connection').flatMap(([, v]) => connectionTokens(v)));
        const kept = list.filter(([n]) => !hop.includes(n.toLowerCase()) && !listed.has(n.toLowerCase())).map(([n, v]) => [n.toLowerCase(), v]);
        assert.deepEqual(out, [...kept, ['x-request-id', 'ours']]);
      }),
    );
  });
});

describe('connectionTokens', () => {
  it('lists the named headers, lower-cased, without close and keep-alive', () => {
    assert.deepEqual(connectionTokens(' Keep-Alive , X-A,close,, x-b '), ['x-a', 'x-b']);
  });
});

/**
 * HTTP interceptors end to end, in this process: a broker with hooks, and backends written in
 * the test that report what they received.
 */
import assert from 'node:assert/strict';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { gunzipSync, gzipSync } from 'node:zlib';
import { request } from 'undici';
import { createBroker, type Broker } from '../../broker/broker.js';
import type { Interceptor } from '../../broker/hooks/interceptor.js';
import { httpBackend, rawRequest, splitResponses } from '../helpers/http.js';

/** What a backend saw of one request. */
interface Seen {
  method: string;
  url: string;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

type Backend = Awaited<ReturnType<typeof httpBackend>> & { seen: Seen[] };

/** A backend that records each request and answers with `answer`, by default a JSON echo. */
async function backend(name: string, answer?: (req: IncomingMessage, res: ServerResponse, body: Buffer) => void): Promise<Backend> {
  const seen: Seen[] = [];
  const b = await httpBackend((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      seen.push({ method: req.method!, url: req.url!, headers: req.headers, body: body.toString() });
      if (answer !== undefined) return answer(req, res, body);
      res.setHeader('content-type', 'application/json');
      res.setHeader('etag', '"v1"');
      res.end(JSON.stringify({ backend: name, method: req.method, url: req.url, body: body.toString() }));
    });
  });
  return Object.assign(b, { seen });
}

async function call(origin: string, path: string, init: { method?: string; headers?: Record<string, string>; body?: string | Buffer } = {}) {
  const res = await request(`${origin}${path}`, { method: (init.method ?? 'GET') as 'GET', headers: init.headers, body: init.body });
  const body = await res.body.text();
  return { status: res.statusCode, headers: res.headers, body };
}

const SEARCH_HITS = { hits: { hits: [{ _id: 'a' }, { _id: 'b' }, { _id: 'c' }] } };

describe('HTTP interceptors', () => {
  let main: Backend;
  let other: Backend;
  let special: Backend;
  let broker: Broker;
  let origin: string;
  let pendingHold: (() => void) | undefined;

  const interceptors: Interceptor[] = [
    {
      name: 'inject',
      match: { path: /^\/inject/ },
      onRequest(ctx) {
        ctx.headers.set('x-injected', 'yes');
        ctx.query.set('added', '1');
        ctx.state.started = 'req';
      },
      onResponse(ctx) {
        ctx.headers.set('x-seen-state', String(ctx.state.started));
        ctx.status = 299;
      },
    },
    {
      name: 'rewrite-path',
      match: { path: /^\/old\//, methods: ['GET'] },
      onRequest(ctx) {
        ctx.path = ctx.path.replace('/old/', '/new/');
        ctx.method = 'POST';
      },
    },
    {
      name: 'body-in',
      match: { path: /^\/upload$/ },
      bufferRequest: { maxBytes: 64 },
      onRequest(ctx) {
        ctx.setBody(ctx.body!.toString().toUpperCase() + '!');
      },
    },
    {
      name: 'rerank',
      match: { path: /^\/[^/]+\/_search$/, methods: ['GET', 'POST'] },
      bufferResponse: { maxBytes: 1 << 16, onOverflow: 'passthrough' },
      async onResponse(ctx) {
        const r = JSON.parse(ctx.body!.toString());
        r.hits.hits.reverse();
        ctx.setBody(JSON.stringify(r));
      },
    },
    {
      name: 'reader',
      match: { path: /^\/read\// },
      bufferResponse: { maxBytes: 100, onOverflow: 'passthrough' },
      onResponse(ctx) {
        ctx.headers.set('x-body-length', String(ctx.body!.length));
      },
    },
    {
      name: 'strict',
      match: { path: /^\/strict\// },
      bufferResponse: { maxBytes: 100, onOverflow: 'error' },
      onResponse(ctx) {
        ctx.setBody('small');
      },
    },
    {
      name: 'maintenance',
      match: { path: /^\/maintenance/ },
      onRequest(ctx) {
        ctx.respond(503, { 'retry-after': '60', 'content-type': 'text/plain' }, 'down for maintenance');
      },
    },
    {
      name: 'to-special',
      match: { path: /^\/special/ },
      onRequest(ctx) {
        ctx.policy = 333;
      },
    },
    { name: 'throws-closed', match: { path: /^\/fail\/closed$/ }, onRequest() { throw new Error('bad hook'); } },
    { name: 'throws-open', match: { path: /^\/fail\/open$/ }, failMode: 'open', onRequest(ctx) { ctx.headers.set('x-never', '1'); throw new Error('bad hook'); } },
    { name: 'slow-closed', match: { path: /^\/slow\/closed$/ }, timeoutMs: 50, onResponse: () => new Promise<void>(() => undefined) },
    {
      name: 'slow-open',
      match: { path: /^\/slow\/open$/ },
      timeoutMs: 50,
      failMode: 'open',
      bufferResponse: { maxBytes: 1000 },
      onResponse: (ctx) =>
        new Promise<void>((resolve) => {
          ctx.setBody('too late');
          pendingHold = resolve;
        }),
    },
    {
      name: 'pipeline',
      match: { path: /^\/pipe\// },
      bufferResponse: { maxBytes: 1000 },
      // The first request's hook takes longest: answers must still come in order.
      async onResponse(ctx) {
        const n = Number(ctx.request.path.split('/')[2]);
        await new Promise((resolve) => setTimeout(resolve, (3 - n) * 15));
        ctx.setBody(`answer ${n}`);
      },
    },
  ];

  before(async () => {
    main = await backend('main', (req, res, body) => {
      const url = req.url!;
      if (url.startsWith('/read/gzip') || url.startsWith('/idx/_search') && req.headers['x-gzip'] === '1') {
        res.writeHead(200, { 'content-type': 'application/json', 'content-encoding': 'gzip', etag: '"z"' });
        return res.end(gzipSync(JSON.stringify(SEARCH_HITS)));
      }
      if (url.startsWith('/idx/_search')) {
        res.writeHead(200, { 'content-type': 'application/json', etag: '"s"' });
        return res.end(JSON.stringify(SEARCH_HITS));
      }
      if (url.startsWith('/read/big') || url.startsWith('/strict/big')) return res.end('x'.repeat(5000));
      if (url.startsWith('/read/chunked')) {
        res.write('y'.repeat(300));
        return setTimeout(() => res.end('z'.repeat(300)), 5);
      }
      if (url.endsWith('/204')) return res.writeHead(204).end();
      if (url.endsWith('/304')) return res.writeHead(304, { etag: '"v"' }).end();
      res.setHeader('content-type', 'application/json');
      res.setHeader('etag', '"v1"');
      res.end(JSON.stringify({ backend: 'main', method: req.method, url, body: body.toString(), injected: req.headers['x-injected'] ?? null }));
    });
    other = await backend('other');
    special = await backend('special');
    broker = createBroker({
      port: 0,
      httpPort: 0,
      healthIntervalMs: 0,
      httpServers: [
        { host: '127.0.0.1', port: main.port, policy: 111 },
        { host: '127.0.0.1', port: special.port, policy: 333 },
      ],
      interceptors,
    });
    await broker.listen();
    origin = `http://127.0.0.1:${broker.httpAddress()!.port}`;
  });

  after(async () => {
    await broker.close();
    await Promise.all([main.close(), other.close(), special.close()]);
  });

  const counts = (name: string) => broker.interceptors!.counters.of(name);

  it('onRequest changes headers and query, keeps state for onResponse, which changes status and headers (body streamed)', async () => {
    const r = await call(origin, '/inject?a=b');
    assert.equal(r.status, 299);
    assert.equal(r.headers['x-seen-state'], 'req');
    const body = JSON.parse(r.body);
    assert.equal(body.url, '/inject?a=b&added=1');
    assert.equal(body.injected, 'yes');
  });

  it('onRequest changes method and path; an untouched query keeps its bytes', async () => {
    const r = await call(origin, '/old/thing?q=a%20b+c');
    const body = JSON.parse(r.body);
    assert.deepEqual([body.method, body.url], ['POST', '/new/thing?q=a%20b+c']);
  });

  it('passes requests no interceptor captures untouched', async () => {
    const r = await call(origin, '/plain');
    assert.equal(r.status, 200);
    assert.equal(r.headers.etag, '"v1"');
    assert.equal(JSON.parse(r.body).injected, null);
  });

  it('bufferRequest: the body is rewritten with its length; over maxBytes is 413 (announced or chunked)', async () => {
    const r = await call(origin, '/upload', { method: 'POST', body: 'hello' });
    assert.equal(JSON.parse(r.body).body, 'HELLO!');
    const seen = main.seen.at(-1)!;
    assert.equal(seen.headers['content-length'], '6');
    assert.equal(seen.headers['transfer-encoding'], undefined);
    const big = await call(origin, '/upload', { method: 'POST', body: 'x'.repeat(100) });
    assert.equal(big.status, 413);
    assert.equal(JSON.parse(big.body).code, 'PAYLOAD_TOO_LARGE');
    const raw = await rawRequest(broker.httpAddress()!.port, `POST /upload HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n50\r\n${'y'.repeat(80)}\r\n0\r\n\r\n`, { until: (t) => t.includes('}') });
    assert.equal(splitResponses(raw.text)[0]?.status, 413);
    assert.ok(counts('body-in').overflows >= 2);
  });

  it('bufferResponse: the NBoost re-rank reverses the hits; length right, ETag gone', async () => {
    const r = await call(origin, '/idx/_search', { method: 'POST', body: '{"query":{}}' });
    assert.deepEqual(JSON.parse(r.body).hits.hits.map((h: { _id: string }) => h._id), ['c', 'b', 'a']);
    assert.equal(r.headers['content-length'], String(Buffer.byteLength(r.body)));
    assert.equal(r.headers.etag, undefined);
  });

  it('gzip: the hook reads the decoded body; a changed body goes out plain, an unchanged one as it came', async () => {
    const r = await call(origin, '/idx/_search', { headers: { 'x-gzip': '1' } });
    assert.equal(r.headers['content-encoding'], undefined);
    assert.deepEqual(JSON.parse(r.body).hits.hits.map((h: { _id: string }) => h._id), ['c', 'b', 'a']);
    const res = await request(`${origin}/read/gzip`);
    const bytes = Buffer.from(await res.body.arrayBuffer());
    assert.equal(res.headers['content-encoding'], 'gzip');
    assert.equal(res.headers.etag, '"z"');
    assert.equal(res.headers['x-body-length'], String(JSON.stringify(SEARCH_HITS).length));
    assert.equal(gunzipSync(bytes).toString(), JSON.stringify(SEARCH_HITS));
    assert.equal(Number(res.headers['content-length']), bytes.length);
  });

  it('response over maxBytes: passthrough streams it unchanged, or 502 per interceptor', async () => {
    const passed = await call(origin, '/read/big');
    assert.deepEqual([passed.status, passed.body.length, passed.headers['x-body-length']], [200, 5000, undefined]);
    const chunked = await call(origin, '/read/chunked');
    assert.equal(chunked.body, 'y'.repeat(300) + 'z'.repeat(300));
    const refused = await call(origin, '/strict/big');
    assert.equal(refused.status, 502);
    assert.equal(JSON.parse(refused.body).code, 'BAD_GATEWAY');
    assert.ok(counts('reader').overflows >= 2);
    assert.equal(counts('strict').overflows, 1);
  });

  it('HEAD, 204 and 304 through a buffering hook carry no body; the body hook is not called for them', async () => {
    const calls = counts('reader').calls;
    const head = await call(origin, '/read/x', { method: 'HEAD' });
    assert.deepEqual([head.status, head.body, head.headers['x-body-length']], [200, '', undefined]);
    assert.equal(counts('reader').calls, calls);
    const empty = await call(origin, '/strict/204');
    assert.deepEqual([empty.status, empty.body, empty.headers['content-length']], [204, '', undefined]);
    const notModified = await call(origin, '/strict/304');
    assert.deepEqual([notModified.status, notModified.body], [304, '']);
    assert.equal(notModified.headers.etag, '"v"');
  });

  it('ctx.respond answers without a backend', async () => {
    const before = main.seen.length;
    const r = await call(origin, '/maintenance/now', { headers: { 'x-privacy-policy': '999' } });
    assert.deepEqual([r.status, r.body, r.headers['retry-after'], r.headers['content-length']], [503, 'down for maintenance', '60', '20']);
    assert.ok(typeof r.headers['x-request-id'] === 'string');
    assert.equal(main.seen.length, before);
    assert.equal(counts('maintenance').answered, 1);
  });

  it('a policy change sends the request to the new policy\'s servers only', async () => {
    const before = main.seen.length;
    const r = await call(origin, '/special/x');
    assert.equal(JSON.parse(r.body).backend, 'special');
    assert.equal(main.seen.length, before);
    assert.equal(counts('to-special').policyChanges, 1);
  });

  it('a throwing hook: fail-closed answers 502 HOOK_FAILED, fail-open passes the original', async () => {
    const closed = await call(origin, '/fail/closed');
    assert.equal(closed.status, 502);
    assert.equal(JSON.parse(closed.body).code, 'HOOK_FAILED');
    assert.match(JSON.parse(closed.body).message, /throws-closed failed: bad hook/);
    const open = await call(origin, '/fail/open');
    assert.equal(open.status, 200);
    assert.equal(JSON.parse(open.body).url, '/fail/open');
    assert.equal(main.seen.at(-1)!.headers['x-never'], undefined);
    assert.equal(counts('throws-open').errors, 1);
  });

  it('a hook over its timeout: fail-closed 502, fail-open the response as it came (late changes ignored)', async () => {
    const closed = await call(origin, '/slow/closed');
    assert.equal(closed.status, 502);
    assert.match(JSON.parse(closed.body).message, /slow-closed did not finish within 50 ms/);
    const open = await call(origin, '/slow/open');
    assert.equal(open.status, 200);
    assert.equal(JSON.parse(open.body).url, '/slow/open');
    pendingHold?.();
    assert.equal(counts('slow-open').timeouts, 1);
    assert.equal(counts('slow-closed').failedClosed, 1);
  });

  it('pipelined requests through a buffering hook are answered in order', async () => {
    const port = broker.httpAddress()!.port;
    const requests = [1, 2, 3].map((n) => `GET /pipe/${n} HTTP/1.1\r\nHost: x\r\n\r\n`).join('');
    const raw = await rawRequest(port, requests, { until: (t) => splitResponses(t).length === 3 });
    assert.deepEqual(splitResponses(raw.text).map((r) => r.body), ['answer 1', 'answer 2', 'answer 3']);
  });
});

describe('HTTP interceptors and retries', () => {
  it('a request retried after a backend failure runs its hooks once', async () => {
    let calls = 0;
    const dead = await httpBackend((req) => req.socket.destroy());
    const alive = await backend('alive');
    const broker = createBroker({
      port: 0,
      httpPort: 0,
      healthIntervalMs: 0,
      algorithm: 'first',
      httpServers: [
        { host: '127.0.0.1', port: dead.port, policy: 111 },
        { host: '127.0.0.1', port: alive.port, policy: 111 },
      ],
      interceptors: [
        {
          name: 'once',
          bufferRequest: { maxBytes: 100 },
          bufferResponse: { maxBytes: 1000 },
          onRequest(ctx) {
            calls++;
            ctx.setBody('rewritten');
          },
          onResponse(ctx) {
            calls++;
            ctx.headers.set('x-hooked', '1');
          },
        },
      ],
    });
    await broker.listen();
    try {
      const r = await call(`http://127.0.0.1:${broker.httpAddress()!.port}`, '/x', { method: 'PUT', body: 'original' });
      assert.equal(r.status, 200, r.body);
      assert.equal(JSON.parse(r.body).body, 'rewritten', 'a buffered body can be sent again');
      assert.equal(r.headers['x-hooked'], '1');
      assert.equal(calls, 2);
      assert.equal(broker.http!.stats.rerouted, 1);
    } finally {
      await broker.close();
      await Promise.all([dead.close(), alive.close()]);
    }
  });
});

describe('HTTP interceptors: the framing is the broker\'s', () => {
  let backendServer: Awaited<ReturnType<typeof httpBackend>>;
  let broker: Broker;
  let port: number;
  /** The docs' re-ranking example (docs/hooks.md), here for every method. */
  const rerank: Interceptor = {
    name: 'rerank-search',
    match: { path: /^\/[^/]+\/_search$/ },
    bufferResponse: { maxBytes: 10 << 20, onOverflow: 'passthrough' },
    async onResponse(ctx) {
      const r = JSON.parse(ctx.body!.toString());
      r.hits.hits.reverse();
      ctx.setBody(JSON.stringify(r));
    },
  };
  const interceptors: Interceptor[] = [
    rerank,
    { name: 'header', match: { path: /^\/frame\/header/ }, onResponse: (ctx) => void ctx.headers.set('x-hooked', 'yes') },
    { name: 'short', match: { path: /^\/frame\/short/ }, onResponse: (ctx) => void ctx.headers.set('content-length', '2') },
    { name: 'two', match: { path: /^\/frame\/two/ }, onResponse: (ctx) => void ctx.headers.append('content-length', '3') },
    { name: 'te', match: { path: /^\/frame\/te/ }, onResponse: (ctx) => void ctx.headers.set('transfer-encoding', 'chunked') },
    {
      name: 'crlf',
      match: { path: /^\/frame\/crlf/ },
      onResponse(ctx) {
        // Past set(), which refuses it: straight into the array.
        (ctx.headers.raw as string[]).push('x-evil', 'a\r\nset-cookie: pwned=1');
      },
    },
  ];

  before(async () => {
    backendServer = await httpBackend((req, res) => {
      if (req.url!.endsWith('/_search')) {
        res.writeHead(200, { 'content-type': 'application/json' });
        return res.end(JSON.stringify(SEARCH_HITS));
      }
      if (req.url!.endsWith('/chunked')) {
        res.write('01234');
        return setTimeout(() => res.end('56789'), 5);
      }
      res.end('0123456789');
    });
    broker = createBroker({ port: 0, httpPort: 0, healthIntervalMs: 0, httpServers: [{ host: '127.0.0.1', port: backendServer.port, policy: 111 }], interceptors });
    await broker.listen();
    port = broker.httpAddress()!.port;
  });

  after(async () => {
    await broker.close();
    await backendServer.close();
  });

  /** Two requests for `path` on one kept-alive connection: the raw text and the responses. */
  async function twice(path: string): Promise<{ text: string; responses: ReturnType<typeof splitResponses> }> {
    const one = `GET ${path} HTTP/1.1\r\nHost: x\r\n\r\n`;
    const raw = await rawRequest(port, one + one, { until: (t) => splitResponses(t).length === 2 });
    return { text: raw.text, responses: splitResponses(raw.text) };
  }

  for (const [path, what] of [
    ['/frame/short', 'Content-Length: 2 on a 10-byte body'],
    ['/frame/two', 'a second Content-Length'],
    ['/frame/te', 'Transfer-Encoding: chunked beside Content-Length'],
    ['/frame/short/chunked', 'Content-Length: 2 on a chunked body'],
    ['/frame/te/chunked', 'Transfer-Encoding on a chunked body'],
    ['/frame/header', 'only another header'],
  ] as const) {
    it(`a header-only hook setting ${what}: one framing, the true one, and the next response intact`, async () => {
      const { text, responses } = await twice(path);
      assert.deepEqual(responses.map((r) => [r.status, r.body]), [[200, '0123456789'], [200, '0123456789']], text);
      for (const head of text.split('\r\n\r\n').filter((part) => part.startsWith('HTTP/1.1'))) {
        const lengths = head.match(/^content-length:/gim)?.length ?? 0;
        const chunked = /^transfer-encoding:/im.test(head);
        assert.ok(lengths + (chunked ? 1 : 0) === 1, `exactly one framing header: ${head}`);
        if (lengths === 1) assert.match(head, /^content-length: 10$/im);
      }
    });
  }

  it('a hook leaving CR LF in a header value: 502 HOOK_FAILED, reason "Bad Gateway", nothing injected', async () => {
    const raw = await rawRequest(port, 'GET /frame/crlf HTTP/1.1\r\nHost: x\r\n\r\n', { until: (t) => splitResponses(t).length === 1 });
    assert.match(raw.text, /^HTTP\/1\.1 502 Bad Gateway\r\n/);
    assert.doesNotMatch(raw.text, /pwned/);
    assert.equal(JSON.parse(splitResponses(raw.text)[0]!.body).code, 'HOOK_FAILED');
  });

  it('the docs\' re-ranking example: GET re-ranked, HEAD answered 200 without calling it', async () => {
    const get = await call(`http://127.0.0.1:${port}`, '/idx/_search');
    assert.deepEqual(JSON.parse(get.body).hits.hits.map((h: { _id: string }) => h._id), ['c', 'b', 'a']);
    const calls = broker.interceptors!.counters.of('rerank-search').calls;
    const head = await call(`http://127.0.0.1:${port}`, '/idx/_search', { method: 'HEAD' });
    assert.deepEqual([head.status, head.body], [200, '']);
    assert.equal(broker.interceptors!.counters.of('rerank-search').calls, calls);
  });
});

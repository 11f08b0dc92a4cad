#!/usr/bin/env node
/**
 * The Node HTTP proxies policy-broker is compared with, as a user would write them:
 *
 *   --kind minimal     node:http server + one undici Pool per backend, round-robin per
 *                      request, nothing else (hop-by-hop request headers dropped, as undici
 *                      refuses some of them).
 *   --kind http-proxy  node-http-proxy with a keep-alive agent, round-robin per request.
 *
 * Listens on 127.0.0.1:--port and prints {"ready":true,"port":N}.
 */
import http from 'node:http';
import { parseArgs } from 'node:util';
import httpProxy from 'http-proxy';
import { Pool } from 'undici';

const { values: args } = parseArgs({
  options: { kind: { type: 'string' }, port: { type: 'string', default: '0' }, backends: { type: 'string' } },
});
const backends = args.backends!.split(',').map(Number);
let next = 0;
const pick = (): number => {
  const i = next;
  next = (next + 1) % backends.length;
  return i;
};

let server: http.Server;
if (args.kind === 'minimal') {
  const pools = backends.map((port) => new Pool(`http://127.0.0.1:${port}`));
  const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'upgrade', 'proxy-connection', 'te', 'trailer']);
  server = http.createServer((req, res) => {
    const headers: Record<string, string | string[]> = {};
    for (const [name, value] of Object.entries(req.headers)) if (value !== undefined && !HOP_BY_HOP.has(name)) headers[name] = value;
    const hasBody = req.method !== 'GET' && req.method !== 'HEAD';
    pools[pick()]!.request({ method: req.method as 'GET', path: req.url!, headers, body: hasBody ? req : undefined }).then(
      ({ statusCode, headers: upstream, body }) => {
        const out: Record<string, string | string[]> = {};
        for (const [name, value] of Object.entries(upstream)) if (value !== undefined && !HOP_BY_HOP.has(name)) out[name] = value;
        res.writeHead(statusCode, out);
        body.pipe(res);
      },
      () => {
        res.writeHead(502).end();
      },
    );
  });
} else if (args.kind === 'http-proxy') {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });
  const proxy = httpProxy.createProxyServer({ agent });
  proxy.on('error', (_err, _req, res) => {
    if (res instanceof http.ServerResponse && !res.headersSent) res.writeHead(502).end();
  });
  server = http.createServer((req, res) => proxy.web(req, res, { target: `http://127.0.0.1:${backends[pick()]}` }));
} else {
  process.stderr.write(`http-peers: unknown --kind ${args.kind}\n`);
  process.exit(2);
}
server.keepAliveTimeout = 60_000;
server.listen(Number(args.port), '127.0.0.1', () => {
  const { port } = server.address() as { port: number };
  process.stdout.write(JSON.stringify({ ready: true, port }) + '\n');
});
process.on('SIGTERM', () => process.exit(0));

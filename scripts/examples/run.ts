/**
 * npm run example -- NAME: runs one interceptor example (scripts/examples/hooks/NAME.mjs) end to
 * end, as a user would: a real `policy-broker --plugin ...`, the backends the example needs
 * (started here), a few requests or packets with and without the hook, what changed, and a
 * last line of JSON for scripts and tests. Stops everything and exits by itself; exit 1 when
 * the example did not do what it shows.
 *
 *   search-rerank    NBoost-style re-rank of a fake search backend's hits
 *   inject-headers   headers added to requests and responses
 *   redact-policy    e-mail addresses and phone numbers masked for policy 222 only
 *   maintenance      a canned 503 for /billing/ while a flag file exists
 */
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { request } from 'undici';
import { BrokerClient } from '../../client/index.js';
import { REPO_ROOT, start, type Program } from '../lib/programs.js';

const EXAMPLES = ['search-rerank', 'inject-headers', 'redact-policy', 'maintenance'] as const;
type Example = (typeof EXAMPLES)[number];

const programs: Program[] = [];
const servers: Server[] = [];
const dir = mkdtempSync(path.join(tmpdir(), 'policy-broker-example-'));

/** The example's checks; the run fails when one does not hold. */
const problems: string[] = [];
function expect(ok: boolean, what: string): void {
  if (!ok) problems.push(what);
}

function pluginPath(name: Example): string {
  return path.join(REPO_ROOT, 'scripts', 'examples', 'hooks', `${name}.mjs`);
}

/** A backend on a free loopback port; it reads each request's body before `handle`. */
async function backend(handle: (req: IncomingMessage, res: ServerResponse, body: string) => void): Promise<number> {
  const server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8').on('data', (chunk: string) => (body += chunk));
    req.on('end', () => handle(req, res, body));
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

/** policy-broker with HTTP, the example's plugin, and `backendPort` as its policy-111 backend. */
async function httpBroker(name: Example, backendPort: number, env: Record<string, string> = {}): Promise<string> {
  const conf = path.join(dir, 'servers.conf');
  writeFileSync(conf, JSON.stringify({ backend_servers: [{ ip: '127.0.0.1', port: backendPort }] }));
  const broker = start('broker', ['--port', '0', '--http-port', '0', '--servers', conf, '--health-interval', '0', '--plugin', pluginPath(name)], { env });
  programs.push(broker);
  const ready = await broker.ready;
  console.log(`policy-broker --plugin scripts/examples/hooks/${name}.mjs: HTTP on 127.0.0.1:${ready.http.port as number}`);
  return `http://127.0.0.1:${ready.http.port as number}`;
}

async function call(url: string, init: { method?: 'GET' | 'POST'; body?: string } = {}) {
  const res = await request(url, { method: init.method ?? 'GET', body: init.body, headers: init.body === undefined ? {} : { 'content-type': 'application/json' } });
  return { status: res.statusCode, headers: res.headers, body: await res.body.text() };
}

// The examples

const CORPUS = [
  { id: 'd1', text: 'policy routing for packets' },
  { id: 'd2', text: 'how to bake bread at home' },
  { id: 'd3', text: 'privacy policy broker routes packets to servers' },
  { id: 'd4', text: 'servers and packets' },
  { id: 'd5', text: 'the broker keeps packets of each privacy policy apart' },
  { id: 'd6', text: 'gardening in spring' },
];

async function searchRerank(): Promise<Record<string, unknown>> {
  // A fake search engine: its "ranking" is the corpus order, cut to the size asked for.
  const sizes: number[] = [];
  const port = await backend((req, res, body) => {
    const search = JSON.parse(body || '{}');
    const size = Number.isInteger(search.size) ? search.size : 10;
    sizes.push(size);
    const hits = CORPUS.slice(0, size).map((doc, i) => ({ _id: doc.id, _score: CORPUS.length - i, _source: { text: doc.text } }));
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ took: 1, hits: { total: { value: CORPUS.length }, hits } }));
  });
  const origin = await httpBroker('search-rerank', port);
  const query = JSON.stringify({ query: { match: { text: 'privacy policy broker packets' } }, size: 3 });
  const direct = JSON.parse((await call(`http://127.0.0.1:${port}/docs/_search`, { method: 'POST', body: query })).body);
  const viaBroker = await call(`${origin}/docs/_search`, { method: 'POST', body: query });
  const reranked = JSON.parse(viaBroker.body);
  const askedFor = sizes.at(-1);
  const ids = (r: any) => r.hits.hits.map((h: any) => h._id);
  console.log(`search "privacy policy broker packets", size 3`);
  console.log(`  the search backend alone: ${ids(direct).join(', ')}`);
  console.log(`  through the broker:       ${ids(reranked).join(', ')} (asked the backend for ${askedFor}, re-ranked by term overlap)`);
  const other = await call(`${origin}/docs/_doc/d1`);
  expect(ids(reranked).join() === 'd3,d5,d1', 'the re-ranked hits are d3, d5, d1');
  expect(askedFor === 15, 'the backend was asked for 5 x 3 hits');
  expect(viaBroker.headers['x-reranked-by'] === 'search-rerank', 'the response says it was re-ranked');
  expect(other.status === 200 && other.headers['x-reranked-by'] === undefined, 'other paths pass through untouched');
  return { direct: ids(direct), reranked: ids(reranked), askedFor };
}

async function injectHeaders(): Promise<Record<string, unknown>> {
  const port = await backend((req, res) => {
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ broker: req.headers['x-broker'] ?? null, policy: req.headers['x-broker-policy'] ?? null }));
  });
  const origin = await httpBroker('inject-headers', port);
  const r = await call(`${origin}/whoami`);
  const seen = JSON.parse(r.body);
  console.log(`the backend saw: x-broker: ${seen.broker}, x-broker-policy: ${seen.policy}`);
  console.log(`the client got:  server-timing: ${String(r.headers['server-timing'])}`);
  expect(typeof seen.broker === 'string' && seen.policy === '111', 'the backend saw both headers');
  expect(/^backend;dur=\d+\.\d$/.test(String(r.headers['server-timing'])), 'the client got server-timing');
  return { backendSaw: seen, serverTiming: r.headers['server-timing'] };
}

async function redactPolicy(): Promise<Record<string, unknown>> {
  const broker = start('broker', ['--port', '0', '--plugin', pluginPath('redact-policy')]);
  programs.push(broker);
  const port = (await broker.ready).packet.port as number;
  console.log(`policy-broker --plugin scripts/examples/hooks/redact-policy.mjs: packets on 127.0.0.1:${port}`);
  // Echo servers: their reply is the payload as they received it.
  for (const [policy, id] of [[111, 100], [222, 200]]) {
    const pool = start('pool', ['--broker', `127.0.0.1:${port}`, '--policy', String(policy), '--id', String(id), '--handler', 'echo']);
    programs.push(pool);
    await pool.ready;
  }
  const client = await BrokerClient.connect({ port });
  const payload = 'call ann.lee@example.org or +44 20 7946 0958';
  const answers: Record<string, string> = {};
  try {
    for (const policy of [111, 222]) {
      const answer = (await client.send({ type: 0, srcid: 1, privPoliId: policy, payloadsize: payload.length, payload })) as { payload?: string };
      answers[policy] = String(answer.payload);
      console.log(`policy ${policy}: the server saw "${answers[policy]}"`);
    }
  } finally {
    client.close();
  }
  expect(answers[111] === payload, 'policy 111 is not touched');
  expect(answers[222] === 'call [email] or [phone]', 'policy 222 is redacted');
  return { sent: payload, policy111: answers[111], policy222: answers[222] };
}

async function maintenance(): Promise<Record<string, unknown>> {
  const flag = path.join(dir, 'maintenance');
  let asked = 0;
  const port = await backend((_req, res) => {
    asked++;
    res.end('billing ok');
  });
  const origin = await httpBroker('maintenance', port, { MAINTENANCE_FLAG: flag });
  const before = await call(`${origin}/billing/invoices`);
  writeFileSync(flag, '');
  const during = await call(`${origin}/billing/invoices`);
  const elsewhere = await call(`${origin}/shop`);
  rmSync(flag);
  const after = await call(`${origin}/billing/invoices`);
  console.log(`GET /billing/invoices: ${before.status}; with ${flag} present: ${during.status} retry-after ${String(during.headers['retry-after'])}; removed: ${after.status}`);
  console.log(`GET /shop during maintenance: ${elsewhere.status}`);
  expect(before.status === 200 && after.status === 200, 'billing answers normally without the flag');
  expect(during.status === 503 && during.headers['retry-after'] === '300', 'billing answers 503 with the flag');
  expect(elsewhere.status === 200, 'other paths are not affected');
  expect(asked === 3, 'the backend was not asked for billing during maintenance');
  return { before: before.status, during: during.status, after: after.status, elsewhere: elsewhere.status, backendAsked: asked };
}

const RUN: Record<Example, () => Promise<Record<string, unknown>>> = {
  'search-rerank': searchRerank,
  'inject-headers': injectHeaders,
  'redact-policy': redactPolicy,
  maintenance,
};

async function main(): Promise<number> {
  const name = process.argv[2] as Example;
  if (!EXAMPLES.includes(name)) {
    console.error(`usage: npm run example -- <${EXAMPLES.join('|')}>`);
    return 2;
  }
  if (!existsSync(pluginPath(name))) throw new Error(`missing ${pluginPath(name)}`);
  try {
    const result = await RUN[name]();
    for (const problem of problems) console.error(`example ${name}: expected: ${problem}`);
    console.log(JSON.stringify({ example: name, ok: problems.length === 0, ...result }));
    return problems.length === 0 ? 0 : 1;
  } finally {
    for (const program of programs.reverse()) await program.stop();
    for (const server of servers) server.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

process.exitCode = await main();

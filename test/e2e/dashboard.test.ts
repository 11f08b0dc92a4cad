/**
 * The live dashboard in real headless Chromium (Debian's chromium package, driven by
 * playwright-core): the page loads with no error (its Content-Security-Policy allows only its
 * own script and style), its numbers change as packets and HTTP requests flow, and settle on
 * exactly what /_broker/status reports and what the clients saw. A screenshot is saved under
 * test-output/. Without Chromium the test is skipped, or fails when CI is set.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import type { BrowserContext, Page } from 'playwright-core';
import { Pool } from 'undici';
import { sha1 } from '../helpers/classic.js';
import { clients, trackedLoad } from '../helpers/fault.js';
import { chromiumMissing, launchChromium } from '../helpers/chromium.js';
import { brokerStatus, get, httpBackend, startHttpBroker, startHttpPool, tempDir, waitFor, waitForLiveHttpServers, writeServersConf } from '../helpers/http.js';
import { REPO_ROOT, start, type Program } from '../helpers/programs.js';

const SCREENSHOT = path.join(REPO_ROOT, 'test-output', 'dashboard.png');
const missing = chromiumMissing;

/** What the page shows, read from its data attributes (raw numbers, not the formatted text). */
interface PageNumbers {
  updates: number;
  received: number;
  replied: number;
  errors: number;
  /** "policy/server" -> served, for packet servers and (prefixed "http:") HTTP backends. */
  served: Record<string, number>;
  /** "code@policy×count", one per row of the recent errors. */
  errorCodes: string[];
  /** Points of the longest line on the rate chart. */
  chartPoints: number;
  /** Per policy: its "HTTP responses" and "requests/s" chips. */
  httpReplied: Record<string, number>;
  httpRate: Record<string, number>;
  /** "policy/server" -> the packet rate column. */
  rates: Record<string, number>;
}

const READ_PAGE = `(() => {
  const num = (sel) => Number(document.querySelector(sel)?.dataset.value ?? NaN);
  const served = {};
  for (const row of document.querySelectorAll('section[data-policy] tr[data-server]')) {
    const policy = row.closest('section[data-policy]').dataset.policy;
    const key = (row.dataset.kind === 'http' ? 'http:' : '') + policy + '/' + row.dataset.server;
    served[key] = Number(row.querySelector('[data-field="served"]').dataset.value);
  }
  return {
    updates: Number(document.body.dataset.updates),
    received: num('#packets-received'),
    replied: num('#packets-replied'),
    errors: num('#packets-errors'),
    served,
    errorCodes: [...document.querySelectorAll('#errors-body tr[data-code]')].map((tr) => tr.dataset.code + '@' + tr.children[3].textContent + '×' + tr.children[4]?.dataset.count),
    chartPoints: Math.max(0, ...[...document.querySelectorAll('#chart-rate path')].map((p) => (p.getAttribute('d').match(/[ML]/g) || []).length)),
    httpReplied: Object.fromEntries([...document.querySelectorAll('section[data-policy]')].map((c) => [c.dataset.policy, Number(c.querySelector('[data-field="http-replied"]')?.dataset.value)])),
    httpRate: Object.fromEntries([...document.querySelectorAll('section[data-policy]')].map((c) => [c.dataset.policy, Number(c.querySelector('[data-field="http-rate"]')?.dataset.value)])),
    rates: Object.fromEntries([...document.querySelectorAll('section[data-policy] tr[data-kind="packet"][data-server]')].map((row) => [row.closest('section[data-policy]').dataset.policy + '/' + row.dataset.server, Number(row.querySelector('[data-field="rate"]').dataset.value)])),
  };
})()`;

const ROUNDS = 5;

function sumOf(values: Record<string, number>): number {
  return Object.values(values).reduce((a, b) => a + b, 0);
}

function readPage(page: Page): Promise<PageNumbers> {
  return page.evaluate(READ_PAGE) as Promise<PageNumbers>;
}

/** The served counts of /_broker/status, keyed like PageNumbers.served. */
function servedInStatus(status: any): Record<string, number> {
  const served: Record<string, number> = {};
  for (const p of status.policies) {
    for (const s of p.servers) served[`${p.policy}/${s.id}`] = s.served;
    for (const s of p.httpServers) served[`http:${p.policy}/${s.id ?? s.address}`] = s.served;
  }
  return served;
}

function launch(userDataDir: string): Promise<BrowserContext> {
  return launchChromium(userDataDir, { width: 1400, height: 1000 });
}

/**
 * Runs `body` with the programs it starts and a browser it may launch (a fresh profile), and
 * stops them all however it ends.
 */
async function withChromium(body: (programs: Program[], browser: () => Promise<BrowserContext>) => Promise<void>): Promise<void> {
  const programs: Program[] = [];
  const userDataDir = mkdtempSync(path.join(tmpdir(), 'pb-chromium-'));
  let context: BrowserContext | undefined;
  try {
    await body(programs, async () => (context = await launch(userDataDir)));
  } finally {
    await context?.close().catch(() => undefined);
    for (const program of programs.reverse()) await program.stop();
    rmSync(userDataDir, { recursive: true, force: true });
  }
}

/** The context's page, with the page errors and console errors it reports collected. */
async function openPage(context: BrowserContext): Promise<{ page: Page; problems: string[] }> {
  const page = context.pages()[0] ?? (await context.newPage());
  const problems: string[] = [];
  page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
  page.on('console', (msg) => {
    if (msg.type() === 'error') problems.push(`console error: ${msg.text()}`);
  });
  return { page, problems };
}

/** The worker rows of the page: worker id, pid and requests. */
const READ_WORKERS = `(() => ({
  hidden: document.querySelector('#workers').hidden,
  rows: [...document.querySelectorAll('#workers-body tr[data-worker]')].map((tr) => ({
    id: Number(tr.dataset.worker),
    pid: Number(tr.dataset.pid),
    requests: Number(tr.querySelector('[data-field="requests"]').dataset.value),
  })),
}))()`;

interface WorkerRows {
  hidden: boolean;
  rows: Array<{ id: number; pid: number; requests: number }>;
}

if (missing !== undefined && process.env.CI) {
  test('the dashboard test needs Chromium', () => assert.fail(`${missing}; CI is set, so this is a failure, not a skip`));
} else {
  test('the dashboard shows the policy groups and their servers, and its numbers follow the traffic and match /_broker/status', { skip: missing, timeout: 120_000 }, () =>
    withChromium(async (programs, browser) => {
      // The classic topology: 100 and 300 in policy 111, 200 and 400 in 222 (these also serve HTTP).
      const broker = await startHttpBroker();
      programs.push(broker.broker);
      const pool111 = start('pool', ['--broker', `127.0.0.1:${broker.port}`, '--policy', '111', '--ids', '100,300']);
      programs.push(pool111);
      const pool222 = await startHttpPool(broker.port, ['--policy', '222', '--ids', '200,400']);
      programs.push(pool222.pool);
      await pool111.ready;
      await waitForLiveHttpServers(broker.httpPort, 222, 2);

      const context = await browser();
      const { page, problems } = await openPage(context);
      const external: string[] = [];
      page.on('request', (req) => {
        if (!req.url().startsWith(broker.origin)) external.push(req.url());
      });
      await page.goto(`${broker.origin}/_broker/`);
      assert.equal(await page.title(), 'policy-broker');

      // Before any traffic: both groups and their four servers, nothing served.
      const idle = await waitFor('the first update with four servers', async () => {
        const shown = await readPage(page);
        return shown.updates >= 1 && Object.keys(shown.served).filter((k) => !k.startsWith('http:')).length === 4 ? shown : undefined;
      });
      assert.deepEqual(Object.keys(idle.served).filter((k) => !k.startsWith('http:')).sort(), ['111/100', '111/300', '222/200', '222/400']);
      assert.ok(Object.values(idle.served).every((n) => n === 0), JSON.stringify(idle.served));
      assert.equal(idle.replied, 0);
      assert.equal(((await page.evaluate(READ_WORKERS)) as WorkerRows).hidden, true, 'a single-process broker shows no workers card');

      // Traffic in rounds: packets to both policies (and, once, to a policy without servers),
      // HTTP requests to 222. After each round the page catches up by itself.
      const conns = await clients(broker.port, 2);
      const http = new Pool(broker.origin, { connections: 2 });
      const load = (policy: number, count: number, round: number) =>
        trackedLoad({ clients: conns, policy, count, concurrency: 8, expected: (payload) => sha1(payload), tag: `d${policy}-${round}` });
      const sent: Record<string, number> = {};
      let replies = 0;
      let previous = idle;
      for (let round = 0; round < ROUNDS; round++) {
        const [a, b, none] = await Promise.all([
          load(111, 120, round),
          load(222, 60, round),
          load(999, round === 2 ? 4 : 0, round),
          (async () => {
            for (let i = 0; i < 4; i++) {
              const res = await http.request({ path: '/api', method: 'GET', headers: { 'x-privacy-policy': '222' } });
              await res.body.dump();
              assert.equal(res.statusCode, 200);
            }
          })(),
        ]);
        assert.equal(a.replies + b.replies, 180, JSON.stringify({ a, b }));
        assert.equal(sumOf(none.errors), round === 2 ? 4 : 0);
        for (const [id, n] of Object.entries(a.byServer)) sent[`111/${id}`] = (sent[`111/${id}`] ?? 0) + n;
        for (const [id, n] of Object.entries(b.byServer)) sent[`222/${id}`] = (sent[`222/${id}`] ?? 0) + n;
        replies += 180;
        const shown = await waitFor(`the page to show round ${round + 1}`, async () => {
          const now = await readPage(page);
          return now.replied === replies ? now : undefined;
        });
        assert.ok(shown.updates > previous.updates);
        assert.ok(Object.entries(sent).every(([key, n]) => shown.served[key] === n), `served on the page ${JSON.stringify(shown.served)}, sent ${JSON.stringify(sent)}`);
        previous = shown;
        // A policy's chips count its HTTP requests too, not only its packets.
        if (round === 0) await waitFor('the requests/s chip of policy 222 to show the HTTP requests', async () => ((await readPage(page)).httpRate['222'] ?? 0) > 0);
      }
      // A page opened now shows each server's rate on its first paint (from the broker's samples,
      // not from two polls of its own): its later polls are refused, so it stays at that paint.
      const fresh = await context.newPage();
      let statusPolls = 0;
      await fresh.route('**/_broker/status', (route) => (++statusPolls === 1 ? route.continue() : route.abort()));
      await fresh.goto(`${broker.origin}/_broker/`);
      const first = await waitFor('the first paint of a new page', async () => {
        const now = await readPage(fresh);
        return now.updates === 1 ? now : undefined;
      });
      assert.equal(first.updates, 1);
      assert.ok(first.rates['111/100']! > 0 && first.rates['111/300']! > 0, `rates on the first paint: ${JSON.stringify(first.rates)}`);
      await fresh.close();
      await http.close();
      await Promise.all(conns.map((c) => c.close()));

      // Once the traffic stops, the page shows exactly the status page's numbers.
      const { shown, status } = await waitFor(
        'the page to match /_broker/status',
        async () => {
          const [now, current] = await Promise.all([readPage(page), brokerStatus(broker.httpPort)]);
          const same =
            now.received === current.packet.received &&
            now.replied === current.packet.replied &&
            now.errors === sumOf(current.packet.errors) &&
            JSON.stringify(Object.entries(now.served).sort()) === JSON.stringify(Object.entries(servedInStatus(current)).sort()) &&
            now.chartPoints >= ROUNDS &&
            now.httpReplied['222'] === current.policies.find((p: any) => p.policy === 222).http.replied;
          return same ? { shown: now, status: current } : undefined;
        },
        20_000,
      );
      assert.equal(shown.received, ROUNDS * 180 + 4);
      assert.equal(shown.replied, ROUNDS * 180);
      assert.equal(shown.errors, 4);
      assert.equal(shown.served['http:222/200']! + shown.served['http:222/400']!, ROUNDS * 4);
      // Four identical errors are one row with its count.
      assert.deepEqual(shown.errorCodes, ['NO_SERVER@999×4']);
      assert.equal(shown.httpReplied['222'], ROUNDS * 4);
      assert.equal(status.packet.errors.NO_SERVER, 4);
      // Round-robin: the spread bars are even within each policy.
      const shares = await page.locator('section[data-policy="111"] tr[data-kind="packet"] .pct').allTextContents();
      assert.deepEqual(shares, ['50%', '50%']);

      mkdirSync(path.dirname(SCREENSHOT), { recursive: true });
      await page.screenshot({ path: SCREENSHOT, fullPage: true });
      console.log(`# screenshot: ${path.relative(REPO_ROOT, SCREENSHOT)}`);

      // A server that leaves stays on the page as down for a while (data-down-hold-ms), then goes.
      const pool500 = start('pool', ['--broker', `127.0.0.1:${broker.port}`, '--policy', '111', '--ids', '500']);
      programs.push(pool500);
      await pool500.ready;
      const row500 = 'section[data-policy="111"] tr[data-kind="packet"][data-server="500"]';
      await waitFor('server 500 up on the page', async () => (await page.locator(`${row500} [data-field="state"]`).textContent().catch(() => null)) === 'up');
      await pool500.stop();
      await waitFor('server 500 gone from /_broker/status', async () => !(await brokerStatus(broker.httpPort)).policies.some((p: any) => p.servers.some((s: any) => s.id === 500)));
      await waitFor('server 500 shown as down', async () => (await page.locator(`${row500}[data-gone] [data-field="state"]`).textContent().catch(() => null)) === 'down');
      await page.evaluate(() => { document.body.dataset.downHoldMs = '300'; });
      await waitFor('server 500 off the page once its time is up', async () => (await page.locator(row500).count()) === 0);
      assert.deepEqual(Object.keys((await readPage(page)).served).filter((k) => k.startsWith('111/')).sort(), ['111/100', '111/300']);

      // The rate chart's value labels fit its margin, "100,000" too (the activity is made up here).
      const big = await context.newPage();
      await big.route('**/_broker/activity*', (route) => {
        const now = Date.now();
        const samples = route.request().url().includes('since=')
          ? []
          : Array.from({ length: 30 }, (_, i) => ({ t: now - (29 - i) * 1000, packets: { '111': { answered: 100_000, errors: 0, latencyMs: 1 } }, http: {}, servers: {} }));
        return route.fulfill({ contentType: 'application/json', body: JSON.stringify({ intervalMs: 1000, samples, errors: [] }) });
      });
      await big.goto(`${broker.origin}/_broker/`);
      const axis = await waitFor('the chart of 100,000 answers/s', async () => {
        const labels = (await big.evaluate(`[...document.querySelectorAll('#chart-rate text.axis')].map((t) => ({ text: t.textContent, x: t.getBBox().x }))`)) as Array<{ text: string; x: number }>;
        return labels.some((l) => l.text === '100,000') ? labels : undefined;
      });
      const clipped = axis.filter((l) => l.x < 0);
      assert.deepEqual(clipped, [], 'value labels drawn left of the chart');
      await big.close();
      assert.deepEqual(problems, []);
      assert.deepEqual(external, [], 'the page fetched something from elsewhere');
    }),
  );
  test('the recent decisions panel follows the trace as it is pushed: round-robin one packet at a time, pause, and the filters', { skip: missing, timeout: 120_000 }, () =>
    withChromium(async (programs, browser) => {
      const broker = await startHttpBroker();
      programs.push(broker.broker);
      const pool = start('pool', ['--broker', `127.0.0.1:${broker.port}`, '--policy', '111', '--ids', '100,300']);
      const pool222 = start('pool', ['--broker', `127.0.0.1:${broker.port}`, '--policy', '222', '--ids', '200']);
      programs.push(pool, pool222);
      await Promise.all([pool.ready, pool222.ready]);
      const context = await browser();
      const { page, problems } = await openPage(context);
      await page.goto(`${broker.origin}/_broker/`);
      await waitFor('the trace stream to be open', async () => (await brokerStatus(broker.httpPort)) && (await page.locator('#trace-state').textContent()) === 'trace off');
      // Switched on from the page (POST /_broker/trace); the stream tells the page.
      await page.click('#trace-toggle');
      await waitFor('the trace to be on', async () => (await page.locator('#trace-state').textContent()) === 'trace on');
      const rows = async (): Promise<Array<{ policy: number; server: string; outcome: string }>> =>
        page.evaluate(`[...document.querySelectorAll('#trace-body tr[data-kind]')].map((tr) => ({ policy: Number(tr.dataset.policy), server: tr.dataset.server, outcome: tr.dataset.outcome }))`) as Promise<any>;
      const events = async () => Number(await page.locator('#trace').getAttribute('data-events'));

      // Six packets, one at a time: each one appears, and the servers alternate.
      const [client] = await clients(broker.port, 1);
      const send = async (policy: number) => (await client!.send({ type: 0, srcid: 9, privPoliId: policy, payload: 'x' })) as { type: number; srcid: number };
      const repliedBy: string[] = [];
      for (let i = 1; i <= 6; i++) {
        const answer = await send(111);
        assert.equal(answer.type, 2);
        repliedBy.push(String(answer.srcid));
        await waitFor(`decision ${i} on the page`, async () => (await rows()).length === i);
      }
      const shown = (await rows()).reverse();
      assert.deepEqual(shown.map((r) => r.server), repliedBy, 'each row names the server that answered');
      // Each row names the client connection (address:port), not only its srcid: one connection here.
      const connections = (await page.evaluate(`[...document.querySelectorAll('#trace-body tr[data-kind]')].map((tr) => tr.dataset.connection)`)) as string[];
      assert.equal(new Set(connections).size, 1, JSON.stringify(connections));
      assert.match(connections[0]!, /^127\.0\.0\.1:\d+$/);
      assert.match((await page.locator('#trace-body tr[data-kind] td:nth-child(3)').first().textContent())!, /^127\.0\.0\.1:\d+ srcid 9/);
      assert.ok(shown.every((r, i) => r.policy === 111 && r.outcome === 'reply' && (i === 0 || r.server !== shown[i - 1]!.server)), `round-robin: ${JSON.stringify(shown)}`);

      // Filters: by server, then by policy.
      await page.selectOption('#trace-server', '100');
      assert.deepEqual([...new Set((await rows()).map((r) => r.server))], ['100']);
      assert.equal((await rows()).length, 3);
      await page.selectOption('#trace-server', '');
      assert.equal((await send(222)).type, 2);
      await waitFor('the policy 222 decision', async () => (await rows()).length === 7);
      await page.selectOption('#trace-policy', '222');
      assert.deepEqual(await rows(), [{ policy: 222, server: '200', outcome: 'reply' }]);
      await page.selectOption('#trace-policy', '');

      // Paused: decisions still arrive (counted) but the table holds still until resumed.
      await page.click('#trace-pause');
      const before = await events();
      for (let i = 0; i < 3; i++) assert.equal((await send(111)).type, 2);
      await waitFor('three decisions received while paused', async () => (await events()) === before + 3);
      assert.equal((await rows()).length, 7);
      assert.equal(await page.locator('#trace-note').textContent(), '3 new while paused');
      await page.click('#trace-pause');
      await waitFor('the table to catch up', async () => (await rows()).length === 10);

      // Switched off from the page: no more rows.
      await page.click('#trace-toggle');
      await waitFor('the trace to be off', async () => (await page.locator('#trace-state').textContent()) === 'trace off');
      assert.equal((await send(111)).type, 2);
      // On again for one more packet: the stream is in order, so once its decision is in, one
      // for the packet sent while off would be in too.
      await page.click('#trace-toggle');
      await waitFor('the trace to be on again', async () => (await page.locator('#trace-state').textContent()) === 'trace on');
      assert.equal((await send(111)).type, 2);
      await waitFor('the last decision', async () => (await rows()).length === 11);
      assert.equal(await events(), before + 4);
      await client!.close();
      assert.deepEqual(problems, []);
    }),
  );
  test('an HTTP-only broker (lab 3): Servers up counts its backends, no "no servers registered", and the HTTP tile counts proxied requests only', { skip: missing, timeout: 120_000 }, () =>
    withChromium(async (programs, browser) => {
      const backends = await Promise.all([0, 1].map(() => httpBackend((_req, res) => res.end('ok'))));
      const dir = tempDir('pb-dash-http-');
      try {
        const broker = await startHttpBroker(['--servers', writeServersConf(dir.dir, backends.map((b) => ({ port: b.port })))]);
        programs.push(broker.broker);
        const context = await browser();
        const { page, problems } = await openPage(context);
        await page.goto(`${broker.origin}/_broker/`);
        const number = async (selector: string) => Number(await page.locator(selector).getAttribute('data-value'));
        const updates = async () => Number(await page.evaluate('document.body.dataset.updates'));
        await waitFor('both backends counted up', async () => (await number('#servers-up')) === 2);
        assert.equal(await page.locator('#servers-up').textContent(), '2 / 2');
        assert.equal(await page.locator('section[data-policy] td.none:visible').count(), 0, 'no "no servers registered" line while backends serve');
        for (let i = 0; i < 5; i++) assert.equal((await get(`${broker.origin}/tile-${i}`)).status, 200);
        await waitFor('five proxied requests on the tile', async () => (await number('#http-requests')) === 5);
        // The page keeps polling /_broker/status; its own requests never count.
        const seen = await updates();
        await waitFor('three more polls', async () => (await updates()) >= seen + 3);
        assert.equal(await number('#http-requests'), 5);
        assert.deepEqual(problems, []);
      } finally {
        for (const backend of backends) await backend.close();
        dir.remove();
      }
    }),
  );

  test('with --workers the dashboard lists each worker process, with the figures of /_broker/status', { skip: missing, timeout: 120_000 }, () =>
    withChromium(async (programs, browser) => {
      const broker = await startHttpBroker(['--workers', '2']);
      programs.push(broker.broker);
      const pool = await startHttpPool(broker.port, ['--policy', '111', '--ids', '100,300']);
      programs.push(pool.pool);
      await waitForLiveHttpServers(broker.httpPort, 111, 2);
      const context = await browser();
      const { page, problems } = await openPage(context);
      await page.goto(`${broker.origin}/_broker/`);
      const http = new Pool(broker.origin, { connections: 4 });
      const REQUESTS = 40;
      await Promise.all(
        Array.from({ length: REQUESTS }, async () => {
          const res = await http.request({ path: '/api', method: 'GET' });
          await res.body.dump();
          assert.equal(res.statusCode, 200);
        }),
      );
      await http.close();
      // The workers report every 500 ms: wait until the page and the status page agree on every row.
      const { shown, status } = await waitFor(
        'the workers card to match /_broker/status',
        async () => {
          const [now, current] = await Promise.all([page.evaluate(READ_WORKERS) as Promise<WorkerRows>, brokerStatus(broker.httpPort)]);
          const expected = current.workers.map((w: any) => ({ id: w.id, pid: w.pid, requests: w.requests }));
          const total = expected.reduce((sum: number, w: { requests: number }) => sum + w.requests, 0);
          return total >= REQUESTS && JSON.stringify(now.rows) === JSON.stringify(expected) ? { shown: now, status: current } : undefined;
        },
        20_000,
      );
      assert.equal(shown.hidden, false);
      assert.equal(shown.rows.length, 2);
      assert.equal(new Set(shown.rows.map((r) => r.pid)).size, 2, 'two distinct worker processes');
      assert.ok(shown.rows.every((r) => r.pid !== status.pid), 'the workers are not the primary');
      assert.equal(await page.locator('#workers-count').textContent(), '2 of 2 listening');
      assert.deepEqual(problems, []);
    }),
  );
  test('with interceptors the dashboard shows each one with its counts from /_broker/status', { skip: missing, timeout: 120_000 }, () =>
    withChromium(async (programs, browser) => {
      const plugin = path.join(REPO_ROOT, 'scripts', 'examples', 'hooks', 'inject-headers.mjs');
      const broker = await startHttpBroker(['--plugin', plugin]);
      programs.push(broker.broker);
      const pool = await startHttpPool(broker.port, ['--policy', '111', '--ids', '100']);
      programs.push(pool.pool);
      await waitForLiveHttpServers(broker.httpPort, 111, 1);
      const context = await browser();
      const { page, problems } = await openPage(context);
      await page.goto(`${broker.origin}/_broker/`);
      const http = new Pool(broker.origin, { connections: 2 });
      for (let i = 0; i < 12; i++) {
        const res = await http.request({ path: '/api', method: 'GET' });
        await res.body.dump();
        assert.equal(res.statusCode, 200);
      }
      await http.close();
      const calls = await waitFor('the interceptors card to show the status page\'s counts', async () => {
        const [shown, status] = await Promise.all([
          page.evaluate(`[...document.querySelectorAll('#hooks-body tr[data-hook]')].map((tr) => [tr.dataset.hook, Number(tr.querySelector('[data-field="calls"]').dataset.value)])`) as Promise<Array<[string, number]>>,
          brokerStatus(broker.httpPort),
        ]);
        const expected = status.hooks['inject-headers'].calls as number;
        return expected >= 24 && JSON.stringify(shown) === JSON.stringify([['inject-headers', expected]]) ? expected : undefined;
      });
      // onRequest and onResponse for each request (and the status polls are not captured).
      assert.equal(calls, 24);
      assert.equal(await page.locator('#hooks').isHidden(), false);
      assert.deepEqual(problems, []);
    }),
  );
}

test('the dashboard drains and enables a server with its buttons (the admin token asked for once) and shows weights', { skip: missing }, async () => {
  await withChromium(async (programs, browser) => {
    const broker = await startHttpBroker(['--admin-token', 'adm1n']);
    programs.push(broker.broker);
    const pool = start('pool', ['--broker', `127.0.0.1:${broker.port}`, '--policy', '111', '--ids', '100']);
    const heavy = start('pool', ['--broker', `127.0.0.1:${broker.port}`, '--policy', '111', '--ids', '101', '--weight', '4']);
    programs.push(pool, heavy);
    await Promise.all([pool.ready, heavy.ready]);
    const { page, problems } = await openPage(await browser());
    const prompts: string[] = [];
    page.on('dialog', (dialog) => {
      prompts.push(dialog.message());
      void dialog.accept('adm1n');
    });
    await page.goto(`${broker.origin}/_broker/`);
    const row = (id: number) => `section[data-policy="111"] tr[data-kind="packet"][data-server="${id}"]`;
    await waitFor('both servers on the page', async () => (await page.locator(`${row(101)} .weight`).textContent().catch(() => null)) === 'w4');
    assert.equal(await page.locator(`${row(100)} .weight`).textContent(), '', 'weight 1 is not shown');
    await page.click(`${row(100)} button.admin-action`);
    const admin = async (id: number) => (await brokerStatus(broker.httpPort)).policies[0].servers.find((s: any) => s.id === id).admin;
    await waitFor('server 100 drained', async () => (await admin(100)) === 'drain');
    assert.equal(prompts.length, 1, 'the token was asked for');
    await waitFor('the row shows it', async () => (await page.locator(`${row(100)} [data-field="state"]`).textContent()) === 'drain' && (await page.locator(`${row(100)} button.admin-action`).textContent()) === 'Enable');
    await page.click(`${row(100)} button.admin-action`);
    await waitFor('server 100 enabled again', async () => (await admin(100)) === 'enabled');
    assert.equal(prompts.length, 1, 'the token is kept for the session');
    // The first PATCH, sent without the admin token, is answered 401: that is how the page learns it needs one.
    assert.deepEqual(problems.filter((p) => !/status of 401/.test(p)), []);
    assert.equal(problems.length, 1);
  });
});

/**
 * A real browser through the broker: headless Chromium loads a page served through the broker
 * by a policy-server-pool --http server, opens a WebSocket to the same origin, and exchanges
 * text and binary messages with the server's echo. Skipped where Chromium is not installed.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { chromiumMissing, launchChromium } from '../helpers/chromium.js';
import { brokerStatus, startHttpBroker, startHttpPool, waitFor } from '../helpers/http.js';
import type { Program } from '../helpers/programs.js';

/** Runs in the page: open a WebSocket to the page's origin, read the hello, echo text and bytes, close. */
const EXCHANGE = `(async () => {
  const ws = new WebSocket('ws://' + location.host + '/live');
  ws.binaryType = 'arraybuffer';
  const queue = [];
  let wake;
  ws.onmessage = (e) => { queue.push(e.data); if (wake) wake(); };
  const next = () => new Promise((resolve, reject) => {
    if (queue.length > 0) return resolve(queue.shift());
    const timer = setTimeout(() => reject(new Error('no message within 10 s')), 10000);
    wake = () => { clearTimeout(timer); wake = undefined; resolve(queue.shift()); };
  });
  await new Promise((resolve, reject) => { ws.onopen = resolve; ws.onerror = () => reject(new Error('WebSocket error')); });
  const hello = JSON.parse(await next());
  ws.send('hello from the browser');
  const text = await next();
  ws.send(new Uint8Array([1, 2, 3, 250]));
  const bytes = Array.from(new Uint8Array(await next()));
  const closed = new Promise((resolve) => { ws.onclose = (e) => resolve(e.code); });
  ws.close(1000, 'done');
  return { hello, text, bytes, closeCode: await closed };
})()`;

test('headless Chromium exchanges WebSocket messages through the broker', { skip: chromiumMissing, timeout: 120_000 }, async () => {
  const programs: Program[] = [];
  const userDataDir = mkdtempSync(path.join(tmpdir(), 'pb-chromium-ws-'));
  let context: Awaited<ReturnType<typeof launchChromium>> | undefined;
  try {
    const broker = await startHttpBroker(['--health-interval', '0']);
    programs.push(broker.broker);
    const { pool, servers } = await startHttpPool(broker.port, ['--policy', '111', '--count', '1']);
    programs.push(pool);
    context = await launchChromium(userDataDir);
    const page = context.pages()[0] ?? (await context.newPage());
    const problems: string[] = [];
    page.on('pageerror', (err) => problems.push(err.message));
    const loaded = await page.goto(`${broker.origin}/`);
    assert.equal(loaded?.status(), 200);
    const result = (await page.evaluate(EXCHANGE)) as { hello: { server: number; policy: number }; text: string; bytes: number[]; closeCode: number };
    assert.equal(result.hello.server, servers[0]!.id);
    assert.equal(result.hello.policy, 111);
    assert.equal(result.text, 'hello from the browser');
    assert.deepEqual(result.bytes, [1, 2, 3, 250]);
    assert.equal(result.closeCode, 1000);
    assert.deepEqual(problems, []);
    const status = await brokerStatus(broker.httpPort);
    assert.equal(status.http.upgrades.upgraded, 1);
    assert.ok(status.http.upgrades.bytesToBackend > 0);
    // The dashboard's WebSockets card shows it.
    await page.goto(`${broker.origin}/_broker/`);
    await waitFor('the WebSockets card', async () => (await page.locator('#ws-upgraded').getAttribute('data-value')) === '1', 20_000, 100);
    assert.equal(await page.locator('#websockets').isHidden(), false);
    assert.deepEqual(problems, []);
  } finally {
    await context?.close().catch(() => undefined);
    for (const program of programs.reverse()) await program.stop();
    rmSync(userDataDir, { recursive: true, force: true });
  }
});

import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { Readable } from 'node:stream';
import { after, before, test } from 'node:test';
import { Pool } from 'undici';
import { type Program } from '../helpers/programs.js';
import { brokerStatus, startHttpBroker, startHttpPool, waitForLiveHttpServers, type HttpBroker } from '../helpers/http.js';

const MB = 1024 * 1024;
const BODY_BYTES = 200 * MB;
/** The broker may grow by less than this while 200 MB go through it each way. */
const RSS_GROWTH_LIMIT = 100 * MB;

const programs: Program[] = [];
let broker: HttpBroker;

before(async () => {
  broker = await startHttpBroker();
  programs.push(broker.broker);
  const { pool } = await startHttpPool(broker.port, ['--count', '1']);
  programs.push(pool);
  await waitForLiveHttpServers(broker.httpPort, 111, 1);
});

after(async () => {
  for (const program of programs.reverse()) await program.stop();
});

/** The broker's resident memory, from /proc (Linux) or its status page. */
async function brokerRss(): Promise<{ now: number; peak: number | undefined }> {
  const file = `/proc/${broker.broker.child.pid}/status`;
  if (existsSync(file)) {
    const text = readFileSync(file, 'utf8');
    const kb = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(text)?.[1]) * 1024;
    return { now: kb('VmRSS'), peak: kb('VmHWM') };
  }
  return { now: (await brokerStatus(broker.httpPort)).memory.rss, peak: undefined };
}

/** `total` bytes of a pattern, produced as the consumer reads, hashed on the way. */
function source(total: number, hash: ReturnType<typeof createHash>): Readable {
  const chunk = Buffer.alloc(64 * 1024);
  for (let i = 0; i < chunk.length; i++) chunk[i] = (i * 31 + 7) & 0xff;
  let left = total;
  return new Readable({
    read() {
      if (left === 0) {
        this.push(null);
        return;
      }
      const piece = left >= chunk.length ? chunk : chunk.subarray(0, left);
      left -= piece.length;
      hash.update(piece);
      this.push(piece);
    },
  });
}

test('a 200 MB body streams both ways through the broker (upload and echoed download at once) in bounded memory', async (t) => {
  const client = new Pool(broker.origin, { connections: 1 });
  try {
    // Warm up, so that the baseline includes the code paths and pools the transfer uses.
    for (let i = 0; i < 3; i++) {
      const res = await client.request({ path: '/echo', method: 'POST', body: 'warm-up' });
      await res.body.text();
    }
    const baseline = await brokerRss();
    let highest = baseline.now;
    const sampler = setInterval(() => {
      void brokerRss().then((rss) => {
        highest = Math.max(highest, rss.now);
      });
    }, 50);
    const sent = createHash('sha1');
    const received = createHash('sha1');
    let receivedBytes = 0;
    const started = Date.now();
    try {
      const res = await client.request({ path: '/echo', method: 'POST', body: source(BODY_BYTES, sent), headers: { 'content-type': 'application/octet-stream' } });
      assert.equal(res.statusCode, 200);
      assert.equal(res.headers['content-length'], undefined, 'the echo is streamed, not buffered');
      for await (const chunk of res.body) {
        receivedBytes += (chunk as Buffer).length;
        received.update(chunk as Buffer);
      }
    } finally {
      clearInterval(sampler);
    }
    const seconds = (Date.now() - started) / 1000;
    const after = await brokerRss();
    highest = Math.max(highest, after.now, after.peak ?? 0);
    assert.equal(receivedBytes, BODY_BYTES);
    assert.equal(received.digest('hex'), sent.digest('hex'));
    const growth = highest - baseline.now;
    const note = `broker RSS ${(baseline.now / MB).toFixed(0)} MB before, ${(highest / MB).toFixed(0)} MB at most; ${((2 * BODY_BYTES) / MB / seconds).toFixed(0)} MB/s through it`;
    t.diagnostic(note);
    assert.ok(growth < RSS_GROWTH_LIMIT, note);
  } finally {
    await client.close();
  }
});

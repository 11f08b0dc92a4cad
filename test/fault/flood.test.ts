/**
 * A client that pipelines without reading its answers: the broker stops reading it (TCP pushes
 * back), refuses what overflows with OVERLOADED, keeps its memory bounded and serves everyone
 * else; once the flooder reads, every one of its packets has exactly one answer.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect } from 'node:net';
import { test } from 'node:test';
import { sha1 } from '../helpers/classic.js';
import { clients, figures, procStatusKb, startBrokerAndPool, tally, teardown, trackedLoad, waitFor } from '../helpers/fault.js';
import { readLines } from '../helpers/wire.js';

const { programs, cleanups } = teardown();

const TOTAL = 300_000;
const MAX_CLIENT_INFLIGHT = 256;

test('a flooder that does not read is slowed by backpressure and OVERLOADED; memory bounded; every packet answered once', async () => {
  const { broker, port } = await startBrokerAndPool(['--max-client-inflight', String(MAX_CLIENT_INFLIGHT)], programs);
  const pid = broker.child.pid!;
  const rssBeforeMb = procStatusKb(pid, 'VmRSS') / 1024;

  const flooder = connect({ port, host: '127.0.0.1' });
  cleanups.push(() => flooder.destroy());
  await once(flooder, 'connect');
  flooder.pause(); // read nothing
  let written = 0;
  const batch = (): Buffer => {
    let text = '';
    for (let i = 0; i < 1000 && written < TOTAL; i++, written++) text += `{"type":0,"srcid":3,"privPoliId":111,"payload":"f${written}","seq":${written}}\n`;
    return Buffer.from(text);
  };
  // Phase 1: write until the socket stays full: the broker has stopped reading.
  let blocked = false;
  while (!blocked && written < TOTAL) {
    if (flooder.write(batch())) continue;
    blocked = !(await Promise.race([once(flooder, 'drain').then(() => true), new Promise((resolve) => setTimeout(() => resolve(false), 1500))]));
  }
  const writtenWhenBlocked = written;
  const bufferedByFlooder = flooder.writableLength;
  // Meanwhile everyone else is served.
  const peers = await clients(port, 2);
  cleanups.push(() => Promise.all(peers.map((peer) => peer.close())));
  const normal = await trackedLoad({ clients: peers, policy: 111, count: 2000, concurrency: 8, expected: (payload) => sha1(payload) });
  const rssBlockedMb = procStatusKb(pid, 'VmRSS') / 1024;

  // Phase 2: the flooder reads; the rest goes out, every packet gets its one answer.
  const answers = new Map<number, string>();
  let duplicates = 0;
  readLines(flooder, (line) => {
    const answer = JSON.parse(line);
    if (answers.has(answer.seq)) duplicates++;
    answers.set(answer.seq, answer.type === 2 ? (answer.payload === sha1(`f${answer.seq}`) ? 'reply' : 'wrong') : answer.code);
  });
  flooder.resume();
  while (written < TOTAL) if (!flooder.write(batch())) await once(flooder, 'drain');
  await waitFor('every flood packet answered', () => answers.size === TOTAL, 60_000, 50);
  const byKind: Record<string, number> = {};
  for (const kind of answers.values()) byKind[kind] = (byKind[kind] ?? 0) + 1;
  const peakRssMb = procStatusKb(pid, 'VmHWM') / 1024;
  figures('flood', {
    total: TOTAL,
    writtenWhenBlocked,
    bufferedByFlooder,
    answers: byKind,
    duplicates,
    normal: tally(normal),
    brokerRssBeforeMb: Math.round(rssBeforeMb),
    brokerRssWhileBlockedMb: Math.round(rssBlockedMb),
    brokerPeakRssMb: Math.round(peakRssMb),
  });
  assert.ok(blocked, 'the flooder was blocked by backpressure');
  assert.ok(writtenWhenBlocked < TOTAL, 'before it could write everything');
  assert.equal(normal.replies, normal.sent, 'everyone else is served meanwhile');
  assert.equal(normal.misdelivered, 0);
  assert.equal(duplicates, 0, 'no packet answered twice');
  assert.equal(answers.size, TOTAL, 'every packet answered');
  assert.equal(byKind.wrong, undefined);
  assert.ok((byKind.OVERLOADED ?? 0) > 0, 'what overflowed was refused with OVERLOADED');
  assert.ok((byKind.reply ?? 0) > 0);
  assert.deepEqual(Object.keys(byKind).filter((k) => k !== 'reply' && k !== 'OVERLOADED'), []);
  assert.ok(rssBlockedMb - rssBeforeMb < 100, `memory bounded while blocked: +${Math.round(rssBlockedMb - rssBeforeMb)} MB`);
  assert.ok(peakRssMb - rssBeforeMb < 250, `peak memory bounded: +${Math.round(peakRssMb - rssBeforeMb)} MB`);
});

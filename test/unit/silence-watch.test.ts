import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { SilenceWatch } from '../../broker/support/silence-watch.js';
import { waitFor } from '../helpers/wait.js';

const LIMIT = 80;

test('SilenceWatch: fires once, between the limit and 1.25 × it, when something waits and nothing is heard', async () => {
  const fired: number[] = [];
  const watch = new SilenceWatch(LIMIT, () => true, (quietMs) => fired.push(quietMs));
  const sentAt = performance.now();
  watch.sent();
  await waitFor('the watch to fire', () => fired.length > 0, 2000, 5);
  const after = performance.now() - sentAt;
  assert.ok(fired[0]! >= LIMIT, `quiet ${fired[0]} ms`);
  // The timer runs every limit / 4; a loaded machine may run it late, not early.
  assert.ok(after >= LIMIT, `fired ${after} ms after the send`);
  await sleep(3 * LIMIT);
  assert.equal(fired.length, 1, 'once');
  watch.stop();
});

test('SilenceWatch: does not fire while the peer is heard more often than the limit', async () => {
  let fired = 0;
  // Heard every 20 ms against a limit of 400 ms: a loaded machine (the suite runs beside other
  // work) may run this loop late by far more than a quarter of LIMIT, never by 400 ms.
  const limit = 5 * LIMIT;
  const watch = new SilenceWatch(limit, () => true, () => fired++);
  watch.sent();
  const until = performance.now() + 5 * limit;
  while (performance.now() < until) {
    watch.heard();
    await sleep(20);
  }
  watch.stop();
  assert.equal(fired, 0);
});

test('SilenceWatch: time with nothing waiting is not silence; the clock starts at the next send', async () => {
  let waiting = false;
  let fired = 0;
  const watch = new SilenceWatch(LIMIT, () => waiting, () => fired++);
  // Idle for 3 limits: nothing waits, nothing fires.
  await sleep(3 * LIMIT);
  assert.equal(fired, 0);
  waiting = true;
  const sentAt = performance.now();
  watch.sent();
  await waitFor('the watch to fire', () => fired > 0, 2000, 5);
  assert.ok(performance.now() - sentAt >= LIMIT, 'counted from the send, not from the idle time before it');
  watch.stop();
});

test('SilenceWatch: stop() ends it', async () => {
  let fired = 0;
  const watch = new SilenceWatch(LIMIT, () => true, () => fired++);
  watch.sent();
  watch.stop();
  await sleep(3 * LIMIT);
  assert.equal(fired, 0);
});

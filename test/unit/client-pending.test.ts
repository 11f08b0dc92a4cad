import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { PendingRequests } from '../../client/pending.js';
import { ClientError, ClientErrorCode } from '../../client/errors.js';

/** A send's fate, as the caller sees it. */
function track(pending: PendingRequests<string>, seq: number | string): { added: boolean; fate: () => string | undefined } {
  let fate: string | undefined;
  const added = pending.add(
    seq,
    (answer) => (fate = `answer ${answer}`),
    (err) => (fate = err instanceof ClientError ? err.code : err.message),
  );
  return { added, fate: () => fate };
}

test('sends are matched by seq, numbers and strings apart, each answered once', () => {
  const pending = new PendingRequests<string>(10_000);
  const five = track(pending, 5);
  const fiveText = track(pending, '5');
  assert.equal(five.added && fiveText.added, true);
  assert.equal(track(pending, 5).added, false, 'a seq already waited for');
  assert.equal(pending.size, 2);
  assert.equal(pending.settle('5', 'b'), true);
  assert.equal(pending.settle('5', 'again'), false);
  assert.equal(fiveText.fate(), 'answer b');
  assert.equal(five.fate(), undefined);
  assert.equal(pending.settleOnly('only'), true, 'one left: an answer without seq is its');
  assert.equal(five.fate(), 'answer only');
  assert.equal(pending.size, 0);
  assert.equal(track(pending, 5).added, true, 'a settled seq may be sent again');
});

test('the oldest send still waiting times out first; answered ones do not hold the queue', async () => {
  const pending = new PendingRequests<string>(60);
  const sends = Array.from({ length: 3000 }, (_, i) => track(pending, i));
  // Answered out of order, most of them: the queue's front moves past them.
  for (let i = 2999; i >= 1; i--) if (i !== 1500) pending.settle(i, 'ok');
  assert.equal(pending.size, 2);
  const late = track(pending, 'late');
  await sleep(120);
  assert.equal(sends[0]!.fate(), ClientErrorCode.TIMEOUT_LOCAL);
  assert.equal(sends[1500]!.fate(), ClientErrorCode.TIMEOUT_LOCAL);
  assert.equal(late.fate(), ClientErrorCode.TIMEOUT_LOCAL);
  assert.equal(sends[7]!.fate(), 'answer ok');
  assert.equal(pending.size, 0);
});

test('failAll rejects every waiting send once', () => {
  const pending = new PendingRequests<string>(10_000);
  const a = track(pending, 1);
  const b = track(pending, 'b');
  pending.settle(1, 'x');
  pending.failAll(new Error('gone'));
  assert.equal(a.fate(), 'answer x');
  assert.equal(b.fate(), 'gone');
  assert.equal(pending.size, 0);
  assert.equal(pending.settle('b', 'y'), false);
});

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { runChain, type ChainFailure } from '../../../broker/hooks/call.js';
import { resolveInterceptors, type Hook } from '../../../broker/hooks/check.js';
import { HookCounters } from '../../../broker/hooks/counters.js';
import type { Interceptor } from '../../../broker/hooks/interceptor.js';

/** Runs onRequest of each interceptor as a chain step that appends its return value to a log. */
function chain(defs: Interceptor[]): Promise<{ log: unknown[]; failure: ChainFailure | undefined; counters: HookCounters; failed: string[]; sync: boolean }> {
  const hooks = resolveInterceptors(defs);
  const counters = new HookCounters(hooks.map((h) => h.name));
  const log: unknown[] = [];
  const failed: string[] = [];
  let sync = false;
  return new Promise((resolve) => {
    let returned = false;
    runChain(
      hooks,
      (hook: Hook) => counters.of(hook.name),
      {
        invoke: (hook) => hook.def.onRequest!({} as never),
        commit: (_hook, value) => {
          log.push(value);
          return value !== 'stop';
        },
        failed: (hook, outcome) => failed.push(`${hook.name}:${outcome}`),
      },
      (failure) => {
        sync = !returned;
        resolve({ log, failure, counters, failed, sync });
      },
    );
    returned = true;
  });
}

const wait = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('the hook chain', () => {
  it('runs synchronous hooks in order, in one go', async () => {
    const r = await chain([
      { name: 'a', onRequest: () => 'a' as never },
      { name: 'b', onRequest: () => 'b' as never },
    ]);
    assert.deepEqual(r.log, ['a', 'b']);
    assert.equal(r.sync, true);
    assert.equal(r.counters.of('a').calls, 1);
  });

  it('waits for asynchronous hooks, keeping the order', async () => {
    const r = await chain([
      { name: 'a', onRequest: async () => (await wait(5), 'a') as never },
      { name: 'b', onRequest: () => 'b' as never },
      { name: 'c', onRequest: async () => 'c' as never },
    ]);
    assert.deepEqual(r.log, ['a', 'b', 'c']);
    assert.equal(r.failure, undefined);
  });

  it('stops at a hook that answers', async () => {
    const r = await chain([
      { name: 'a', onRequest: () => 'stop' as never },
      { name: 'b', onRequest: () => 'b' as never },
    ]);
    assert.deepEqual(r.log, ['stop']);
    assert.equal(r.counters.of('b').calls, 0);
  });

  for (const how of ['throws', 'rejects', 'times out'] as const) {
    const hook = (): Interceptor['onRequest'] =>
      how === 'throws'
        ? () => {
            throw new Error('boom');
          }
        : how === 'rejects'
          ? async () => {
              throw new Error('boom');
            }
          : () => new Promise<void>(() => undefined);

    it(`fail-closed: a hook that ${how} stops the chain with its failure`, async () => {
      const r = await chain([
        { name: 'bad', onRequest: hook(), timeoutMs: 20 },
        { name: 'next', onRequest: () => 'next' as never },
      ]);
      assert.equal(r.failure?.hook.name, 'bad');
      assert.equal(r.failure?.outcome, how === 'times out' ? 'timeout' : 'error');
      assert.deepEqual(r.log, []);
      const counts = r.counters.of('bad');
      assert.equal(how === 'times out' ? counts.timeouts : counts.errors, 1);
      assert.equal(counts.failedClosed, 1);
      assert.equal(r.counters.of('next').calls, 0);
    });

    it(`fail-open: a hook that ${how} is skipped, its changes dropped`, async () => {
      const r = await chain([
        { name: 'bad', onRequest: hook(), timeoutMs: 20, failMode: 'open' },
        { name: 'next', onRequest: () => 'next' as never },
      ]);
      assert.equal(r.failure, undefined);
      assert.deepEqual(r.log, ['next']);
      assert.deepEqual(r.failed, [`bad:${how === 'times out' ? 'timeout' : 'error'}`]);
      assert.equal(r.counters.of('bad').failedClosed, 0);
    });
  }

  it('ignores a hook that finishes after its timeout', async () => {
    let late: () => void = () => undefined;
    const r = await chain([{ name: 'slow', onRequest: () => new Promise<void>((resolve) => (late = resolve)), timeoutMs: 10, failMode: 'open' }]);
    late();
    await wait(5);
    assert.deepEqual(r.log, []);
    assert.equal(r.counters.of('slow').timeouts, 1);
  });
});

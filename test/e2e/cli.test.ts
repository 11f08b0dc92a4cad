import assert from 'node:assert/strict';
import { test } from 'node:test';
import { run, start } from '../helpers/programs.js';

const COMMANDS = [
  ['broker', 'policy-broker', '--max-packet-bytes'],
  ['pool', 'policy-server-pool', '--count'],
  ['client', 'policy-client', '--concurrency'],
] as const;

for (const [program, name, numericOption] of COMMANDS) {
  test(`${name} --help describes its options and exits 0`, async () => {
    const result = await run(program, ['--help']);
    assert.equal(result.code, 0);
    assert.match(result.stdout, new RegExp(`Usage: ${name}`));
    assert.match(result.stdout, new RegExp(numericOption));
  });

  test(`${name} rejects a bad option with one line and exit code 2`, async () => {
    for (const args of [['--no-such-option'], [numericOption, 'many']]) {
      const result = await run(program, args);
      assert.equal(result.code, 2, `${args.join(' ')}: ${result.stderr}`);
      const lines = result.stderr.trim().split('\n');
      assert.equal(lines.length, 1, result.stderr);
      assert.match(lines[0]!, new RegExp(`^${name}: error: `));
    }
  });
}

test('every broker option can come from the environment, and a bad value there is an error too', async () => {
  const broker = start('broker', [], { env: { POLICY_BROKER_PORT: '0', POLICY_BROKER_ALGORITHM: 'least-outstanding' } });
  const ready = await broker.ready;
  assert.ok(ready.packet.port > 0);
  await broker.stop();
  const bad = await run('broker', [], { env: { POLICY_BROKER_ALGORITHM: 'fastest' } });
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /fastest/);
});

test('the broker exits 0 on SIGTERM', async () => {
  const broker = start('broker', ['--port', '0']);
  await broker.ready;
  assert.equal(await broker.stop('SIGTERM'), 0);
});

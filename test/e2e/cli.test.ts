import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { tempDir } from '../helpers/http.js';
import { REPO_ROOT, run, start, startBroker } from '../helpers/programs.js';

const VERSION = (JSON.parse(readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string }).version;

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

  test(`${name} --version prints the package's version and exits 0`, async () => {
    const result = await run(program, ['--version']);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout.trim(), VERSION);
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

test('policy-client load exits 1 when packets were answered with errors, 0 with --allow-errors', async () => {
  const { broker, port } = await startBroker();
  try {
    // No server at all: every packet is answered NO_SERVER.
    const args = ['--broker', `127.0.0.1:${port}`, '--policy', '111', '--count', '50', '--concurrency', '8', '--json'];
    const failed = await run('client', args);
    assert.equal(failed.code, 1, failed.stderr);
    const summary = JSON.parse(failed.stdout.trim().split('\n').at(-1)!);
    assert.deepEqual([summary.answered, summary.lost, summary.errors], [50, 0, { NO_SERVER: 50 }]);
    const allowed = await run('client', [...args, '--allow-errors']);
    assert.equal(allowed.code, 0, allowed.stderr);
  } finally {
    await broker.stop();
  }
});

test('policy-client --file with --policy sends the file\'s packets to that policy; without it, to the file\'s', async () => {
  const { broker, port } = await startBroker();
  const pools = [
    start('pool', ['--broker', `127.0.0.1:${port}`, '--policy', '111', '--ids', '100']),
    start('pool', ['--broker', `127.0.0.1:${port}`, '--policy', '222', '--ids', '200']),
  ];
  const temp = tempDir('client-file-');
  try {
    await Promise.all(pools.map((pool) => pool.ready));
    // The classic pktfiles/1.json: string numbers, the privPolyId spelling, policy 111.
    const file = path.join(temp.dir, '1.json');
    writeFileSync(file, JSON.stringify({ type: '0', srcid: '7', privPolyId: '111', payloadsize: '5', payload: 'hello' }, null, 2));
    const served = async (extra: string[], env: Record<string, string> = {}) => {
      const result = await run('client', ['--broker', `127.0.0.1:${port}`, '--file', file, ...extra], { env });
      assert.equal(result.code, 0, result.stderr);
      return JSON.parse(result.stdout.trim()).srcid as number;
    };
    assert.equal(await served([]), 100, "the file's policy");
    assert.equal(await served(['--policy', '222']), 200, '--policy replaces it');
    assert.equal(await served([], { POLICY_CLIENT_POLICY: '222' }), 200, 'so does the environment');
  } finally {
    for (const pool of pools) await pool.stop();
    await broker.stop();
    temp.remove();
  }
});

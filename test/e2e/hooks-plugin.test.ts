/** --plugin: bad plugins stop the broker at start with one line and exit 2; good ones are loaded. */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { get, startHttpBroker, tempDir } from '../helpers/http.js';
import { run } from '../helpers/programs.js';

const dir = tempDir('hooks-plugin-');
after(() => dir.remove());

function plugin(name: string, source: string): string {
  const file = path.join(dir.dir, name);
  writeFileSync(file, source);
  return file;
}

describe('--plugin', () => {
  const cases: Array<[string, string | undefined, RegExp]> = [
    ['a missing file', undefined, /no such file/],
    ['a syntax error', 'export default {\n  name: "x",\n  let = 1\n};\n', /syntax error: /],
    ['a throwing top level', 'throw new Error("no model weights here");\n', /its top level threw: no model weights here/],
    ['no default export', 'export const hook = { name: "x", onRequest() {} };\n', /has no default export/],
    ['a default export that is not an interceptor', 'export default { name: "x", onRequest: 5 };\n', /not a valid interceptor: interceptor "x": onRequest must be a function/],
    ['an array holding a non-interceptor', 'export default [{ name: "a", onPacket() {} }, "b"];\n', /interceptor #2 must be an object/],
  ];
  for (const [what, source, problem] of cases) {
    it(`refuses ${what}: one line naming the file, exit 2`, async () => {
      const file = source === undefined ? path.join(dir.dir, 'absent.mjs') : plugin(`${what.replace(/\W+/g, '-')}.mjs`, source);
      const result = await run('broker', ['--port', '0', '--plugin', file], { timeoutMs: 20_000 });
      assert.equal(result.code, 2, result.stderr);
      const lines = result.stderr.trim().split('\n');
      assert.equal(lines.length, 1, result.stderr);
      assert.ok(lines[0]!.startsWith(`policy-broker: error: plugin ${file}: `), lines[0]);
      assert.match(lines[0]!, problem);
    });
  }

  it('refuses two plugins that use the same interceptor name', async () => {
    const a = plugin('dup-a.mjs', 'export default { name: "same", onRequest() {} };\n');
    const b = plugin('dup-b.mjs', 'export default { name: "same", onPacket() {} };\n');
    const result = await run('broker', ['--port', '0', '--plugin', a, '--plugin', b], { timeoutMs: 20_000 });
    assert.equal(result.code, 2);
    assert.match(result.stderr.trim(), /^policy-broker: error: option interceptors: interceptor "same": the name is used twice$/);
  });

  it('loads plugins from the flag (repeated) and the environment (comma-separated), in order', async () => {
    const one = plugin('one.mjs', 'export default { name: "one", onRequest(ctx) { ctx.respond(200, { "x-order": "one" }, "from one"); } };\n');
    const two = plugin('two.mjs', 'export default [{ name: "two", match: { path: /^\\/two$/ }, onRequest(ctx) { ctx.respond(203, {}, "from two"); } }];\n');
    const { broker, origin } = await startHttpBroker(['--plugin', two], { env: { POLICY_BROKER_PLUGIN: '' } });
    try {
      assert.equal((await get(`${origin}/two`)).status, 203);
      assert.equal((await get(`${origin}/one`)).status, 404, 'no backend, no hook: unknown policy');
    } finally {
      await broker.stop();
    }
    const both = await startHttpBroker([], { env: { POLICY_BROKER_PLUGIN: `${two},${one}` } });
    try {
      assert.equal((await get(`${both.origin}/two`)).body, 'from two');
      const other = await get(`${both.origin}/other`);
      assert.deepEqual([other.status, other.body, other.headers['x-order']], [200, 'from one', 'one']);
    } finally {
      await both.broker.stop();
    }
  });
});

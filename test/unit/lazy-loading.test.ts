import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const DIST = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** The npm packages a fresh process has loaded after importing these modules of dist/. */
function packagesLoadedBy(modules: string[]): string[] {
  const script = `
    import { createRequire } from 'node:module';
    for (const m of ${JSON.stringify(modules.map((m) => path.join(DIST, m)))}) await import(m);
    const names = new Set(Object.keys(createRequire(import.meta.url).cache)
      .map((file) => /node_modules[\\\\/]((?:@[^\\\\/]+[\\\\/])?[^\\\\/]+)/.exec(file)?.[1]).filter(Boolean));
    process.stdout.write(JSON.stringify([...names].sort()));`;
  return JSON.parse(execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' })) as string[];
}

test('a packet-only broker loads neither undici nor the redis client (about 20 MiB of RSS it would not use)', () => {
  // What main.ts imports at start: the composition root, the option table and the ctl subcommand's definition.
  const loaded = packagesLoadedBy(['broker/broker.js', 'broker/options.js', 'broker/ctl/command.js', 'broker/hooks/plugin.js']);
  for (const heavy of ['undici', 'redis', '@redis/client', 'prom-client', 'winston']) assert.ok(!loaded.includes(heavy), `${heavy} is loaded at start: ${loaded.join(', ')}`);
});

test('the check sees a package that is loaded', () => {
  assert.ok(packagesLoadedBy(['broker/http/upstream.js']).includes('undici'));
});

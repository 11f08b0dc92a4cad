import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { PROGRAMS, REPO_ROOT, shebangFlags } from '../../scripts/lib/programs.js';

// The node flags are written once, in the programs' #! lines; every way of starting them must
// pass through those lines (scripts/lib/programs.ts and common.sh read them; Docker runs the files).
describe('node flags', () => {
  it('the three programs\' #! lines name the same node flags', () => {
    const [first, ...rest] = Object.values(PROGRAMS).map((file) => shebangFlags(file));
    for (const flags of rest) assert.deepEqual(flags, first);
  });

  it('the Dockerfile and docker-compose.yml run the programs as files, never as `node dist/…` (which would drop the flags)', () => {
    for (const file of ['Dockerfile', 'docker-compose.yml']) {
      const text = readFileSync(path.join(REPO_ROOT, file), 'utf8');
      assert.doesNotMatch(text, /node"?,?\s+"?dist\//, `${file} starts a program with node directly`);
      assert.match(text, /\.\/dist\/broker\/main\.js/, `${file} starts the broker`);
    }
  });
});

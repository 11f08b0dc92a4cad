import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { NODE_FLAGS } from '../../broker/support/node-flags.js';
import { PROGRAMS, shebangFlags } from '../../scripts/lib/programs.js';

describe('node flags', () => {
  it('every program\'s #! line names exactly NODE_FLAGS, which the launchers pass to node', () => {
    for (const [name, file] of Object.entries(PROGRAMS)) assert.deepEqual(shebangFlags(file), [...NODE_FLAGS], `${name}: ${file}`);
  });
});

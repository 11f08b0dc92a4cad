import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Admission } from '../../broker/routing/admission.js';
import { silentLogger } from '../../broker/support/logger.js';
import { stopSequence, type Stoppable } from '../../broker/stop-sequence.js';

function front(name: string, steps: string[]): Stoppable {
  return {
    name,
    admission: new Admission(),
    stopAccepting: () => void steps.push(`${name} stops accepting`),
    closeAll: async () => void steps.push(`${name} closes`),
  };
}

describe('stopSequence', () => {
  it('drains until every front end\'s admission is idle (taken and held), then leaves, then closes', async () => {
    const steps: string[] = [];
    const packets = front('packets', steps);
    const http = front('http', steps);
    packets.admission.accept();
    http.admission.hold();
    const done = stopSequence({ fronts: [packets, http], leave: () => void steps.push('leave'), drainMs: 5000, log: silentLogger() });
    await new Promise((resolve) => setTimeout(resolve, 30));
    assert.deepEqual(steps, ['packets stops accepting', 'http stops accepting']);
    packets.admission.settle();
    await new Promise((resolve) => setTimeout(resolve, 30));
    assert.equal(steps.length, 2, 'an open tunnel is still drained');
    http.admission.release();
    await done;
    assert.deepEqual(steps.slice(2), ['leave', 'packets closes', 'http closes']);
  });

  it('stops waiting at drainMs', async () => {
    const steps: string[] = [];
    const packets = front('packets', steps);
    packets.admission.accept();
    await stopSequence({ fronts: [packets], leave: () => void steps.push('leave'), drainMs: 20, log: silentLogger() });
    assert.deepEqual(steps, ['packets stops accepting', 'leave', 'packets closes']);
  });
});

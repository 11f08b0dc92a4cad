/**
 * A Redis that survives its primary for one test file: a primary, a replica and three
 * redis-sentinels (Debian's), each on a free loopback port, without persistence; all stopped at
 * the file's end (scripts/lib/redis-nodes.ts starts them, for the benchmarks too). The test can
 * SIGKILL the primary, wait for the Sentinels to promote the replica, and start the old primary
 * again (the Sentinels make it a replica of the new one).
 */
import { after } from 'node:test';
import { launchSentinels, type Sentinels } from '../../scripts/lib/redis-nodes.js';

export type TestSentinels = Sentinels;

/** Starts a primary, a replica and three Sentinels monitoring them under `name`; stopped after the file's tests. */
export function startSentinels(name = 'registry', downAfterMs = 1000): Promise<TestSentinels> {
  return launchSentinels(name, downAfterMs, (stop) => after(stop));
}

/**
 * The broker's mark on the requests it proxies (a Via entry, RFC 9110 §7.6.3), so that a request
 * that comes back to it (an httpport that is the broker itself, through any address, NAT or
 * another proxy) is answered 508 Loop Detected at once instead of multiplying inside it.
 *
 * The mark is random per broker. The HTTP workers of --workers are one broker: the primary
 * passes its mark to each worker it forks in the environment.
 */
import cluster from 'node:cluster';
import { randomBytes } from 'node:crypto';

const ENV = 'POLICY_BROKER_LOOP_MARK';
const MARK = /^[0-9a-f]{16}$/;

/** A new mark for a broker. */
export function newLoopMark(): string {
  return randomBytes(8).toString('hex');
}

/** The mark of an HTTP front end: the primary's in a --workers worker, else a new one. */
export function loopMark(): string {
  const inherited = process.env[ENV];
  return cluster.isWorker && inherited !== undefined && MARK.test(inherited) ? inherited : newLoopMark();
}

/** The environment a --workers primary gives the workers it forks, so that they share its mark. */
export function loopMarkEnv(mark: string): Record<string, string> {
  return { [ENV]: mark };
}

/** The pseudonym the broker adds to Via: "1.1 policy-broker-<mark>". */
export function viaEntry(mark: string): string {
  return `1.1 policy-broker-${mark}`;
}

/** True when a request's Via header (joined by Node with ", ") carries this broker's entry. */
export function cameBack(via: string | undefined, mark: string): boolean {
  return via !== undefined && via.includes(`policy-broker-${mark}`);
}

/**
 * Liveness: the one owner of an endpoint's state (connecting, up, down) and of its failure
 * count. Pure rules, no sockets and no timers: the packet links, the HTTP health checks and
 * both HTTP front ends' outcomes report what they saw, `report(endpoint, verdict)`, and the
 * rules here decide whether the state moves. Draining is membership's (PolicyTable.drain), and
 * the admin mode the operator's (PolicyTable.setAdmin): neither is a verdict.
 *
 * The rules, as nginx's upstream module has them:
 * - `connected` (a packet link is up): connecting or down → up.
 * - `answered` (an answer relayed): connecting → up, and a run of failed requests ends.
 * - `failed` (a request refused, reset or timed out: passive): down after `maxFails` in a row
 *   within `failWindowMs` of the first; one that looks like a connection limit (`overload`)
 *   never takes out the last live endpoint of its policy.
 * - `check-passed` / `check-failed` (active checks): connecting → up at once, down → up after
 *   `rise` passes in a row; down after `fall` failures in a row.
 * - `retry` (down long enough, with no active checks to bring it back): down → connecting.
 * - `lost` (a packet link lost; the router decides what follows) and `errored` (an error answer
 *   that says nothing of the backend's health, counted for the status page): a failure, no move.
 * - `unreachable` (a session server's link lost while it stays registered): down at once.
 */
import { countFailure } from './endpoint-writes.js';
import type { Endpoint, Member, MemberState } from './member.js';
import type { PolicyTable, TableObserver } from './policy-table.js';

export interface LivenessRules {
  /** Active checks passed in a row that bring a down endpoint back (--health-rise). */
  rise: number;
  /** Active checks failed in a row that take an endpoint out (--health-fall). */
  fall: number;
  /** Failed requests in a row that take an endpoint out (--max-fails). */
  maxFails: number;
  /** The window those failures must fall in (--fail-timeout). */
  failWindowMs: number;
}

export type Verdict =
  | { readonly kind: 'connected' }
  | { readonly kind: 'answered' }
  | { readonly kind: 'failed'; readonly reason: string; readonly overload?: boolean }
  | { readonly kind: 'check-passed' }
  | { readonly kind: 'check-failed'; readonly reason: string }
  | { readonly kind: 'retry' }
  | { readonly kind: 'lost'; readonly reason?: string }
  | { readonly kind: 'errored' }
  | { readonly kind: 'unreachable' };

/** The verdicts without data, made once: the hot path allocates nothing to report. */
export const CONNECTED: Verdict = { kind: 'connected' };
export const ANSWERED: Verdict = { kind: 'answered' };
export const CHECK_PASSED: Verdict = { kind: 'check-passed' };
export const RETRY: Verdict = { kind: 'retry' };
export const ERRORED: Verdict = { kind: 'errored' };
export const LOST: Verdict = { kind: 'lost' };
export const UNREACHABLE: Verdict = { kind: 'unreachable' };

/** Rules for endpoints that are never checked nor failed passively (the packet links). */
const LINK_RULES: LivenessRules = { rise: 1, fall: 1, maxFails: 1, failWindowMs: 0 };

export class Liveness implements TableObserver {
  /** Active checks passed and failed in a row, per endpoint. */
  private readonly checks = new Map<Endpoint, { passes: number; fails: number }>();
  /** Failed requests in a row per endpoint, and when the first of them failed. */
  private readonly passive = new Map<Endpoint, { count: number; since: number }>();

  constructor(
    private readonly table: PolicyTable,
    private readonly rules: LivenessRules = LINK_RULES,
    private readonly now: () => number = Date.now,
  ) {}

  /** Applies what a front end or a check saw of `endpoint`; returns the state it moved to, or undefined when it stayed. */
  report(endpoint: Endpoint, verdict: Verdict): MemberState | undefined {
    const from = endpoint.state;
    switch (verdict.kind) {
      case 'connected':
        return from === 'connecting' || from === 'down' ? this.move(endpoint, 'up') : undefined;
      case 'answered':
        if (this.passive.size !== 0) this.passive.delete(endpoint);
        return from === 'connecting' ? this.move(endpoint, 'up') : undefined;
      case 'failed':
        return this.failed(endpoint, verdict.reason, verdict.overload === true);
      case 'check-passed': {
        const streak = this.streak(endpoint);
        streak.fails = 0;
        streak.passes++;
        return from === 'connecting' || (from === 'down' && streak.passes >= this.rules.rise) ? this.move(endpoint, 'up') : undefined;
      }
      case 'check-failed': {
        const streak = this.streak(endpoint);
        streak.passes = 0;
        streak.fails++;
        countFailure(endpoint, verdict.reason);
        return from !== 'down' && streak.fails >= this.rules.fall ? this.move(endpoint, 'down') : undefined;
      }
      case 'retry':
        return from === 'down' && endpoint.member.present ? this.move(endpoint, 'connecting') : undefined;
      case 'lost':
        countFailure(endpoint, verdict.reason);
        return undefined;
      case 'errored':
        countFailure(endpoint);
        return undefined;
      case 'unreachable':
        return this.move(endpoint, 'down');
    }
  }

  /**
   * Takes another process's observation of `endpoint` as it is: a --workers worker dials no
   * packet links, so its primary sends each registered server's packet link state, and a server
   * down for packets gets no HTTP requests either. No streak nor rule applies: the observer
   * applied them.
   */
  observedElsewhere(endpoint: Endpoint, state: MemberState): void {
    this.move(endpoint, state);
  }

  /** TableObserver: forgets the streaks of a member that left. */
  removed(member: Member): void {
    for (const endpoint of [member.packets, member.http]) {
      if (endpoint === undefined) continue;
      this.checks.delete(endpoint);
      this.passive.delete(endpoint);
    }
  }

  private failed(endpoint: Endpoint, reason: string, overload: boolean): MemberState | undefined {
    countFailure(endpoint, reason);
    this.streak(endpoint).passes = 0;
    if (endpoint.state === 'down' || !endpoint.member.present) return undefined;
    const now = this.now();
    let fails = this.passive.get(endpoint);
    if (fails === undefined || now - fails.since > this.rules.failWindowMs) {
      fails = { count: 0, since: now };
      this.passive.set(endpoint, fails);
    }
    fails.count++;
    if (fails.count < this.rules.maxFails) return undefined;
    // With none left, every request would fail instead of some.
    if (overload && this.table.live(endpoint.policy, endpoint.protocol) <= 1) return undefined;
    this.passive.delete(endpoint);
    return this.move(endpoint, 'down');
  }

  private move(endpoint: Endpoint, to: MemberState): MemberState | undefined {
    if (endpoint.state === to) return undefined;
    // The table's setState is private (routing/'s own, as endpoint-writes.ts explains): the element access is the one way past it.
    this.table['setState'](endpoint, to);
    return to;
  }

  private streak(endpoint: Endpoint): { passes: number; fails: number } {
    let streak = this.checks.get(endpoint);
    if (streak === undefined) {
      streak = { passes: 0, fails: 0 };
      this.checks.set(endpoint, streak);
    }
    return streak;
  }
}

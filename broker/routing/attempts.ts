/**
 * The attempt policy, written once for packets and HTTP: pick an endpoint of the job's policy,
 * send, and on a failure pick again within the same policy until --max-attempts sends are
 * spent, then settle. Every job started settles exactly once (answered, failed, or abandoned
 * by its client), and every endpoint acquired for it is released exactly once, whatever the
 * order of answers and failures. Pure: the transport does the I/O and reports back.
 */
import { countServed } from './endpoint-writes.js';
import type { Endpoint, Protocol } from './member.js';
import type { PolicyTable } from './policy-table.js';

/** What the policy needs of a job; the adapter's job type extends it. */
export interface Routed<C> {
  readonly policy: number;
  /** Sends so far; the transport counts one when the job actually leaves for a server. */
  attempts: number;
  /** The last failure, for the outcome when no other endpoint is left. */
  lastFailure: Failure<C> | undefined;
  /** True once settled. */
  done: boolean;
}

/** Why an attempt failed; `code` is the adapter's error code. */
export interface Failure<C> {
  readonly code: C;
  readonly message: string;
  /** Whether another endpoint may take the job (the adapter knows: unsent, idempotent, client still there). */
  readonly retry: boolean;
}

/**
 * - ready: the endpoint takes the job now.
 * - later: it would hold the job (still being dialed); taken only when no ready one turns up.
 * - full: no room; pick another.
 */
export type Readiness = 'ready' | 'later' | 'full';

/** The one outcome of a job that was not answered (an answer goes to Transport.delivered). */
export type Outcome<C> =
  /** No endpoint of the policy is selectable; `after` is the failure that sent it looking. */
  | { readonly kind: 'no-server'; readonly missing: 'unknown-policy' | 'no-live-server'; readonly after: Failure<C> | undefined }
  /** Every endpoint picked was full. */
  | { readonly kind: 'overloaded' }
  /** The last attempt failed and no other may follow (attempts spent, or not retryable). */
  | { readonly kind: 'failed'; readonly failure: Failure<C>; readonly endpoint: Endpoint | undefined }
  /** The client went away first. */
  | { readonly kind: 'abandoned' };

/** What the policy asks of an adapter. */
export interface Transport<J, C> {
  readonly protocol: Protocol;
  /** Whether `endpoint` can take a job now (packets: room in its queue, connected or dialing). */
  readiness(endpoint: Endpoint): Readiness;
  /** Sends the job to the endpoint (already acquired for it); the result comes back as answered() or failed(). */
  send(job: J, endpoint: Endpoint): void;
  /** The job's one outcome: the endpoint's answer (the hot path, no outcome object made)... */
  delivered(job: J, endpoint: Endpoint): void;
  /** ...or why there is none. */
  settle(job: J, outcome: Outcome<C>): void;
  /** An attempt of a job not yet settled failed on `endpoint` (for the trace). */
  attemptFailed?(job: J, endpoint: Endpoint, failure: Failure<C>): void;
  /** A job goes to another endpoint after a failure on `endpoint` (for the counters and the trace). */
  rerouted?(job: J, failure: Failure<C>, endpoint: Endpoint | undefined): void;
}

/** Picks made for one job before it is answered OVERLOADED. */
const PICKS_PER_ROUTE = 3;

export class AttemptPolicy<J extends Routed<C>, C> {
  /**
   * Jobs started and not yet settled by this policy: its own invariant (the tests check it is
   * back to zero). Limits and the drain read the protocol's Admission (admission.ts) instead.
   */
  pending = 0;

  constructor(
    readonly table: PolicyTable,
    private readonly transport: Transport<J, C>,
    readonly maxAttempts: number,
  ) {}

  /** Routes a new job. */
  start(job: J): void {
    this.pending++;
    this.route(job);
  }

  /** Settles a job started but refused before routing (e.g. shutting down). */
  refuse(job: J, failure: Failure<C>): void {
    this.pending++;
    this.settle(job, { kind: 'failed', failure, endpoint: undefined });
  }

  /** The endpoint answered the job. */
  answered(job: J, endpoint: Endpoint): void {
    this.table.release(endpoint);
    countServed(endpoint);
    if (job.done) return;
    job.done = true;
    this.pending--;
    this.transport.delivered(job, endpoint);
  }

  /**
   * The job's attempt on `endpoint` failed (or the job was taken back from its queue). It goes
   * to another endpoint of its policy when the failure allows and attempts remain.
   */
  failed(job: J, endpoint: Endpoint | undefined, failure: Failure<C>): void {
    if (endpoint !== undefined) this.table.release(endpoint);
    if (job.done) return;
    if (endpoint !== undefined) this.transport.attemptFailed?.(job, endpoint, failure);
    job.lastFailure = failure;
    if (!failure.retry || job.attempts >= this.maxAttempts) {
      this.settle(job, { kind: 'failed', failure, endpoint });
      return;
    }
    this.transport.rerouted?.(job, failure, endpoint);
    this.route(job, endpoint);
  }

  /** The client left: the job settles now; its endpoint is released when the attempt ends. */
  abandon(job: J): void {
    if (!job.done) this.settle(job, { kind: 'abandoned' });
  }

  /**
   * Picks an endpoint and sends, or settles with why none could take the job. An endpoint that
   * would hold the job ('later') gets it only when no ready one turns up within the picks.
   */
  private route(job: J, failedOn?: Endpoint): void {
    const { table, transport } = this;
    let later: Endpoint | undefined;
    for (let pickNo = 0; pickNo < PICKS_PER_ROUTE; pickNo++) {
      const picked = table.pick(job.policy, transport.protocol);
      if (typeof picked === 'string') {
        this.settle(job, { kind: 'no-server', missing: picked, after: job.lastFailure });
        return;
      }
      // A retry goes elsewhere when the policy has another live endpoint: the one that just
      // failed may still be live (health takes a backend out after several failures, not
      // one), and a strategy such as 'first' would pick it every time.
      const endpoint = picked === failedOn ? (table.otherLive(job.policy, transport.protocol, picked) ?? picked) : picked;
      const readiness = transport.readiness(endpoint);
      if (readiness === 'ready') return this.send(job, endpoint);
      if (readiness === 'later') later ??= endpoint;
    }
    if (later !== undefined) this.send(job, later);
    else this.settle(job, { kind: 'overloaded' });
  }

  private send(job: J, endpoint: Endpoint): void {
    this.table.acquire(endpoint);
    this.transport.send(job, endpoint);
  }

  private settle(job: J, outcome: Outcome<C>): void {
    job.done = true;
    this.pending--;
    this.transport.settle(job, outcome);
  }
}

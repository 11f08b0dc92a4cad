/** What the admin pages read of one HTTP backend; the front end's endpoints have this shape. */
import type { AdminMode, MemberState } from '../routing/member.js';

/** One HTTP backend (an Endpoint of the table, or a merged row with --workers). */
export interface HttpBackendView {
  readonly policy: number;
  /** The registered server's id; undefined for a static backend. */
  readonly id: number | undefined;
  readonly source: 'registered' | 'static';
  /** `host:port`. */
  readonly address: string;
  readonly state: MemberState;
  /** Its share of its policy's requests relative to the others' (1-1000). */
  readonly weight: number;
  /** What the operator asked (the runtime API): enabled, drain or disabled. */
  readonly admin: AdminMode;
  /** Requests on it now. */
  readonly outstanding: number;
  readonly served: number;
  readonly failures: number;
  readonly lastError: string | undefined;
}

/** A backend view as plain data (JSON-safe: null for absent), for a --workers report. */
export type BackendSnapshot = { -readonly [K in Exclude<keyof HttpBackendView, 'id' | 'lastError'>]: HttpBackendView[K] } & { id: number | null; lastError: string | null };

/** The views as plain data, taken now (the endpoints change later). */
export function snapshotBackends(backends: Iterable<HttpBackendView>): BackendSnapshot[] {
  return Array.from(backends, (b) => ({
    policy: b.policy,
    id: b.id ?? null,
    source: b.source,
    address: b.address,
    state: b.state,
    weight: b.weight,
    admin: b.admin,
    outstanding: b.outstanding,
    served: b.served,
    failures: b.failures,
    lastError: b.lastError ?? null,
  }));
}

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

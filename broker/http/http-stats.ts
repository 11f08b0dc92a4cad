import type { HttpErrorCode } from './http-errors.js';

/** Counters of the HTTP front end, read by status. Plain fields: they are bumped per request. */
export class HttpStats {
  /** Requests received, proxied or answered by the broker itself. */
  requests = 0;
  /** Responses relayed from backends (any status). */
  proxied = 0;
  /** Requests sent to another backend after one failed. */
  retries = 0;
  /** Requests whose client went away before the answer was complete. */
  clientAborts = 0;
  /** Responses cut short because the backend failed after its headers were sent on. */
  truncated = 0;
  /** Answers the broker gave itself, by code (401, 404, 502, 503, 504, …). */
  readonly errors: Partial<Record<HttpErrorCode, number>> = {};

  countError(code: HttpErrorCode): void {
    this.errors[code] = (this.errors[code] ?? 0) + 1;
  }
}

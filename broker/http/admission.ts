/**
 * What the front end decides on a request head before proxying it, the same for a plain
 * request and an upgrade request: refused (and why), one of the broker's own pages, or proxied
 * to a policy with its rewritten head and the interceptors that capture it. No I/O.
 */
import type { IncomingMessage } from 'node:http';
import type { Interceptors } from '../hooks/interceptors.js';
import type { HttpHookRun } from '../hooks/http-request.js';
import type { BrokerOptions } from '../options.js';
import type { PolicyTable } from '../routing/policy-table.js';
import { normalizeHost } from '../support/net-address.js';
import type { SecretCheck } from '../support/secret.js';
import { forwardRequestHeaders, type ForwardedHead, type ForwardSettings } from './headers.js';
import { HttpErrorCode } from './http-errors.js';
import { cameBack } from './loop-marker.js';
import { originForm, requestPolicy } from './request-target.js';

/** What admission reads beside the request; fixed for a front end. */
export interface AdmissionSettings {
  readonly options: BrokerOptions;
  readonly table: PolicyTable;
  readonly forward: ForwardSettings;
  /** This broker's Via mark (loop-marker.ts). */
  readonly mark: string;
  readonly token: SecretCheck | undefined;
  readonly interceptors: Interceptors | undefined;
}

/** The front end's state when the request arrives. */
export interface AdmissionState {
  /** The connection is past --http-max-connections. */
  readonly overLimit: boolean;
  readonly accepting: boolean;
  /** The front end's admission (routing/admission.ts) is at --http-max-inflight. */
  readonly full: boolean;
  /** An upgrade request: only interceptors with match.upgrades capture it. */
  readonly upgrade: boolean;
}

export type AdmissionDecision =
  | { readonly kind: 'refuse'; readonly code: HttpErrorCode; readonly message: string; readonly requestId: string | undefined; readonly close: boolean }
  | { readonly kind: 'admin'; readonly path: string }
  | { readonly kind: 'proxy'; readonly policy: number; readonly head: ForwardedHead; readonly path: string; readonly hooks: HttpHookRun | undefined };

function refuse(code: HttpErrorCode, message: string, requestId?: string, close = true): AdmissionDecision {
  return { kind: 'refuse', code, message, requestId, close };
}

/** Decides what becomes of a request head (limits, target, loop, headers, token, policy, hooks). */
export function admit(req: IncomingMessage, s: AdmissionSettings, state: AdmissionState): AdmissionDecision {
  const o = s.options;
  if (req.httpVersionMajor !== 1) return refuse(HttpErrorCode.VERSION_NOT_SUPPORTED, 'only HTTP/1.0 and HTTP/1.1 are served');
  if (state.overLimit) return refuse(HttpErrorCode.TOO_MANY_CONNECTIONS, `more than ${o.httpMaxConnections} client connections are open`);
  const path = originForm(req.url ?? '');
  if (path === undefined) return refuse(HttpErrorCode.BAD_REQUEST, 'the request target must be a path (or an absolute http URL)');
  if (path.startsWith(o.adminPrefix) || path === o.adminPrefix.slice(0, -1)) return { kind: 'admin', path };
  if (cameBack(req.headers.via, s.mark)) {
    return refuse(HttpErrorCode.LOOP_DETECTED, 'this request was proxied back to the broker that sent it (a backend is the broker itself)');
  }
  const clientAddress = normalizeHost(req.socket.remoteAddress ?? '');
  const head = forwardRequestHeaders(req.rawHeaders, clientAddress, req.httpVersionMinor >= 1, s.forward);
  if ('bad' in head) return refuse(HttpErrorCode.BAD_REQUEST, head.bad);
  const close = head.hasBody;
  if (!state.accepting) return refuse(HttpErrorCode.SHUTTING_DOWN, 'the broker is shutting down', head.requestId);
  if (s.token !== undefined && !s.token.matches(head.authorization)) {
    return refuse(HttpErrorCode.UNAUTHORIZED, 'this broker needs Authorization: Bearer <token>', head.requestId, close);
  }
  const policy = requestPolicy(head.policy, o.httpPolicy);
  if (policy === undefined) return refuse(HttpErrorCode.BAD_REQUEST, `X-Privacy-Policy must be a whole number, got "${head.policy}"`, head.requestId, close);
  // Captured requests may be answered by a hook, or sent to another policy: the attempt policy checks.
  const hooks = s.interceptors?.forRequest(req.method!, path, policy, head.headers, head.requestId, clientAddress, state.upgrade);
  if (hooks === undefined && !s.table.knows(policy, 'http')) return refuse(HttpErrorCode.UNKNOWN_POLICY, `no HTTP server for policy ${policy}`, head.requestId, close);
  if (state.full) {
    return refuse(HttpErrorCode.OVERLOADED, `${o.httpMaxInflight} requests are already in flight`, head.requestId, close);
  }
  return { kind: 'proxy', policy, head, path, hooks };
}

/**
 * The runtime API under <admin prefix>api/ (JSON), for operators and `policy-broker ctl`:
 *
 * - GET  api/servers: every member: key, policy, source, address, state, admin, weight, in flight, served.
 * - PATCH api/servers/KEY with {"state": "drain" | "disabled" | "up", "weight": N}: KEY is a
 *   registered server's id or a static backend's IP:PORT (every policy it serves). drain: no
 *   new work, what it holds finishes; disabled: out at once, its packets in flight re-routed as
 *   after a failure (HTTP requests already sent finish); up: back in.
 * - POST api/reload: servers.conf read again (static-backends.ts).
 *
 * Reading follows the status page's rule (--http-token when set). Writing needs --admin-token,
 * else --http-token; with neither, writes are refused unless every listener of the broker is
 * on loopback (then only this host's users can reach them). Every change is logged with who
 * asked.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { HttpErrorCode } from '../http/http-errors.js';
import type { ReloadResult } from '../http/static-backends.js';
import { weightProblem, type AdminMode, type Member } from '../routing/member.js';
import type { PolicyTable } from '../routing/policy-table.js';
import type { Membership } from '../registry/membership.js';
import { ProtocolError } from '../protocol/error-codes.js';
import type { Logger } from '../support/logger.js';
import { SecretCheck } from '../support/secret.js';
import { errorAnswer, hasBody, jsonAnswer, writeAnswer, type AdminAnswer } from './answer.js';

/** The API's names for what the operator asks ("up" puts a member back: enabled). */
const STATE_TO_ADMIN: Record<string, AdminMode> = { drain: 'drain', disabled: 'disabled', up: 'enabled' };

/** The longest PATCH body read. */
const MAX_BODY_BYTES = 4096;

/** What the API is given by the composition root. */
export interface RuntimeApiSettings {
  table: PolicyTable;
  /** Who applies an operator's change: through the registry store for a registered server. */
  membership: Membership;
  log: Logger;
  /** --admin-token, else --http-token; undefined: writes only when `loopbackOnly`. */
  writeToken: string | undefined;
  /** True when every listener is on loopback. */
  loopbackOnly: boolean;
  /** Re-reads servers.conf; undefined without the HTTP front end. Throws on a bad file. */
  reload?: () => ReloadResult;
}

/** One member as the API lists it. */
export interface ServerRow {
  key: string;
  policy: number;
  source: 'registered' | 'static';
  /** The packet address of a registered server, the HTTP address of a static backend. */
  address: string;
  httpAddress: string | null;
  state: string;
  admin: AdminMode;
  weight: number;
  inflight: number;
  served: number;
}

type Change = { admin?: AdminMode; weight?: number };

export class RuntimeApi {
  private readonly writeCheck: SecretCheck | undefined;

  constructor(private readonly settings: RuntimeApiSettings) {
    this.writeCheck = settings.writeToken === undefined ? undefined : new SecretCheck(`Bearer ${settings.writeToken}`);
  }

  /** Answers one request under api/; `path` is what follows `api/`. */
  handle(req: IncomingMessage, res: ServerResponse, path: string, authorized: boolean): void {
    const method = req.method ?? 'GET';
    // A body left unread closes the connection after the answer; a PATCH's body is read.
    const answer = (a: AdminAnswer, close = hasBody(req.headers)): void => writeAnswer(res, a, close);
    if (path === 'servers') {
      if (method !== 'GET') return answer(errorAnswer(HttpErrorCode.METHOD_NOT_ALLOWED, 'api/servers answers GET'));
      if (!authorized) return answer(errorAnswer(HttpErrorCode.UNAUTHORIZED, 'this broker needs Authorization: Bearer <token>'));
      return answer(jsonAnswer(200, { servers: this.rows() }));
    }
    const write = path === 'reload' ? 'POST' : path.startsWith('servers/') ? 'PATCH' : undefined;
    if (write === undefined) return answer(errorAnswer(HttpErrorCode.NOT_FOUND, `no such API call: api/${path}`));
    if (method !== write) return answer(errorAnswer(HttpErrorCode.METHOD_NOT_ALLOWED, `api/${path.startsWith('servers/') ? 'servers/KEY' : path} answers ${write}`));
    const refused = this.writeRefusal(req);
    if (refused !== undefined) return answer(refused);
    const who = req.socket.remoteAddress ?? 'unknown';
    if (path === 'reload') return answer(this.reload(who));
    void readJson(req).then(
      (body) => this.patch(decodeURIComponent(path.slice('servers/'.length)), body, who).then((a) => answer(a, false)),
      (err: Error) => answer(errorAnswer(err.message.startsWith('over') ? HttpErrorCode.PAYLOAD_TOO_LARGE : HttpErrorCode.BAD_REQUEST, err.message), true),
    );
  }

  /** Every member, registered and static. */
  rows(): ServerRow[] {
    return Array.from(this.settings.table.members(), rowOf);
  }

  private writeRefusal(req: IncomingMessage): AdminAnswer | undefined {
    if (this.writeCheck !== undefined) {
      return this.writeCheck.matches(req.headers.authorization) ? undefined : errorAnswer(HttpErrorCode.UNAUTHORIZED, 'changes need Authorization: Bearer <admin token> (--admin-token, else --http-token)');
    }
    if (this.settings.loopbackOnly) return undefined;
    return errorAnswer(HttpErrorCode.UNAUTHORIZED, 'this broker listens beyond loopback without --admin-token or --http-token: the runtime API takes no changes');
  }

  private reload(who: string): AdminAnswer {
    if (this.settings.reload === undefined) return errorAnswer(HttpErrorCode.NOT_FOUND, 'no HTTP front end: there is no servers.conf to reload');
    try {
      const result = this.settings.reload();
      this.settings.log.info('reload asked', { by: who, ...result });
      return jsonAnswer(200, { reloaded: result });
    } catch (err) {
      return errorAnswer(HttpErrorCode.BAD_REQUEST, (err as Error).message);
    }
  }

  private async patch(key: string, body: unknown, who: string): Promise<AdminAnswer> {
    const change = parseChange(body);
    if (typeof change === 'string') return errorAnswer(HttpErrorCode.BAD_REQUEST, change);
    const members = Array.from(this.settings.table.members()).filter((m) => keyOf(m) === key);
    if (members.length === 0) return errorAnswer(HttpErrorCode.NOT_FOUND, `no server ${key}: a registered server's id or a static backend's IP:PORT`);
    const { membership, log } = this.settings;
    for (const member of members) {
      // A registered server's change goes through the registry store, so that every broker
      // sharing it agrees (Membership applies the store's event); a static backend's is local.
      try {
        if (!(await membership.setAdmin(member, { mode: change.admin, weight: change.weight }))) {
          return errorAnswer(HttpErrorCode.NOT_FOUND, `server ${key} left or registered again while the change was made: nothing changed`);
        }
      } catch (err) {
        if (!(err instanceof ProtocolError)) throw err;
        return errorAnswer(HttpErrorCode.REGISTRY_UNAVAILABLE, err.message);
      }
      log.info('server changed by the operator', { server: key, policy: member.policy, ...change, by: who });
    }
    return jsonAnswer(200, { changed: members.map(rowOf) });
  }
}

function rowOf(m: Member): ServerRow {
  const main = m.packets ?? m.http!;
  return {
    key: keyOf(m),
    policy: m.policy,
    source: m.source,
    address: main.address,
    httpAddress: m.packets !== undefined ? (m.http?.address ?? null) : null,
    state: main.state,
    admin: m.admin,
    weight: m.weight,
    inflight: (m.packets?.outstanding ?? 0) + (m.http?.outstanding ?? 0),
    served: (m.packets?.served ?? 0) + (m.http?.served ?? 0),
  };
}

/** A registered server's id, or a static backend's IP:PORT. */
export function keyOf(member: Member): string {
  return member.id !== undefined ? String(member.id) : member.http!.address;
}

function parseChange(body: unknown): Change | string {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) return 'the body must be a JSON object: {"state": "drain" | "disabled" | "up", "weight": 1-1000}';
  const { state, weight, ...rest } = body as Record<string, unknown>;
  const unknown = Object.keys(rest);
  if (unknown.length > 0) return `unknown field ${JSON.stringify(unknown[0])}: only "state" and "weight" may change`;
  if (state === undefined && weight === undefined) return 'nothing to change: give "state" and/or "weight"';
  const change: Change = {};
  if (state !== undefined) {
    const admin = typeof state === 'string' && Object.hasOwn(STATE_TO_ADMIN, state) ? STATE_TO_ADMIN[state] : undefined;
    if (admin === undefined) return `"state" must be "drain", "disabled" or "up", got ${JSON.stringify(state)}`;
    change.admin = admin;
  }
  if (weight !== undefined) {
    const problem = weightProblem(weight);
    if (problem !== undefined) return problem;
    change.weight = weight as number;
  }
  return change;
}

/** The request's body as JSON, at most MAX_BODY_BYTES. */
function readJson(req: IncomingMessage): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        reject(new Error(`over ${MAX_BODY_BYTES} bytes: an API body is a small JSON object`));
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => {
      try {
        resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')));
      } catch {
        reject(new Error('the body is not JSON'));
      }
    });
    req.on('error', reject);
  });
}

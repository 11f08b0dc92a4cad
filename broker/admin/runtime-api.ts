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
 *
 * The API answers an AdminRequest (plain data, body already read), so that with --workers the
 * primary answers what a worker relays; what it lists and changes is a ServerControl: this
 * process's table (TableControl), or the whole --workers broker (cluster/primary.ts).
 */
import { HttpErrorCode } from '../http/http-errors.js';
import type { ReloadResult } from '../http/static-backends.js';
import { weightProblem, type AdminMode, type Member } from '../routing/member.js';
import type { PolicyTable } from '../routing/policy-table.js';
import type { Membership } from '../registry/membership.js';
import { ProtocolError } from '../protocol/error-codes.js';
import type { Logger } from '../support/logger.js';
import { SecretCheck } from '../support/secret.js';
import { errorAnswer, jsonAnswer, type AdminAnswer, type AdminRequest } from './answer.js';
import type { HttpSource } from './http-source.js';

/** The API's names for what the operator asks ("up" puts a member back: enabled). */
const STATE_TO_ADMIN: Record<string, AdminMode> = { drain: 'drain', disabled: 'disabled', up: 'enabled' };

/** What the API is given by the composition root. */
export interface RuntimeApiSettings {
  /** The servers it lists and changes. */
  servers: ServerControl;
  log: Logger;
  /** --admin-token, else --http-token; undefined: writes only when `loopbackOnly`. */
  writeToken: string | undefined;
  /** True when every listener is on loopback. */
  loopbackOnly: boolean;
  /** Re-reads servers.conf; undefined without the HTTP front end. Throws (or rejects) on a bad file. */
  reload?: () => ReloadResult | Promise<ReloadResult>;
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

/** What an operator may change of a server (plain data: it crosses IPC with --workers). */
export interface ServerChange {
  admin?: AdminMode;
  weight?: number;
}

/** The servers the API lists and changes. */
export interface ServerControl {
  rows(): ServerRow[];
  /**
   * Applies `change` to every member of `key` (every policy it serves); the rows changed, none
   * when there is no such server. A promise where the change must reach other processes first.
   */
  change(key: string, change: ServerChange): ServerRow[] | Promise<ServerRow[]>;
}

/** A change the API cannot make, with the answer that says why. */
export class ChangeRefused extends Error {
  constructor(readonly answer: AdminAnswer) {
    super(answer.body);
  }
}

/**
 * The members of one policy table. With the broker's `membership`, a registered server's change
 * goes through the registry store, so that every broker sharing it agrees (Membership applies
 * the store's event); a static backend's is local. Without (a --workers worker, told by its
 * primary, which made the change in the store already), the change is applied to the table here.
 */
export class TableControl implements ServerControl {
  constructor(
    private readonly table: PolicyTable,
    private readonly membership?: Pick<Membership, 'setAdmin'>,
  ) {}

  rows(): ServerRow[] {
    return Array.from(this.table.members(), rowOf);
  }

  async change(key: string, change: ServerChange): Promise<ServerRow[]> {
    const members = Array.from(this.table.members()).filter((m) => keyOf(m) === key);
    for (const member of members) {
      if (this.membership === undefined) {
        if (change.weight !== undefined) this.table.setWeight(member, change.weight);
        if (change.admin !== undefined) this.table.setAdmin(member, change.admin);
        continue;
      }
      let applied: boolean;
      try {
        applied = await this.membership.setAdmin(member, { mode: change.admin, weight: change.weight });
      } catch (err) {
        // Redis is away: refused rather than made on this broker only.
        if (!(err instanceof ProtocolError)) throw err;
        throw new ChangeRefused(errorAnswer(HttpErrorCode.REGISTRY_UNAVAILABLE, err.message));
      }
      if (!applied) throw new ChangeRefused(errorAnswer(HttpErrorCode.NOT_FOUND, `server ${key} left or registered again while the change was made: nothing changed`));
    }
    return members.map(rowOf);
  }
}

/**
 * The servers of a --workers broker: the registered ones of the primary's table (with the
 * workers' HTTP figures added), and the static backends of the workers' reports (each worker holds
 * its own, from servers.conf). A change is applied to the table and handed to `tell`, which sends
 * it to every worker.
 */
export class WorkersControl implements ServerControl {
  private readonly own: TableControl;

  constructor(
    table: PolicyTable,
    /** The primary's membership: registered servers change through the registry store. */
    membership: Pick<Membership, 'setAdmin'>,
    /** The workers' merged reports (merged-http.ts). */
    private readonly http: Pick<HttpSource, 'backends'>,
    /** Resolves once every worker has applied the change. */
    private readonly tell: (key: string, change: ServerChange, isStatic: boolean) => Promise<void>,
  ) {
    this.own = new TableControl(table, membership);
  }

  rows(): ServerRow[] {
    const backends = [...this.http.backends()];
    const registered = this.own.rows().map((row) => {
      const http = backends.find((b) => b.source === 'registered' && String(b.id) === row.key && b.policy === row.policy);
      return http === undefined ? row : { ...row, inflight: row.inflight + http.outstanding, served: row.served + http.served };
    });
    const statics = backends
      .filter((b) => b.source === 'static')
      .map((b): ServerRow => ({ key: b.address, policy: b.policy, source: 'static', address: b.address, httpAddress: null, state: b.state, admin: b.admin, weight: b.weight, inflight: b.outstanding, served: b.served }));
    return [...registered, ...statics];
  }

  async change(key: string, change: ServerChange): Promise<ServerRow[]> {
    const registered = await this.own.change(key, change);
    // A static backend as the workers last reported it, with the change (they apply it now).
    const statics = this.rows()
      .filter((row) => row.source === 'static' && row.key === key)
      .map((row) => ({ ...row, ...(change.admin !== undefined && { admin: change.admin }), ...(change.weight !== undefined && { weight: change.weight }) }));
    if (registered.length + statics.length > 0) await this.tell(key, change, statics.length > 0);
    return [...registered, ...statics];
  }
}

export class RuntimeApi {
  private readonly writeCheck: SecretCheck | undefined;

  constructor(private readonly settings: RuntimeApiSettings) {
    this.writeCheck = settings.writeToken === undefined ? undefined : new SecretCheck(`Bearer ${settings.writeToken}`);
  }

  /** Answers one request under api/; `path` is what follows `api/`. */
  answer(path: string, req: AdminRequest): AdminAnswer | Promise<AdminAnswer> {
    const method = req.method;
    if (path === 'servers') {
      if (method !== 'GET') return errorAnswer(HttpErrorCode.METHOD_NOT_ALLOWED, 'api/servers answers GET');
      if (!req.authorized) return errorAnswer(HttpErrorCode.UNAUTHORIZED, 'this broker needs Authorization: Bearer <token>');
      return jsonAnswer(200, { servers: this.settings.servers.rows() });
    }
    const write = path === 'reload' ? 'POST' : path.startsWith('servers/') ? 'PATCH' : undefined;
    if (write === undefined) return errorAnswer(HttpErrorCode.NOT_FOUND, `no such API call: api/${path}`);
    if (method !== write) return errorAnswer(HttpErrorCode.METHOD_NOT_ALLOWED, `api/${path.startsWith('servers/') ? 'servers/KEY' : path} answers ${write}`);
    const refused = this.writeRefusal(req);
    if (refused !== undefined) return refused;
    if (path === 'reload') return this.reload(req.who);
    let body: unknown;
    try {
      body = JSON.parse(req.body ?? '');
    } catch {
      return errorAnswer(HttpErrorCode.BAD_REQUEST, 'the body is not JSON');
    }
    return this.patch(decodeURIComponent(path.slice('servers/'.length)), body, req.who);
  }

  private writeRefusal(req: AdminRequest): AdminAnswer | undefined {
    if (this.writeCheck !== undefined) {
      return this.writeCheck.matches(req.authorization) ? undefined : errorAnswer(HttpErrorCode.UNAUTHORIZED, 'changes need Authorization: Bearer <admin token> (--admin-token, else --http-token)');
    }
    if (this.settings.loopbackOnly) return undefined;
    return errorAnswer(HttpErrorCode.UNAUTHORIZED, 'this broker listens beyond loopback without --admin-token or --http-token: the runtime API takes no changes');
  }

  private async reload(who: string): Promise<AdminAnswer> {
    if (this.settings.reload === undefined) return errorAnswer(HttpErrorCode.NOT_FOUND, 'no HTTP front end: there is no servers.conf to reload');
    try {
      const result = await this.settings.reload();
      this.settings.log.info('reload asked', { by: who, ...result });
      return jsonAnswer(200, { reloaded: result });
    } catch (err) {
      return errorAnswer(HttpErrorCode.BAD_REQUEST, (err as Error).message);
    }
  }

  private async patch(key: string, body: unknown, who: string): Promise<AdminAnswer> {
    const change = parseChange(body);
    if (typeof change === 'string') return errorAnswer(HttpErrorCode.BAD_REQUEST, change);
    let changed: ServerRow[];
    try {
      changed = await this.settings.servers.change(key, change);
    } catch (err) {
      if (err instanceof ChangeRefused) return err.answer;
      throw err;
    }
    if (changed.length === 0) return errorAnswer(HttpErrorCode.NOT_FOUND, `no server ${key}: a registered server's id or a static backend's IP:PORT`);
    for (const row of changed) this.settings.log.info('server changed by the operator', { server: key, policy: row.policy, ...change, by: who });
    return jsonAnswer(200, { changed });
  }
}

/** One member as the API lists it. */
export function rowOf(m: Member): ServerRow {
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

function parseChange(body: unknown): ServerChange | string {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) return 'the body must be a JSON object: {"state": "drain" | "disabled" | "up", "weight": 1-1000}';
  const { state, weight, ...rest } = body as Record<string, unknown>;
  const unknown = Object.keys(rest);
  if (unknown.length > 0) return `unknown field ${JSON.stringify(unknown[0])}: only "state" and "weight" may change`;
  if (state === undefined && weight === undefined) return 'nothing to change: give "state" and/or "weight"';
  const change: ServerChange = {};
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

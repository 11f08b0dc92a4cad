/**
 * The servers.conf backends in the policy table, and a reload of the file without a restart
 * (SIGHUP, POST <admin prefix>api/reload): added entries join, removed ones drain (no new
 * requests; those in flight finish) and then leave, unchanged ones keep their member, and with
 * it their connections, counters and health; a changed weight is applied in place.
 */
import { Member } from '../routing/member.js';
import type { PolicyTable } from '../routing/policy-table.js';
import type { Logger } from '../support/logger.js';
import { loadServersFile, ServersFileError, type StaticBackend } from '../support/servers-file.js';
import { waitUntil } from '../support/wait-until.js';

export interface ReloadResult {
  added: number;
  removed: number;
  kept: number;
  reweighted: number;
}

/** Reloads so far, for the status page and the metrics. */
export interface ReloadCounts {
  ok: number;
  failed: number;
  /** Why the last failed reload failed; null once one succeeds again. */
  lastError: string | null;
  lastAt: number | null;
}

export class StaticBackends {
  /** By `host:port policy`: one member per entry. */
  private readonly members = new Map<string, Member>();
  readonly reloads: ReloadCounts = { ok: 0, failed: 0, lastError: null, lastAt: null };

  constructor(
    private readonly table: PolicyTable,
    private readonly defaultPolicy: number,
    /** How long a removed backend may take to finish its requests before it leaves anyway. */
    private readonly drainMs: number,
    private readonly log: Logger,
  ) {}

  /** Makes the table's static backends those of `entries`. */
  apply(entries: readonly StaticBackend[]): ReloadResult {
    const result: ReloadResult = { added: 0, removed: 0, kept: 0, reweighted: 0 };
    const wanted = new Map(entries.map((entry) => [this.key(entry), entry]));
    for (const [key, member] of this.members) {
      if (wanted.has(key)) continue;
      this.members.delete(key);
      result.removed++;
      void this.leave(member);
    }
    for (const [key, entry] of wanted) {
      const weight = entry.weight ?? 1;
      const member = this.members.get(key);
      if (member !== undefined) {
        result.kept++;
        if (member.weight !== weight) {
          this.table.setWeight(member, weight);
          result.reweighted++;
        }
        continue;
      }
      const info = { id: undefined, policy: entry.policy ?? this.defaultPolicy, host: entry.host, packetPort: undefined, httpPort: entry.port };
      const added = new Member({ ...info, maxInflight: 1, session: false, tls: false, registeredAt: Date.now(), generation: 0, weight, ...tlsOf(entry) });
      this.members.set(key, added);
      this.table.add(added);
      result.added++;
    }
    return result;
  }

  /**
   * Reads `file` again and applies it. A file that does not parse changes nothing: the error
   * (naming the file and the entry) is counted, logged once and thrown.
   */
  reload(file: string | undefined): ReloadResult {
    this.reloads.lastAt = Date.now();
    try {
      if (file === undefined) throw new ServersFileError('this broker was started without --servers: there is no file to reload');
      const result = this.apply(loadServersFile(file));
      this.reloads.ok++;
      this.reloads.lastError = null;
      this.log.info('servers.conf reloaded', { file, ...result });
      return result;
    } catch (err) {
      if (!(err instanceof ServersFileError)) throw err;
      this.reloads.failed++;
      this.reloads.lastError = err.message;
      this.log.error('servers.conf not reloaded: the running backends stay', { error: err.message });
      throw err;
    }
  }

  /** Takes every static backend out at once (shutdown). */
  close(): void {
    for (const member of this.members.values()) this.table.remove(member);
    this.members.clear();
  }

  /** Drains a removed backend: no new requests, those in flight finish (up to drainMs), then it leaves. */
  private async leave(member: Member): Promise<void> {
    this.table.setAdmin(member, 'drain');
    const idle = await waitUntil(() => (member.http?.outstanding ?? 0) === 0, this.drainMs);
    if (!idle) this.log.warn('HTTP server removed with requests in flight', { address: member.http?.address, policy: member.policy });
    this.table.remove(member);
  }

  /** A change of tls or servername makes another member (another connection pool). */
  private key(entry: StaticBackend): string {
    return `${entry.host}:${entry.port} ${entry.policy ?? this.defaultPolicy}${entry.tls === true ? ` tls ${entry.servername ?? ''}` : ''}`;
  }
}

function tlsOf(entry: StaticBackend): { httpTls?: true; httpServername?: string } {
  if (entry.tls !== true) return {};
  return entry.servername === undefined ? { httpTls: true } : { httpTls: true, httpServername: entry.servername };
}

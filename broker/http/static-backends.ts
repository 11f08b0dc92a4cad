/**
 * The servers.conf file as the source of the static members, and a reload of it without a
 * restart (SIGHUP, POST <admin prefix>api/reload). Which backends join, drain or stay is
 * Membership's (registry/membership.ts, the table's one writer of members): this file reads the
 * file, hands Membership the list, and counts the reloads.
 */
import type { Membership } from '../registry/membership.js';
import type { ReloadResult } from '../registry/static-members.js';
import type { Logger } from '../support/logger.js';
import { loadServersFile, ServersFileError, type StaticBackend } from '../support/servers-file.js';

export type { ReloadResult } from '../registry/static-members.js';

/** Reloads so far, for the status page and the metrics. */
export interface ReloadCounts {
  ok: number;
  failed: number;
  /** Why the last failed reload failed; null once one succeeds again. */
  lastError: string | null;
  lastAt: number | null;
}

export class StaticBackends {
  readonly reloads: ReloadCounts = { ok: 0, failed: 0, lastError: null, lastAt: null };

  constructor(
    private readonly membership: Membership,
    private readonly defaultPolicy: number,
    private readonly log: Logger,
  ) {}

  /** Makes the table's static backends those of `entries`. */
  apply(entries: readonly StaticBackend[]): ReloadResult {
    return this.membership.setStatic(entries, this.defaultPolicy);
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
    this.membership.clearStatic();
  }
}

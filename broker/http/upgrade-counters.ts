/**
 * The figures of upgraded connections (WebSockets) through the HTTP front end: how upgrade
 * requests ended, the tunnels open now per policy and backend, and the bytes relayed each way.
 * Plain fields, bumped per upgrade and per chunk relayed; read by status, metrics, the dashboard
 * and the --workers report. The open table holds only open tunnels (an entry goes at zero), so
 * it is bounded by the connection limit.
 */

/** How the upgrade requests ended, and the bytes of their tunnels. */
export interface UpgradeTotals {
  /** Backends' 101 relayed: a tunnel opened. */
  upgraded: number;
  /** Answered by the broker before anything switched (no server, refused, limits, hooks), by code. */
  refused: Partial<Record<string, number>>;
  /** Every attempt failed before a 101 (the client got 502/504). */
  failed: number;
  /** The backend answered something else than 101, relayed as a normal response. */
  notUpgraded: number;
  /** Tunnels closed, by either side, idle, or the drain. */
  closed: number;
  /** Bytes relayed from clients to backends, and from backends to clients, after the switch. */
  bytesToBackend: number;
  bytesToClient: number;
}

/** What status, metrics and the --workers report read of the upgrades. */
export interface UpgradeFigures {
  readonly totals: UpgradeTotals;
  readonly open: readonly OpenTunnels[];
}

/** Tunnels open now, for one policy and backend. */
export interface OpenTunnels {
  readonly policy: number;
  readonly server: string;
  readonly open: number;
}

export function emptyUpgradeTotals(): UpgradeTotals {
  return { upgraded: 0, refused: {}, failed: 0, notUpgraded: 0, closed: 0, bytesToBackend: 0, bytesToClient: 0 };
}

export class UpgradeCounters {
  readonly totals = emptyUpgradeTotals();
  /** policy → backend label → tunnels open. */
  private readonly openTunnels = new Map<number, Map<string, number>>();
  private openCount = 0;

  /** Tunnels open now, all policies. */
  get open(): number {
    return this.openCount;
  }

  refused(code: string): void {
    this.totals.refused[code] = (this.totals.refused[code] ?? 0) + 1;
  }

  /** A tunnel opened to `server` (its label) for `policy`. */
  opened(policy: number, server: string): void {
    this.totals.upgraded++;
    this.openCount++;
    let servers = this.openTunnels.get(policy);
    if (servers === undefined) this.openTunnels.set(policy, (servers = new Map()));
    servers.set(server, (servers.get(server) ?? 0) + 1);
  }

  /** A tunnel opened by opened(policy, server) closed. */
  closedOne(policy: number, server: string): void {
    this.totals.closed++;
    this.openCount--;
    const servers = this.openTunnels.get(policy);
    const left = (servers?.get(server) ?? 1) - 1;
    if (left > 0) servers!.set(server, left);
    else {
      servers?.delete(server);
      if (servers?.size === 0) this.openTunnels.delete(policy);
    }
  }

  /** The tunnels open now, by policy and backend. */
  *openByServer(): IterableIterator<OpenTunnels> {
    for (const [policy, servers] of this.openTunnels) for (const [server, open] of servers) yield { policy, server, open };
  }

  /** The whole state as plain data (the --workers report). */
  snapshot(): UpgradeFigures {
    return { totals: { ...this.totals, refused: { ...this.totals.refused } }, open: [...this.openByServer()] };
  }
}

/** The sum of several front ends' figures (the --workers merge). */
export function mergeUpgradeFigures(list: readonly UpgradeFigures[]): UpgradeFigures {
  const into = { totals: emptyUpgradeTotals(), open: new Map<string, OpenTunnels>() };
  for (const from of list) addUpgradeFigures(into, from);
  return { totals: into.totals, open: [...into.open.values()] };
}

function addUpgradeFigures(into: { totals: UpgradeTotals; open: Map<string, OpenTunnels> }, from: UpgradeFigures): void {
  const t = into.totals;
  const f = from.totals;
  t.upgraded += f.upgraded;
  t.failed += f.failed;
  t.notUpgraded += f.notUpgraded;
  t.closed += f.closed;
  t.bytesToBackend += f.bytesToBackend;
  t.bytesToClient += f.bytesToClient;
  for (const [code, n] of Object.entries(f.refused)) t.refused[code] = (t.refused[code] ?? 0) + (n ?? 0);
  for (const o of from.open) {
    const key = `${o.policy}/${o.server}`;
    const previous = into.open.get(key);
    into.open.set(key, { policy: o.policy, server: o.server, open: (previous?.open ?? 0) + o.open });
  }
}

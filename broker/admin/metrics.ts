/**
 * The metrics served at <admin prefix>metrics, in Prometheus text format (prom-client). Nothing
 * here runs per packet: every value is read at scrape time, in prom-client `collect()`
 * callbacks, from counters the broker keeps anyway (the packet and HTTP Counters, the server
 * records, the HTTP backends). The two latency histograms are the broker's own fixed-bucket
 * counters (support/latency-histogram.ts), exported as Prometheus histograms.
 *
 * Each broker has its own prom-client Registry (several brokers may share a process), made when
 * its admin pages start, together with prom-client's default process and Node.js metrics:
 * prom-client counts process_cpu_seconds_total from the moment they are made.
 */
import type { HookCounts } from '../hooks/counters.js';
import { collectDefaultMetrics, Registry } from 'prom-client';
import type { MemberState } from '../routing/member.js';
import { FORGOTTEN_POLICY } from '../routing/counters.js';
import { FORGOTTEN_LABEL, ScrapeMetrics, type Reader } from './scrape-metrics.js';
import { hookCounts, type StatusSources } from './status.js';

const PACKET_STATES: readonly MemberState[] = ['connecting', 'up', 'down', 'draining'];
const HTTP_STATES: readonly MemberState[] = ['connecting', 'up', 'down'];
/** The policy label of packets whose policy never had a server. */
export const UNREGISTERED_POLICY = 'none';
export { FORGOTTEN_LABEL, MAX_SERIES_PER_METRIC } from './scrape-metrics.js';

/** The label of a policy number: its digits, or one of the two buckets that are not a policy. */
function policyLabel(policy: number): string {
  if (policy === FORGOTTEN_POLICY) return FORGOTTEN_LABEL;
  return policy === -1 ? UNREGISTERED_POLICY : String(policy);
}

export class BrokerMetrics {
  readonly registry = new Registry();
  private readonly made: ScrapeMetrics;

  constructor(private readonly src: StatusSources) {
    collectDefaultMetrics({ register: this.registry });
    this.made = new ScrapeMetrics(this.registry);
    this.definePacketMetrics();
    if (src.http !== undefined) this.defineHttpMetrics();
    this.defineHookMetrics();
    this.defineRegistryMetrics();
  }

  /** With a shared registry: whether Redis answers, and how many brokers share it. */
  private defineRegistryMetrics(): void {
    const registry = this.src.registry;
    if (registry === undefined || registry().kind !== 'redis') return;
    const shared = (): Extract<ReturnType<typeof registry>, { kind: 'redis' }> => registry() as Extract<ReturnType<typeof registry>, { kind: 'redis' }>;
    this.made.gauge('registry_degraded', '1 while the shared registry (Redis) does not answer: routing goes on from the last view.', [], (emit) => emit({}, shared().degraded ? 1 : 0));
    this.made.gauge('registry_pending_writes', 'Removals and drains made while Redis did not answer, not yet written back.', [], (emit) => emit({}, shared().pendingWrites));
    this.made.gauge('registry_brokers', 'Brokers sharing the registry, this one included, as last seen.', [], (emit) => emit({}, shared().brokers.length));
    this.made.gauge('registry_primary', 'The Redis primary in use (with Sentinel, the one they named): 1 for its address.', ['address'], (emit) => {
      const primary = shared().primary;
      if (primary !== null) emit({ address: primary.address }, 1);
    });
    this.made.gauge('registry_primary_changes', 'Times the primary in use changed (Sentinel failovers followed) since the broker started.', [], (emit) => emit({}, shared().primary?.changes ?? 0));
    this.made.gauge('registry_primary_since_seconds', 'When the primary in use became so (Unix time, seconds).', [], (emit) => emit({}, (shared().primary?.since ?? 0) / 1000));
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  /** The exposition text. */
  text(): Promise<string> {
    return this.registry.metrics();
  }

  private definePacketMetrics(): void {
    const { stats, table } = this.src;
    this.made.counter('packets_received_total', 'Client packets accepted for routing.', [], (emit) => emit({}, stats.received));
    this.made.counter(
      'packets_answered_total',
      'Client packets answered, by policy and outcome: "reply" (a server\'s reply) or the error code sent.',
      ['policy', 'outcome'],
      (emit) => {
        for (const p of [...stats.policies(), stats.unregistered]) {
          const policy = policyLabel(p.policy);
          if (p.policy !== -1) emit({ policy, outcome: 'reply' }, p.replied);
          for (const [code, n] of Object.entries(p.errors)) emit({ policy, outcome: code }, n ?? 0);
        }
      },
    );
    this.made.counter('packets_rerouted_total', 'Packets sent to another server after the one they were on failed, by policy.', ['policy'], (emit) => {
      for (const p of stats.policies()) emit({ policy: policyLabel(p.policy) }, p.rerouted);
    });
    this.made.counter('packets_dropped_total', 'Answers not delivered because the client had gone.', [], (emit) => emit({}, stats.dropped));
    this.made.counter('packet_errors_total', 'Error packets sent, by code (routing errors and bad input alike).', ['code'], (emit) => {
      for (const [code, n] of Object.entries(stats.errors)) emit({ code }, n ?? 0);
    });
    this.made.gauge('packets_in_flight', 'Packets accepted and not yet answered.', [], (emit) => emit({}, this.src.packetOutstanding()));
    this.made.histogram('packet_latency_seconds', 'Time from accepting a client packet to delivering its reply, by policy.', () =>
      [...stats.policies()].map((p) => ({ labels: { policy: policyLabel(p.policy) }, histogram: p.latency })),
    );
    this.made.gauge('servers', 'Registered packet servers, by policy and state.', ['policy', 'state'], (emit) => {
      const counts = new Map<number, Map<MemberState, number>>();
      for (const group of table.policies()) {
        if (group.serving.packets === 0) continue;
        const byState = new Map<MemberState, number>(PACKET_STATES.map((s) => [s, 0]));
        for (const member of group.members) if (member.packets !== undefined) byState.set(member.packets.state, byState.get(member.packets.state)! + 1);
        counts.set(group.policy, byState);
      }
      for (const [policy, byState] of counts) for (const [state, n] of byState) emit({ policy: String(policy), state }, n);
    });
    this.made.gauge('server_packets_in_flight', 'Packets written or queued to each server.', ['policy', 'server'], (emit) => {
      for (const e of table.endpoints('packets')) emit({ policy: String(e.member.policy), server: String(e.member.id) }, e.outstanding);
    });
    const serverTotals = (field: 'served' | 'failures'): Reader => (emit) => {
      const totals = new Map<string, { policy: number; id: number; n: number }>();
      const add = (policy: number, id: number, n: number): void => {
        const key = `${policy}/${id}`;
        const entry = totals.get(key);
        if (entry === undefined) totals.set(key, { policy, id, n });
        else entry.n += n;
      };
      for (const r of stats.retiredServers()) add(r.policy, r.id, r[field]);
      for (const e of table.endpoints('packets')) add(e.member.policy, e.member.id!, e[field]);
      for (const t of totals.values()) emit({ policy: policyLabel(t.policy), server: t.id === FORGOTTEN_POLICY ? FORGOTTEN_LABEL : String(t.id) }, t.n);
    };
    this.made.counter('server_packets_served_total', 'Packets answered by each server (kept after it leaves).', ['policy', 'server'], serverTotals('served'));
    this.made.counter('server_failures_total', 'Connection failures and timeouts of each server.', ['policy', 'server'], serverTotals('failures'));
  }

  private defineHttpMetrics(): void {
    const http = this.src.http!;
    const reloads = http.reloads;
    if (reloads !== undefined) {
      this.made.counter('servers_reloads_total', 'Reloads of servers.conf (SIGHUP, POST /_broker/api/reload), by result: "ok" or "failed" (the running backends stayed).', ['result'], (emit) => {
        emit({ result: 'ok' }, reloads.ok);
        emit({ result: 'failed' }, reloads.failed);
      });
    }
    // Read at each scrape: the --workers view replaces its stats object as the workers report.
    const stats = () => http.stats;
    this.made.counter('http_requests_total', 'HTTP requests received, proxied or answered by the broker itself.', [], (emit) => emit({}, stats().received));
    this.made.counter(
      'http_requests_answered_total',
      'Proxied HTTP requests answered, by policy and outcome: "reply" (a backend\'s response) or the broker\'s error code.',
      ['policy', 'outcome'],
      (emit) => {
        for (const p of stats().policies()) {
          const policy = policyLabel(p.policy);
          emit({ policy, outcome: 'reply' }, p.replied);
          for (const [code, n] of Object.entries(p.errors)) emit({ policy, outcome: code }, n ?? 0);
        }
      },
    );
    this.made.counter('http_responses_total', 'Responses relayed from backends, by policy, server (id or address) and status.', ['policy', 'server', 'status'], (emit) => {
      for (const p of stats().policies()) {
        for (const [server, statuses] of p.byServer) for (const [status, n] of statuses) emit({ policy: policyLabel(p.policy), server, status: String(status) }, n);
      }
    });
    this.made.counter('http_errors_total', 'Answers the broker gave itself, by code.', ['code'], (emit) => {
      for (const [code, n] of Object.entries(stats().errors)) emit({ code }, n ?? 0);
    });
    this.made.counter('http_retries_total', 'Requests sent to another backend after one failed.', [], (emit) => emit({}, stats().rerouted));
    this.made.counter('http_client_aborts_total', 'Requests whose client went away before the answer was complete.', [], (emit) => emit({}, stats().dropped));
    this.made.counter('http_truncated_total', 'Responses cut short because the backend failed mid-body.', [], (emit) => emit({}, stats().truncated));
    this.made.gauge('http_requests_in_flight', 'HTTP requests being proxied.', [], (emit) => emit({}, http.inflight));
    this.made.gauge('http_connections', 'Open HTTP client connections.', [], (emit) => emit({}, http.connectionCount));
    this.made.histogram('http_request_duration_seconds', 'Time from a request\'s arrival to the end of the relayed response, by policy.', () =>
      [...stats().policies()].map((p) => ({ labels: { policy: policyLabel(p.policy) }, histogram: p.latency })),
    );
    this.made.gauge('http_servers', 'HTTP backends (registered and static), by policy and state.', ['policy', 'state'], (emit) => {
      const counts = new Map<number, Map<MemberState, number>>();
      for (const b of http.backends()) {
        let byState = counts.get(b.policy);
        if (byState === undefined) {
          byState = new Map(HTTP_STATES.map((st) => [st, 0]));
          counts.set(b.policy, byState);
        }
        byState.set(b.state, (byState.get(b.state) ?? 0) + 1);
      }
      for (const [policy, byState] of counts) for (const [state, n] of byState) emit({ policy: String(policy), state }, n);
    });
    this.made.gauge('http_server_requests_in_flight', 'Requests being proxied to each backend.', ['policy', 'server'], (emit) => {
      for (const b of http.backends()) emit({ policy: String(b.policy), server: b.id === undefined ? b.address : String(b.id) }, b.outstanding);
    });
    this.defineUpgradeMetrics();
    const workers = http.workers?.bind(http);
    if (workers !== undefined) {
      this.made.gauge('http_workers', 'HTTP worker processes (--workers), listening or starting.', [], (emit) => emit({}, workers().length));
      this.made.gauge('http_worker_resident_memory_bytes', 'Resident memory of each HTTP worker process, at its last report.', ['worker', 'pid'], (emit) => {
        for (const w of workers()) emit({ worker: String(w.id), pid: String(w.pid) }, w.rss);
      });
      this.made.gauge('http_worker_connections', 'Open HTTP client connections of each worker process.', ['worker', 'pid'], (emit) => {
        for (const w of workers()) emit({ worker: String(w.id), pid: String(w.pid) }, w.connections);
      });
    }
  }

  /** Upgrade requests (WebSockets) and their tunnels: outcomes, open ones, bytes relayed. */
  private defineUpgradeMetrics(): void {
    const figures = () => this.src.http!.upgradeFigures();
    this.made.counter('http_upgrades_total', 'Upgrade requests (WebSocket handshakes) by outcome: upgraded (101 relayed), not_upgraded (another answer relayed), failed (backends failed before a 101), refused (answered by the broker, by code).', ['outcome', 'code'], (emit) => {
      const t = figures().totals;
      emit({ outcome: 'upgraded', code: '' }, t.upgraded);
      emit({ outcome: 'not_upgraded', code: '' }, t.notUpgraded);
      emit({ outcome: 'failed', code: '' }, t.failed);
      for (const [code, n] of Object.entries(t.refused)) emit({ outcome: 'refused', code }, n ?? 0);
    });
    this.made.gauge('http_websockets_open', 'Upgraded connections (WebSockets) open now, by policy and backend.', ['policy', 'server'], (emit) => {
      for (const o of figures().open) emit({ policy: String(o.policy), server: o.server }, o.open);
    });
    this.made.counter('http_upgraded_closed_total', 'Upgraded connections closed, by either side, idle, or the drain.', [], (emit) => emit({}, figures().totals.closed));
    this.made.counter('http_upgraded_bytes_total', 'Bytes relayed through upgraded connections, by direction (to_backend, to_client).', ['direction'], (emit) => {
      const t = figures().totals;
      emit({ direction: 'to_backend' }, t.bytesToBackend);
      emit({ direction: 'to_client' }, t.bytesToClient);
    });
  }

  /** Per interceptor (docs/hooks.md); no series without interceptors. */
  private defineHookMetrics(): void {
    const each = (field: Exclude<keyof HookCounts, 'totalMs'>): Reader => (emit) => {
      for (const [hook, counts] of Object.entries(hookCounts(this.src))) emit({ hook }, counts[field]);
    };
    this.made.counter('hook_calls_total', 'Interceptor hook calls, by interceptor.', ['hook'], each('calls'));
    this.made.counter('hook_errors_total', 'Interceptor hook calls that threw or rejected.', ['hook'], each('errors'));
    this.made.counter('hook_timeouts_total', 'Interceptor hook calls that did not finish within their timeoutMs.', ['hook'], each('timeouts'));
    this.made.counter('hook_failed_closed_total', 'Messages answered 502 or HOOK_FAILED because a fail-closed hook failed.', ['hook'], each('failedClosed'));
    this.made.counter('hook_answered_total', 'Messages answered by the hook itself (respond, answer, drop).', ['hook'], each('answered'));
    this.made.counter('hook_overflows_total', 'Bodies larger than an interceptor\'s maxBytes.', ['hook'], each('overflows'));
    this.made.counter('hook_policy_changes_total', 'Messages whose policy a hook changed.', ['hook'], each('policyChanges'));
    this.made.counter('hook_seconds_total', 'Time spent in hook calls that finished.', ['hook'], (emit) => {
      for (const [hook, counts] of Object.entries(hookCounts(this.src))) emit({ hook }, counts.totalMs / 1000);
    });
  }
}

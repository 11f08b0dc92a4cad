/**
 * One routing decision as the trace records it: where a packet or an HTTP request went, the
 * servers that failed it on the way, and how it ended. Plain data (it crosses the cluster IPC
 * and the dashboard's event stream as JSON), and its one-line human form. No I/O.
 */

/** A server an attempt went to and that failed it, with why. */
export interface Reroute {
  server: number | null;
  address: string;
  reason: string;
}

interface DecisionBase {
  /** When it ended (ms since the epoch). */
  at: number;
  /**
   * When it arrived and was first routed (ms since the epoch, to the microsecond, from the
   * process's monotonic clock): what orders the decisions of one process as they were made.
   */
  decidedAt: number;
  policy: number;
  /** The server that answered, or the last one tried; null when none was picked. */
  server: number | null;
  address: string | null;
  /** Servers the packet or request was sent to (the answering one included); 0 when none. */
  attempt: number;
  /** Earlier attempts that failed, oldest first. */
  reroutes: Reroute[];
  /** `reply` (a packet) or the HTTP status text class (`ok`), else the error code. */
  outcome: string;
  /** From arrival to the answer, in milliseconds (three decimals). */
  ms: number;
}

export interface PacketDecision extends DecisionBase {
  kind: 'packet';
  /** The client's address. */
  client: string;
  /** The client connection's port: several connections may share a srcid, this tells them apart. */
  clientPort: number | null;
  srcid: number;
  seq: number | string | null;
}

export interface HttpDecision extends DecisionBase {
  kind: 'http';
  requestId: string;
  method: string;
  path: string;
  /** The status the client got (0: the connection was cut after the response head). */
  status: number;
  /** The W3C traceparent sent to the backend (the client's or one the broker made), if any. */
  traceparent?: string;
}

export type Decision = PacketDecision | HttpDecision;

/** What a server looks like to the trace: a registered server's record or an HTTP backend. */
export interface TracedServer {
  readonly id?: number | undefined;
  readonly host: string;
  readonly port: number;
}

export function serverAddress(server: TracedServer): string {
  return server.host.includes(':') ? `[${server.host}]:${server.port}` : `${server.host}:${server.port}`;
}

/** The decision in one line, for people: `packet 127.0.0.1 srcid 7 seq 3 → policy 111 → server 100 (127.0.0.1:4100) attempt 1 → reply 0.412 ms`. */
export function describeDecision(d: Decision): string {
  const who = d.kind === 'packet' ? `packet ${d.client} srcid ${d.srcid}${d.seq === null ? '' : ` seq ${d.seq}`}` : `http ${d.requestId} ${d.method} ${d.path}`;
  const where = d.server === null && d.address === null ? 'no server' : `server ${d.server ?? 'static'} (${d.address ?? '?'}) attempt ${d.attempt}`;
  const after = d.reroutes.map((r) => ` after server ${r.server ?? 'static'} (${r.address}) ${r.reason}`).join(',');
  const outcome = d.kind === 'http' ? `${d.status === 0 ? 'cut' : d.status}${d.outcome === 'ok' ? '' : ` ${d.outcome}`}` : d.outcome;
  const trace = d.kind === 'http' && d.traceparent !== undefined ? ` traceparent ${d.traceparent}` : '';
  return `${who} → policy ${d.policy} → ${where}${after} → ${outcome} ${d.ms} ms${trace}`;
}

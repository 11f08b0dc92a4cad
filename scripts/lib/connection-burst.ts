/**
 * A burst of new connections, opened all at once: what an instructor's `wrk -c1000` does first.
 * Each connection sends one request and waits for the first bytes of its answer; the result says
 * how many were answered and how long each waited, from connect() to the answer. Used by the
 * burst test (test/fault/connection-burst.test.ts) and the bursts suite of npm run bench.
 */
import { readFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';

export interface BurstOptions {
  port: number;
  host?: string;
  count: number;
  /** What each connection sends once connected. */
  request: string;
  /** True once the bytes received so far are an answer. */
  answered: (text: string) => boolean;
  /** Waits longer than this are counted in `over`. */
  withinMs: number;
  /** Connections still waiting after this long are closed and counted as failed. */
  boundMs: number;
}

export interface BurstResult {
  answered: number;
  failed: number;
  /** Answered later than withinMs. */
  over: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
}

export function connectionBurst(o: BurstOptions): Promise<BurstResult> {
  return new Promise((resolve) => {
    const times: number[] = [];
    const sockets: Socket[] = [];
    let failed = 0;
    let settled = 0;
    const timer = setTimeout(() => {
      for (const socket of sockets) socket.destroy();
    }, o.boundMs);
    const done = (): void => {
      if (++settled < o.count) return;
      clearTimeout(timer);
      times.sort((a, b) => a - b);
      const at = (q: number): number => round(times[Math.min(times.length - 1, Math.floor(q * times.length))] ?? NaN);
      resolve({ answered: times.length, failed, over: times.filter((t) => t > o.withinMs).length, p50Ms: at(0.5), p99Ms: at(0.99), maxMs: round(times.at(-1) ?? NaN) });
    };
    for (let i = 0; i < o.count; i++) {
      const started = performance.now();
      const socket = connect({ port: o.port, host: o.host ?? '127.0.0.1' });
      sockets.push(socket);
      let text = '';
      let counted = false;
      const settle = (ok: boolean): void => {
        if (counted) return;
        counted = true;
        if (ok) times.push(performance.now() - started);
        else failed++;
        socket.destroy();
        done();
      };
      socket.setEncoding('utf8');
      socket.on('connect', () => socket.write(o.request));
      socket.on('data', (chunk: string) => {
        text += chunk;
        if (o.answered(text)) settle(true);
      });
      socket.on('error', () => settle(false));
      socket.on('close', () => settle(false));
    }
  });
}

/**
 * The kernel's count of connections dropped because a listen queue was full (TcpExt
 * ListenOverflows, as `nstat` shows it), for the whole machine; undefined where /proc has none.
 */
export function listenOverflows(): number | undefined {
  try {
    const lines = readFileSync('/proc/net/netstat', 'utf8').split('\n');
    for (let i = 0; i + 1 < lines.length; i += 2) {
      if (!lines[i]!.startsWith('TcpExt:')) continue;
      const names = lines[i]!.split(/\s+/);
      const values = lines[i + 1]!.split(/\s+/);
      const at = names.indexOf('ListenOverflows');
      return at < 0 ? undefined : Number(values[at]);
    }
  } catch {
    // not Linux
  }
  return undefined;
}

const round = (ms: number): number => Math.round(ms * 10) / 10;

/** An HTTP/1.1 request that closes its connection, and the test for the start of an answer. */
export const HTTP_BURST = {
  request: 'GET / HTTP/1.1\r\nHost: burst\r\nConnection: close\r\n\r\n',
  answered: (text: string): boolean => /^HTTP\/1\.[01] \d{3} /.test(text),
};

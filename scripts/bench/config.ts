/**
 * Every setting of the benchmark in one place: the load shapes, and how long and how often
 * each case runs in quick and in full mode.
 */

export type Mode = 'quick' | 'full';

export interface Timing {
  /** Rounds of the main comparison; every case runs once per round, in a rotating order. */
  rounds: number;
  /** Rounds of the secondary cases (payloads, server counts, connections, HTTP). */
  sideRounds: number;
  warmupMs: number;
  durationMs: number;
  /** The window of the secondary packet cases (payloads, server counts, connections). */
  sideDurationMs: number;
  /** Idle client connections held open against the broker. */
  idleConnections: number;
  /** The soak: load for this long, RSS compared at `soakEarlyMs` and at the end. */
  soakMs: number;
  soakEarlyMs: number;
  soakSampleMs: number;
  /** wrk: seconds per run, and of the one warm-up run per target. */
  httpSeconds: number;
  httpWarmupSeconds: number;
}

export const TIMING: Record<Mode, Timing> = {
  // Quick mode must finish in under 2 minutes (issue 5); each suite logs its seconds.
  quick: {
    rounds: 3,
    sideRounds: 1,
    warmupMs: 300,
    durationMs: 1000,
    sideDurationMs: 1000,
    idleConnections: 10_000,
    soakMs: 10_000,
    soakEarlyMs: 3_000,
    soakSampleMs: 1_000,
    // wrk takes whole seconds.
    httpSeconds: 1,
    httpWarmupSeconds: 1,
  },
  full: {
    rounds: 5,
    sideRounds: 3,
    warmupMs: 1000,
    durationMs: 4000,
    // With the 10-minute soak, the full run must stay within 20 minutes (issue 5).
    sideDurationMs: 2500,
    idleConnections: 10_000,
    soakMs: 600_000,
    soakEarlyMs: 60_000,
    soakSampleMs: 5_000,
    httpSeconds: 3,
    httpWarmupSeconds: 2,
  },
};

/** The main packet load: one client process, 64 in flight over 4 connections, 3 servers. */
export const PACKET_SHAPE = {
  connections: 4,
  inflight: 64,
  payloadBytes: 16,
  servers: 3,
  policy: 111,
} as const;

export const PAYLOAD_SIZES = [16, 1024, 65536] as const;
export const SERVER_COUNTS = [1, 3, 10, 1000] as const;
/** The many-connections case: this many client connections, one packet in flight on each. */
export const MANY_CONNECTIONS = 1000;

/** HTTP: wrk connections, and the depth of the pipelined case. */
export const HTTP_CONNECTIONS = [64, 256] as const;
export const HTTP_PIPELINE_DEPTH = 10;
export const HTTP_PIPELINE_CONNECTIONS = 64;
export const HTTP_WARMUP_CONNECTIONS = 256;
export const HTTP_BACKENDS = 3;
/** The case name of scripts/bench/net-floor-proxy.ts, a measure rather than a peer. */
export const NET_FLOOR = 'node:net floor';

/** The registry suite (registry.ts): packets per client run, and registrations of the churn measure. */
export const REGISTRY_LOAD: Record<Mode, { packets: number; registrations: number }> = {
  quick: { packets: 60_000, registrations: 2_000 },
  full: { packets: 200_000, registrations: 10_000 },
};

/**
 * The registry suite's failover case: a load of `durationS` seconds through a broker on Redis
 * Sentinel, the primary SIGKILLed `killAfterMs` into it (and the same load without the kill).
 */
export const REGISTRY_FAILOVER: Record<Mode, { durationS: number; killAfterMs: number }> = {
  quick: { durationS: 8, killAfterMs: 1500 },
  full: { durationS: 15, killAfterMs: 3000 },
};

/** The registry suite's names in the records (the report looks them up). */
export const REGISTRY_SUITES = { oneBroker: 'registry-one-broker', twoBrokers: 'registry-two-brokers', churn: 'registry-churn', failover: 'registry-failover' } as const;
export const REGISTRY_CASES = {
  memory: 'in-memory registry',
  redis: '--registry redis',
  one: 'one broker, one client',
  two: 'two brokers, a client each',
  churn: '3 brokers',
  steady: 'Sentinel, no kill',
  killed: 'Sentinel, primary SIGKILLed',
} as const;

/** The goals of issue 26 (and 13's registry goal), checked in the report; the rest of the figures are for information. */
export const GOALS = {
  natsRatio: 3.5,
  limitRatio: 0.45,
  p99Ms: 1.5,
  /** 64 KiB payloads: policy-broker vs NATS. */
  payload64kNatsRatio: 1,
  /** 1,000 servers in the policy vs NATS with 1,000 queue responders, the same load. */
  servers1000NatsRatio: 4,
  /** Broker bytes per idle client connection vs a bare node:net server's (net-floor-holder.ts). */
  idleVsFloor: 1.15,
  soakGrowth: 1.2,
  httpMinimalRatio: 1.25,
  httpNodeProxyRatio: 2,
  httpP99VsNginx: 2.5,
  httpWorkersNginxRatio: 0.6,
  /** Packets through a broker with --registry redis vs the in-memory registry (issue 13). */
  registryRedisRatio: 0.95,
} as const;

/** The NATS case of the servers suite: as many queue responders as the broker's largest pool. */
export const NATS_MANY_RESPONDERS = `nats ${SERVER_COUNTS[SERVER_COUNTS.length - 1]} responders`;

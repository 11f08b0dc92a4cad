/** Every default of the client and the load generator, in one place. */

export const CLIENT_DEFAULTS = {
  host: '127.0.0.1',
  port: 2100,
  timeoutMs: 10_000,
  connectTimeoutMs: 5_000,
  reconnectMinMs: 50,
  reconnectMaxMs: 1_000,
  /** Above the broker's default --server-timeout (5 s): see ClientOptions.silenceMs. */
  silenceMs: 7_000,
} as const;

export const LOAD_DEFAULTS = {
  policy: 111,
  srcid: 1,
  payload: 'hello',
  concurrency: 1,
  /** Connections default to min(this, concurrency). */
  maxDefaultConnections: 4,
  progressIntervalMs: 200,
  /** Above this many packets, count mode keeps a histogram instead of every latency. */
  maxExactLatencies: 1_000_000,
} as const;

export const VERIFY_MODES = ['sha1', 'none'] as const;
export type VerifyMode = (typeof VERIFY_MODES)[number];

/**
 * The V8 flags the three programs run with: their `#!` lines carry them (so `npx policy-broker`
 * and an installed bin get them), and the launchers in scripts/lib/programs.ts pass them to
 * `node` (tests, benchmarks, the demo). A unit test keeps the `#!` lines and this list equal.
 *
 * --max-semi-space-size=2: a young generation capped at 2 MiB per semi-space. Under packet load
 * V8 otherwise grows it towards 16 MiB, after which (measured with --trace-gc-nvp on Node 20)
 * about 15 % of each scavenge survives and is promoted, scavenges pause 1.5–5 ms and a
 * mark-compact runs every ~300 ms; capped, scavenges stay near 0.1 ms with under 1 % surviving.
 * It also keeps the heap small during bursts of connects. See docs/benchmarks.md.
 */
export const NODE_FLAGS: readonly string[] = ['--max-semi-space-size=2'];

/**
 * The V8 flags the three programs run with: their `#!` lines carry them (so `npx policy-broker`
 * and an installed bin get them), and the launchers in scripts/lib/programs.ts pass them to
 * `node` (tests, benchmarks, the demo). A unit test keeps the `#!` lines and this list equal.
 *
 * --min-semi-space-size=16: V8's young generation starts at the size it would otherwise grow to under
 * load. Grown at run time (Node 20, measured with --trace-gc-nvp), about 15 % of each scavenge
 * survived and was promoted, scavenges paused 1.5–5 ms and a mark-compact ran every ~300 ms;
 * started at 16 MiB, scavenges stay near 0.2 ms with under 1 % surviving. Capping it small
 * instead (--max-semi-space-size=2) helped packets but cost the HTTP front end a quarter of its
 * throughput (A/B in the HTTP suite). See docs/benchmarks.md.
 */
export const NODE_FLAGS: readonly string[] = ['--min-semi-space-size=16'];

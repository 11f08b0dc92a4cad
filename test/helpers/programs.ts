/** The tests start the real programs through the same helper as the demo and the benchmarks. */
export * from '../../scripts/lib/programs.js';

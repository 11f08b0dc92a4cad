/**
 * The layering rules of docs/architecture.md, checked by `npm run check:layers` (part of
 * `npm test`). Imports run downwards only; a layer may import any layer below it:
 *
 *   main.ts, index.ts          the CLI and the library's entry
 *   cluster/, ctl/             --workers: supervision and IPC, built on the composition root;
 *                              `policy-broker ctl`, a client of the runtime API
 *   broker.ts                  createBroker(), the composition root
 *   admin/                     status, metrics, dashboard: read the table, counters, front ends
 *   packets/, http/            the front ends (I/O): translate sockets and requests into attempts
 *   options.ts, option-spec.ts the one option table; stop-sequence.ts, the one stop sequence
 *   registry/, hooks/          membership and stores; interceptors
 *   routing/, trace/           the routing core (pure); the decision trace
 *   protocol/, support/        the codec and validation (pure); shared helpers
 *
 * client/ and server-pool/ use broker/protocol and broker/support only; routing/ and protocol/
 * do no I/O (no node: module). No cycles anywhere.
 */
const LAYERS = [
  ['^broker/(protocol|support)/'],
  ['^broker/(routing|trace)/'],
  ['^broker/(registry|hooks)/'],
  ['^broker/options?(-spec)?\\.ts$', '^broker/stop-sequence\\.ts$'],
  ['^broker/(packets|http)/'],
  ['^broker/admin/'],
  ['^broker/(broker|http-composition)\\.ts$'],
  ['^broker/(cluster|ctl)/'],
  ['^broker/(main|index)\\.ts$'],
].map((paths) => paths.join('|'));

/** One rule per layer: nothing in it imports a layer above it. */
const upward = LAYERS.slice(0, -1).map((layer, i) => ({
  name: `layer-${i + 1}-imports-upward`,
  comment: `${layer} imports a layer above it (docs/architecture.md)`,
  severity: 'error',
  from: { path: layer },
  to: { path: LAYERS.slice(i + 1).join('|') },
}));

module.exports = {
  forbidden: [
    ...upward,
    {
      name: 'no-circular',
      comment: 'import cycles make the layering meaningless',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
    {
      name: 'routing-writes-endpoints',
      comment: 'an endpoint\'s state and counts have their writers in routing/ (liveness.ts, policy-table.ts); others report verdicts',
      severity: 'error',
      from: { pathNot: '^broker/routing/' },
      to: { path: '^broker/routing/endpoint-writes\\.ts$' },
    },
    {
      name: 'pure-core-no-io',
      comment: 'routing/ and protocol/ are pure: no node: modules',
      severity: 'error',
      from: { path: '^broker/(routing|protocol)/' },
      to: { dependencyTypes: ['core'] },
    },
    {
      name: 'programs-use-protocol-and-support-only',
      comment: 'the client and the server pool share the wire format and helpers, nothing else of the broker',
      severity: 'error',
      from: { path: '^(client|server-pool)/' },
      to: { path: '^broker/', pathNot: '^broker/(protocol|support)/' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsConfig: { fileName: 'tsconfig.json' },
    tsPreCompilationDeps: true,
    exclude: { path: '^(dist|node_modules)/' },
  },
};

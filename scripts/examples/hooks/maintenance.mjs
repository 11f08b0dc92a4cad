// @ts-check
/**
 * A canned maintenance answer (docs/hooks.md): requests under /billing/ get 503 with
 * Retry-After from the broker itself while the file named by MAINTENANCE_FLAG exists (default
 * /tmp/policy-broker-maintenance); no backend is asked, so it works with the backends down or gone.
 *
 *   policy-broker --http-port 8080 --servers servers.conf --plugin scripts/examples/hooks/maintenance.mjs
 *   touch /tmp/policy-broker-maintenance     # maintenance on;  rm it: off
 */
import { existsSync } from 'node:fs';

const FLAG = process.env.MAINTENANCE_FLAG ?? '/tmp/policy-broker-maintenance';

/** @type {import('../../../broker/index.js').Interceptor} */
export default {
  name: 'maintenance',
  match: { path: /^\/billing(?:\/|$)/ },
  onRequest(ctx) {
    // One stat per captured request: cheap, and the flag needs no restart.
    if (!existsSync(FLAG)) return;
    ctx.respond(
      503,
      { 'content-type': 'application/json', 'retry-after': '300' },
      JSON.stringify({ code: 'MAINTENANCE', message: 'billing is down for maintenance; try again in 5 minutes' }),
    );
  },
};

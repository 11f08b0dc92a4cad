// @ts-check
/**
 * Header injection (docs/hooks.md): every proxied request tells its backend which broker and
 * policy it came through; every response tells the client how long the backend took.
 *
 *   policy-broker --http-port 8080 --servers servers.conf --plugin scripts/examples/hooks/inject-headers.mjs
 *
 * Header-only hooks: bodies stream through untouched.
 */
import { hostname } from 'node:os';

const BROKER = hostname();

/** @type {import('../../../broker/index.js').Interceptor} */
export default {
  name: 'inject-headers',
  onRequest(ctx) {
    ctx.headers.set('x-broker', BROKER);
    ctx.headers.set('x-broker-policy', String(ctx.policy));
    ctx.state.startedAt = performance.now();
  },
  onResponse(ctx) {
    const ms = performance.now() - /** @type {number} */ (ctx.state.startedAt);
    ctx.headers.set('server-timing', `backend;dur=${ms.toFixed(1)}`);
  },
};

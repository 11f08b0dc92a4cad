// @ts-check
/**
 * NBoost-style search re-rank (docs/hooks.md). Captures Elasticsearch-style searches
 * (POST /<index>/_search), asks the search backend for more hits than the client wants
 * ("magnifies" the request), re-ranks them with a small model, and answers with the top ones.
 * Everything else passes through untouched, streamed.
 *
 *   policy-broker --http-port 8080 --servers servers.conf --plugin scripts/examples/hooks/search-rerank.mjs
 *
 * The "model" here is term overlap between the query and each hit's text: NBoost would call a
 * neural re-ranker at this point. A model that takes long belongs in another process or a
 * worker thread, never on the broker's event loop (docs/hooks.md, "What hooks must not do").
 */

/** How many more hits to ask for than the client wants. */
const MAGNIFY = 5;

/** @type {import('../../../broker/index.js').Interceptor} */
const rerank = {
  name: 'search-rerank',
  match: { path: /^\/[^/]+\/_search$/, methods: ['POST'] },
  bufferRequest: { maxBytes: 64 * 1024 },
  bufferResponse: { maxBytes: 10 << 20, onOverflow: 'passthrough' },
  timeoutMs: 2000,
  // A re-ranker that fails should not take search down: pass the backend's order through.
  failMode: 'open',
  onRequest(ctx) {
    const search = JSON.parse(ctx.body?.toString() || '{}');
    const size = Number.isInteger(search.size) ? search.size : 10;
    ctx.state.size = size;
    ctx.state.query = String(search.query?.match?.text ?? '');
    ctx.setBody(JSON.stringify({ ...search, size: size * MAGNIFY }));
  },
  onResponse(ctx) {
    if (ctx.status !== 200 || ctx.body === undefined) return;
    const result = JSON.parse(ctx.body.toString());
    const terms = words(/** @type {string} */ (ctx.state.query));
    const hits = result.hits.hits.map((/** @type {any} */ hit) => ({ ...hit, _score: overlap(terms, words(String(hit._source?.text ?? ''))) }));
    hits.sort((/** @type {any} */ a, /** @type {any} */ b) => b._score - a._score);
    result.hits.hits = hits.slice(0, /** @type {number} */ (ctx.state.size));
    ctx.headers.set('x-reranked-by', 'search-rerank');
    ctx.setBody(JSON.stringify(result));
  },
};

/** @param {string} text */
function words(text) {
  return new Set(text.toLowerCase().match(/[a-z0-9]+/g) ?? []);
}

/** @param {Set<string>} query @param {Set<string>} doc */
function overlap(query, doc) {
  let n = 0;
  for (const word of query) if (doc.has(word)) n++;
  return n;
}

export default rerank;

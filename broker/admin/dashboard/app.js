// @ts-check
/**
 * The live dashboard's script: every second it reads `status` and `activity` (relative to the
 * page's own address, so any --admin-prefix works) and updates the page in place. Data reaches
 * the page only through textContent and attributes, never as markup. Type-checked by tsc
 * (broker/admin/dashboard/tsconfig.json); the shapes below are those of status.ts and activity.ts.
 */

/**
 * @typedef {{ host: string, port: number }} HostPort
 * @typedef {{ id: number, host: string, port: number, state: string, admin?: string, weight?: number, outstanding: number, served: number, failures: number }} ServerStatus
 * @typedef {{ id: number | null, address: string, state: string, admin?: string, weight?: number, inflight: number, served: number, failures: number, lastError: string | null }} HttpServerStatus
 * @typedef {{ replied: number, errors: Record<string, number>, latencyMs: { p50: number | null, p99: number | null } }} PolicyCounters
 * @typedef {{ policy: number, servers: ServerStatus[], httpServers: HttpServerStatus[], packets: PolicyCounters & { rerouted: number }, http: PolicyCounters | null }} PolicyStatus
 * @typedef {{ id: number, pid: number, listening: boolean, connections: number, inflight: number, requests: number, proxied: number, rss: number }} WorkerStatus
 * @typedef {{ policy: number, server: string, open: number }} OpenTunnels
 * @typedef {{ open: number, upgraded: number, notUpgraded: number, failed: number, refused: Record<string, number>, closed: number,
 *   bytesToBackend: number, bytesToClient: number, openByServer: OpenTunnels[] }} UpgradesSection
 * @typedef {{ address: HostPort | null, requests: number, errors: Record<string, number>, upgrades?: UpgradesSection }} HttpSection
 * @typedef {{ calls: number, errors: number, timeouts: number, failedClosed: number, answered: number, overflows: number, policyChanges: number, totalMs: number }} HookCounts
 * @typedef {{ status: string, pid: number, uptimeMs: number, memory: { rss: number }, algorithm: string,
 *   packet: { address: HostPort | null, outstanding: number, received: number, replied: number, rerouted: number, errors: Record<string, number> },
 *   http: HttpSection | null, workers?: WorkerStatus[], hooks: Record<string, HookCounts> | null, policies: PolicyStatus[] }} Status
 * @typedef {{ answered: number, errors: number, latencyMs: number | null }} PolicyDelta
 * @typedef {{ t: number, packets: Record<string, PolicyDelta>, http: Record<string, PolicyDelta>, servers?: Record<string, number> }} Sample
 * @typedef {{ at: number, code: string, policy: number | null, message: string, count?: number, kind: 'packet' | 'http' }} BrokerError
 * @typedef {{ intervalMs: number, samples: Sample[], errors: BrokerError[] }} Activity
 * @typedef {{ color: string, dash?: boolean, area?: boolean, values: Array<[number, number | null]> }} Series
 * @typedef {{ color: string, dash?: boolean, label: string }} LegendItem
 * @typedef {{ server: number | null, address: string, reason: string }} Reroute
 * @typedef {{ kind: 'packet' | 'http', at: number, policy: number, server: number | null, address: string | null, attempt: number,
 *   reroutes: Reroute[], outcome: string, ms: number, decidedAt?: number, client?: string, clientPort?: number | null, srcid?: number, seq?: number | string | null,
 *   requestId?: string, method?: string, path?: string, status?: number }} Decision
 * @typedef {{ on: boolean, sample: number, dropped?: number }} TraceState
 */

'use strict';
(() => {
  const base = location.pathname.endsWith('/') ? location.pathname : location.pathname + '/';
  const WINDOW_MS = 5 * 60 * 1000;
  const PALETTE = ['#2563eb', '#16a34a', '#d97706', '#9333ea', '#0891b2', '#db2777', '#65a30d', '#475569'];
  /** @type {Record<string, number>} */
  const STATE_ORDER = { up: 0, connecting: 1, draining: 2, down: 3 };
  /** @type {string | null} */
  let token = null;
  const fromHash = /(?:^#|&)token=([^&]*)/.exec(location.hash);
  try {
    if (fromHash) {
      token = decodeURIComponent(fromHash[1] || '');
      sessionStorage.setItem('policy-broker-token', token);
      history.replaceState(null, '', location.pathname + location.search);
    } else {
      token = sessionStorage.getItem('policy-broker-token');
    }
  } catch (e) { /* no storage: the token lasts as long as the page */ }

  /**
   * The element `sel` names (the page's own markup: it is there).
   * @param {string} sel
   * @returns {HTMLElement}
   */
  const $ = (sel) => /** @type {HTMLElement} */ (document.querySelector(sel));
  const fmt = new Intl.NumberFormat('en-US');
  const fmt1 = new Intl.NumberFormat('en-US', { maximumFractionDigits: 1 });
  const fmt2 = new Intl.NumberFormat('en-US', { maximumFractionDigits: 2 });
  /** @type {Map<number, string>} */
  const colors = new Map();
  /** @param {number} policy */
  const colorOf = (policy) => {
    let color = colors.get(policy);
    if (color === undefined) {
      color = PALETTE[colors.size % PALETTE.length] || '#475569';
      colors.set(policy, color);
    }
    return color;
  };
  /** @param {Record<string, number> | undefined} obj */
  const sum = (obj) => Object.values(obj || {}).reduce((a, b) => a + b, 0);

  /**
   * @param {string} tag
   * @param {string} [cls]
   * @param {string} [text]
   * @returns {HTMLElement}
   */
  function el(tag, cls, text) {
    const node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined) node.textContent = text;
    return node;
  }
  /**
   * Sets a number: the raw value in data-value, the formatted one as text.
   * @param {HTMLElement} node
   * @param {number} value
   * @param {string} [text]
   */
  function setNum(node, value, text) {
    const raw = String(value);
    if (node.dataset.value !== raw) node.dataset.value = raw;
    const shown = text !== undefined ? text : fmt.format(value);
    if (node.textContent !== shown) node.textContent = shown;
  }
  /**
   * @param {Element} node
   * @param {string} text
   */
  function setText(node, text) {
    if (node.textContent !== text) node.textContent = text;
  }
  /** @param {number} ms */
  function duration(ms) {
    const s = Math.floor(ms / 1000);
    if (s < 60) return s + 's';
    const m = Math.floor(s / 60);
    if (m < 60) return m + 'm ' + (s % 60) + 's';
    const h = Math.floor(m / 60);
    return h < 48 ? h + 'h ' + (m % 60) + 'm' : Math.floor(h / 24) + 'd ' + (h % 24) + 'h';
  }
  /** @param {number | null | undefined} v */
  const ms = (v) => (v === null || v === undefined ? '–' : v < 10 ? v.toFixed(2) + ' ms' : fmt1.format(v) + ' ms');
  /** @param {number} v */
  const rate = (v) => (v >= 100 ? fmt.format(Math.round(v)) : fmt1.format(v));
  /** @param {HostPort | null} a */
  const addr = (a) => (a ? a.host + ':' + a.port : 'off');

  /** An admin page that needs the token the page does not have. */
  class TokenNeeded extends Error {}

  /**
   * @param {string} path
   * @returns {Promise<any>}
   */
  async function getJson(path) {
    const res = await fetch(base + path, { cache: 'no-store', headers: token ? { authorization: 'Bearer ' + token } : {} });
    if (res.status === 401) throw new TokenNeeded('this broker needs a token: open this page as ' + base + '#token=<token>');
    if (!res.ok) throw new Error(path + ' answered HTTP ' + res.status);
    return res.json();
  }

  // Samples of the last five minutes, oldest first, as the broker keeps them.
  /** @type {Sample[]} */
  let samples = [];
  let intervalMs = 1000;
  let updates = 0;

  async function tick() {
    try {
      const since = samples.length ? samples[samples.length - 1].t : null;
      /** @type {[Status, Activity]} */
      const [status, activity] = await Promise.all([getJson('status'), getJson('activity' + (since === null ? '' : '?since=' + since))]);
      intervalMs = activity.intervalMs;
      samples = samples.concat(activity.samples);
      const last = samples.length ? samples[samples.length - 1].t : 0;
      samples = samples.filter((s) => s.t > last - WINDOW_MS);
      render(status, activity.errors);
      updates++;
      document.body.dataset.updates = String(updates);
      live(true, 'updated ' + new Date().toLocaleTimeString());
    } catch (err) {
      const auth = err instanceof TokenNeeded;
      const message = err instanceof Error ? err.message : String(err);
      live(false, auth ? 'token needed' : 'disconnected, retrying');
      const banner = $('#banner');
      banner.textContent = auth ? message : 'Cannot reach the broker (' + message + '); retrying every second.';
      banner.classList.add('show');
    } finally {
      setTimeout(tick, 1000);
    }
  }

  /**
   * @param {boolean} ok
   * @param {string} text
   */
  function live(ok, text) {
    const node = $('#live');
    node.className = 'live ' + (ok ? 'ok' : 'bad');
    setText($('#live-text'), text);
    if (ok) $('#banner').classList.remove('show');
  }

  /**
   * @param {Status} status
   * @param {BrokerError[]} errors
   */
  function render(status, errors) {
    renderHeader(status);
    renderTiles(status);
    renderCharts();
    renderPolicies(status);
    renderWorkers(status);
    renderHooks(status);
    renderWebSockets(status);
    renderErrors(errors);
  }

  /** @param {Status} s */
  function renderHeader(s) {
    const state = $('#state');
    setText(state, s.status);
    state.className = 'state ' + (s.status === 'running' ? 'up' : 'draining');
    setText($('#m-algorithm'), s.algorithm);
    setText($('#m-packet'), addr(s.packet.address));
    setText($('#m-http'), s.http ? addr(s.http.address) : 'off');
    setText($('#m-uptime'), duration(s.uptimeMs));
    setText($('#m-rss'), fmt1.format(s.memory.rss / 1048576) + ' MB');
    setText($('#m-pid'), String(s.pid));
  }

  /**
   * Answers per second of the last few samples, summed over policies, for 'packets' or 'http'.
   * @param {'packets' | 'http'} kind
   * @param {number} [policy]
   * @param {number} [n]
   */
  function recentRate(kind, policy, n) {
    const tail = samples.slice(-(n || 5));
    if (!tail.length) return 0;
    let total = 0;
    for (const s of tail) {
      for (const [p, d] of Object.entries(s[kind])) if (policy === undefined || Number(p) === policy) total += d.answered;
    }
    return total / (tail.length * intervalMs / 1000);
  }

  /**
   * Packets per second one server answered over the last few samples (the broker keeps them, so
   * the first paint has the rate as well).
   * @param {number} policy
   * @param {number} id
   */
  function serverRate(policy, id) {
    const tail = samples.slice(-5);
    if (!tail.length) return 0;
    const key = policy + '/' + id;
    let total = 0;
    for (const s of tail) total += (s.servers && s.servers[key]) || 0;
    return total / (tail.length * intervalMs / 1000);
  }

  /** @param {Status} s */
  function renderTiles(s) {
    const p = s.packet;
    setNum($('#rate-packets'), Math.round(recentRate('packets') * 10) / 10, rate(recentRate('packets')));
    setNum($('#packets-received'), p.received);
    setNum($('#packets-replied'), p.replied);
    setNum($('#packets-inflight'), p.outstanding);
    const errorTotal = sum(p.errors);
    setNum($('#packets-errors'), errorTotal);
    $('#tile-errors').classList.toggle('alert', errorTotal > 0);
    const top = Object.entries(p.errors).sort((a, b) => b[1] - a[1])[0];
    setText($('#packets-errors-sub'), top ? top[0] + ' ' + fmt.format(top[1]) : 'none');
    setNum($('#packets-rerouted'), p.rerouted);
    // Packet servers and HTTP backends alike: an HTTP-only broker (lab 3) has only backends.
    let up = 0, all = 0;
    for (const pol of s.policies) for (const srv of [...pol.servers, ...pol.httpServers]) { all++; if (srv.state === 'up') up++; }
    setNum($('#servers-up'), up, fmt.format(up) + ' / ' + fmt.format(all));
    setText($('#servers-sub'), s.policies.length + (s.policies.length === 1 ? ' policy' : ' policies'));
    const httpTile = $('#tile-http');
    httpTile.hidden = !s.http;
    if (s.http) {
      // Requests answered for a policy (proxied or refused), not every request the port got:
      // the dashboard's own page loads and status polls are not the traffic it shows.
      let answered = 0, errors = 0;
      for (const pol of s.policies) if (pol.http) { answered += pol.http.replied + sum(pol.http.errors); errors += sum(pol.http.errors); }
      setNum($('#http-requests'), answered);
      setText($('#http-sub'), rate(recentRate('http')) + '/s · ' + fmt.format(errors) + ' errors');
    }
  }

  // Charts

  const SVG = 'http://www.w3.org/2000/svg';
  /**
   * @param {string} tag
   * @param {Record<string, string | number>} attrs
   * @param {string} [text]
   */
  function svgEl(tag, attrs, text) {
    const node = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
    if (text !== undefined) node.textContent = text;
    return node;
  }
  /** @param {number} v */
  function niceMax(v) {
    if (!(v > 0)) return 1;
    const p = Math.pow(10, Math.floor(Math.log10(v)));
    for (const m of [1, 2, 2.5, 5, 10]) if (v <= m * p) return m * p;
    return 10 * p;
  }
  /**
   * Draws lines over the last five minutes.
   * @param {HTMLElement} svg
   * @param {Series[]} series
   * @param {string} unit
   */
  function drawChart(svg, series, unit) {
    const W = Number(svg.getAttribute('data-w')), H = Number(svg.getAttribute('data-h'));
    const R = 10, T = 10, B = 24;
    svg.replaceChildren();
    // The window grows with the samples kept: a minute at first, up to five.
    const end = samples.length ? samples[samples.length - 1].t : Date.now();
    const span = Math.min(WINDOW_MS, Math.max(60000, samples.length ? end - samples[0].t : 0));
    const start = end - span;
    let max = 0;
    for (const s of series) for (const [, v] of s.values) if (v !== null && v > max) max = v;
    const top = niceMax(max);
    // The left margin fits the widest value label ("100,000" needs more room than "10"): the
    // labels are drawn first and measured, then placed.
    const labels = [0, 1, 2, 3, 4].map((i) => svgEl('text', { class: 'axis', 'text-anchor': 'end' }, (top < 10 ? fmt2 : fmt).format((top * i) / 4)));
    svg.append(...labels);
    const widest = Math.max(...labels.map((t) => (t instanceof SVGTextElement ? t.getComputedTextLength() : 0) || (t.textContent || '').length * 7));
    const L = Math.max(36, Math.ceil(widest) + 12);
    /** @param {number} t */
    const x = (t) => L + ((t - start) / span) * (W - L - R);
    /** @param {number} v */
    const y = (v) => T + (1 - v / top) * (H - T - B);
    labels.forEach((label, i) => {
      const v = (top * i) / 4;
      svg.append(svgEl('line', { class: 'grid', x1: L, x2: W - R, y1: y(v), y2: y(v) }));
      label.setAttribute('x', String(L - 6));
      label.setAttribute('y', String(y(v) + 4));
    });
    const step = span <= 60000 ? 10000 : 60000;
    const ticks = Math.floor(span / step);
    for (let k = ticks; k >= 0; k--) {
      const t = end - k * step;
      const label = k === 0 ? 'now' : '-' + (step === 60000 ? k + 'm' : k * 10 + 's');
      svg.append(svgEl('text', { class: 'axis', x: x(t), y: H - 6, 'text-anchor': k === ticks && t - start < step / 2 ? 'start' : k === 0 ? 'end' : 'middle' }, label));
    }
    svg.append(svgEl('text', { class: 'axis', x: L, y: T + 2, 'dominant-baseline': 'hanging', dx: 6 }, unit));
    if (!samples.length) {
      svg.append(svgEl('text', { class: 'empty', x: W / 2, y: H / 2, 'text-anchor': 'middle' }, 'collecting…'));
      return;
    }
    for (const s of series) {
      let d = '';
      let pen = false;
      for (const [t, v] of s.values) {
        if (v === null) { pen = false; continue; }
        d += (pen ? 'L' : 'M') + x(t).toFixed(1) + ' ' + y(v).toFixed(1);
        pen = true;
      }
      if (!d) continue;
      if (s.area && s.values.length > 1) {
        const first = s.values[0][0], last = s.values[s.values.length - 1][0];
        svg.append(svgEl('path', { class: 'area', d: d + 'L' + x(last).toFixed(1) + ' ' + y(0) + 'L' + x(first).toFixed(1) + ' ' + y(0) + 'Z', fill: s.color }));
      }
      svg.append(svgEl('path', { d, stroke: s.color, 'stroke-dasharray': s.dash ? '5 4' : 'none' }));
    }
  }
  /**
   * @param {HTMLElement} node
   * @param {LegendItem[]} items
   */
  function legend(node, items) {
    node.replaceChildren();
    for (const it of items) {
      const span = el('span');
      const sw = el('i', it.dash ? 'dash' : '');
      sw.style.background = it.dash ? '' : it.color;
      sw.style.color = it.color;
      span.append(sw, document.createTextNode(it.label));
      node.append(span);
    }
  }

  function renderCharts() {
    const per = intervalMs / 1000;
    /** @type {Set<number>} */
    const policies = new Set();
    /** @type {Set<number>} */
    const httpPolicies = new Set();
    for (const s of samples) {
      for (const [p, d] of Object.entries(s.packets)) if (d.answered > 0) policies.add(Number(p));
      for (const [p, d] of Object.entries(s.http)) if (d.answered > 0) httpPolicies.add(Number(p));
    }
    /** @type {Series[]} */
    const series = [];
    /** @type {LegendItem[]} */
    const items = [];
    for (const p of [...policies].sort((a, b) => a - b)) {
      series.push({ color: colorOf(p), area: true, values: samples.map((s) => [s.t, (s.packets[p]?.answered ?? 0) / per]) });
      items.push({ color: colorOf(p), label: 'packets ' + p + ' · ' + rate(recentRate('packets', p)) + '/s' });
    }
    for (const p of [...httpPolicies].sort((a, b) => a - b)) {
      series.push({ color: colorOf(p), dash: true, values: samples.map((s) => [s.t, (s.http[p]?.answered ?? 0) / per]) });
      items.push({ color: colorOf(p), dash: true, label: 'HTTP ' + p + ' · ' + rate(recentRate('http', p)) + '/s' });
    }
    /** @type {Array<[number, number]>} */
    const errs = samples.map((s) => [s.t, (Object.values(s.packets).reduce((a, d) => a + d.errors, 0) + Object.values(s.http).reduce((a, d) => a + d.errors, 0)) / per]);
    if (errs.some(([, v]) => v > 0)) {
      series.push({ color: '#dc2626', values: errs });
      items.push({ color: '#dc2626', label: 'errors · ' + rate(errs.slice(-5).reduce((a, [, v]) => a + v, 0) / Math.max(1, Math.min(5, errs.length))) + '/s' });
    }
    drawChart($('#chart-rate'), series, 'answers/s');
    legend($('#legend-rate'), items.length ? items : [{ color: '#94a3b8', label: 'no traffic yet' }]);
    /** @type {Series[]} */
    const lat = [];
    /** @type {LegendItem[]} */
    const latItems = [];
    for (const p of [...policies].sort((a, b) => a - b)) {
      lat.push({ color: colorOf(p), values: samples.map((s) => [s.t, s.packets[p]?.latencyMs ?? null]) });
      const recent = samples.slice(-5).flatMap((s) => { const v = s.packets[p]?.latencyMs; return v === null || v === undefined ? [] : [v]; });
      latItems.push({ color: colorOf(p), label: 'policy ' + p + ' · ' + ms(recent.length ? recent.reduce((a, b) => a + b, 0) / recent.length : null) });
    }
    drawChart($('#chart-latency'), lat, 'ms');
    legend($('#legend-latency'), latItems.length ? latItems : [{ color: '#94a3b8', label: 'no replies yet' }]);
  }

  // Policies

  /**
   * @typedef {{ tr: HTMLElement, id: HTMLElement, address: HTMLElement, state: HTMLElement, outstanding: HTMLElement,
   *   served: HTMLElement, rate: HTMLElement | null, failures: HTMLElement, fill: HTMLElement, pct: HTMLElement,
   *   weight: HTMLElement, action: HTMLButtonElement, goneAt?: number }} ServerRow
   * @typedef {{ body: HTMLElement, rows: Map<string, ServerRow> }} RowGroup
   * @typedef {ReturnType<typeof makeCard>} PolicyCard
   */

  /** @type {Map<number, PolicyCard>} */
  const cards = new Map();

  /** @param {number} policy */
  function makeCard(policy) {
    const card = el('section', 'card policy');
    card.dataset.policy = String(policy);
    card.style.setProperty('--pc', colorOf(policy));
    const h2 = el('h2');
    h2.append(el('span', 'name', 'Policy ' + policy));
    const hint = el('span', 'hint');
    h2.append(hint);
    const chips = el('div', 'chips');
    /**
     * @param {string} label
     * @param {string} field
     */
    const chip = (label, field) => {
      const c = el('span', 'chip');
      const b = el('b', 'num');
      b.dataset.field = field;
      c.append(b, document.createTextNode(' ' + label));
      chips.append(c);
      return b;
    };
    const f = {
      rate: chip('packets/s', 'rate'),
      replied: chip('replies', 'replied'),
      httpRate: chip('requests/s', 'http-rate'),
      httpReplied: chip('HTTP responses', 'http-replied'),
      errors: chip('errors', 'errors'),
      rerouted: chip('re-routed', 'rerouted'),
      latency: chip('p50 / p99', 'latency'),
    };
    const packetTable = table(['Server', 'State', 'In flight', 'Served', 'Rate /s', 'Failures', 'Share', '']);
    const httpTitle = el('h3', '', 'HTTP backends');
    const httpTable = table(['Server', 'State', 'In flight', 'Served', 'Failures', 'Share', '']);
    card.append(h2, chips, packetTable.table, httpTitle, httpTable.table);
    /** @type {RowGroup} */
    const packet = { body: packetTable.body, rows: new Map() };
    /** @type {RowGroup & { title: HTMLElement, table: HTMLElement }} */
    const http = { title: httpTitle, table: httpTable.table, body: httpTable.body, rows: new Map() };
    return { card, hint, f, packet, http };
  }

  /** @param {string[]} headings */
  function table(headings) {
    const t = el('table');
    const head = el('tr');
    headings.forEach((h, i) => head.append(el('th', i >= 2 && h !== 'Share' ? 'n' : '', h)));
    const thead = el('thead');
    thead.append(head);
    const body = el('tbody');
    t.append(thead, body);
    return { table: t, body };
  }

  /**
   * @param {string} kind 'packet' or 'http'
   * @param {string} key
   * @param {boolean} http
   * @returns {ServerRow}
   */
  function serverRow(kind, key, http) {
    const tr = el('tr');
    tr.dataset.kind = kind;
    tr.dataset.server = key;
    /**
     * @param {string} cls
     * @param {string} [field]
     */
    const cell = (cls, field) => {
      const td = el('td', cls);
      if (field) td.dataset.field = field;
      tr.append(td);
      return td;
    };
    const idCell = cell('id');
    const id = el('span', '', '');
    const address = el('div', 'addr');
    id.dataset.field = 'id';
    address.dataset.field = 'address';
    idCell.append(id, address);
    const state = el('span', 'state');
    cell('', 'state').append(state);
    const outstanding = cell('n', 'outstanding');
    const served = cell('n', 'served');
    const rate = http ? null : cell('n', 'rate');
    const failures = cell('n', 'failures');
    const share = cell('share', 'share');
    const bar = el('div', 'bar');
    const track = el('div', 'track');
    const fill = el('div', 'fill');
    track.append(fill);
    const pct = el('span', 'pct');
    const weight = el('span', 'weight');
    bar.append(track, pct, weight);
    share.append(bar);
    // Drain / enable through the runtime API (api/servers/KEY), with the admin token asked for once.
    const action = /** @type {HTMLButtonElement} */ (el('button', 'admin-action', 'Drain'));
    action.type = 'button';
    action.dataset.server = key;
    action.addEventListener('click', () => void toggleAdmin(action));
    cell('act').append(action);
    return { tr, id, address, state, outstanding, served, rate, failures, fill, pct, weight, action };
  }

  /**
   * How long the row of a server that left the registry stays (shown `down`), so that a student
   * sees it die rather than vanish. `<body data-down-hold-ms>` sets it; rows kept are bounded
   * by time and by MAX_GONE_ROWS per table.
   */
  const downHoldMs = () => Number(document.body.dataset.downHoldMs) || 60000;
  const MAX_GONE_ROWS = 50;

  /**
   * Puts one row per item in `group`, in the list's order, reusing the rows of the same key.
   * Rows whose key is no longer listed stay after them, shown `down`, for downHoldMs().
   * @template T
   * @param {RowGroup} group
   * @param {T[]} list
   * @param {(item: T) => string} keyOf
   * @param {string} kind
   * @param {(row: ServerRow, item: T) => void} update
   */
  function fillRows(group, list, keyOf, kind, update) {
    const seen = new Set();
    list.forEach((item, index) => {
      const key = keyOf(item);
      seen.add(key);
      let row = group.rows.get(key);
      if (!row) {
        row = serverRow(kind, key, kind === 'http');
        group.rows.set(key, row);
      }
      if (group.body.children[index] !== row.tr) group.body.insertBefore(row.tr, group.body.children[index] || null);
      update(row, item);
    });
    const now = Date.now();
    let gone = 0;
    // Newest first (Map order is insertion order: walk it backwards), so the cap drops the oldest.
    for (const [key, row] of [...group.rows].reverse()) {
      if (seen.has(key)) {
        if (row.goneAt !== undefined) {
          row.goneAt = undefined;
          delete row.tr.dataset.gone;
          row.state.title = '';
        }
        continue;
      }
      row.goneAt ??= now;
      if (now - row.goneAt > downHoldMs() || ++gone > MAX_GONE_ROWS) {
        row.tr.remove();
        group.rows.delete(key);
        continue;
      }
      row.tr.dataset.gone = 'true';
      setState(row.state, 'down');
      row.state.title = 'left the registry at ' + new Date(row.goneAt).toLocaleTimeString([], { hour12: false });
      setNum(row.outstanding, 0);
      if (row.rate) setNum(row.rate, 0, rate(0));
      if (row.tr.parentElement !== group.body) group.body.append(row.tr);
    }
    const empty = group.body.querySelector('td.none');
    if (!group.rows.size && !empty) {
      const tr = el('tr');
      const td = /** @type {HTMLTableCellElement} */ (el('td', 'none', 'no servers registered for this policy'));
      td.colSpan = 8;
      tr.append(td);
      group.body.append(tr);
    } else if (group.rows.size && empty) {
      empty.parentElement?.remove();
    }
  }

  /**
   * @param {ServerRow} row
   * @param {number} served
   * @param {number} total
   */
  function setShare(row, served, total) {
    const pct = total > 0 ? (served / total) * 100 : 0;
    row.fill.style.width = pct.toFixed(1) + '%';
    setText(row.pct, total > 0 ? pct.toFixed(pct < 10 ? 1 : 0) + '%' : '–');
  }
  /**
   * @param {HTMLElement} node
   * @param {string} state
   */
  function setState(node, state) {
    setText(node, state);
    const cls = 'state ' + state;
    if (node.className !== cls) node.className = cls;
  }

  /**
   * Shows a row's weight (when not 1) and what the operator asked (drain, disabled), and what
   * its button does next.
   * @param {ServerRow} row
   * @param {{ state: string, admin?: string, weight?: number }} srv
   */
  function setAdmin(row, srv) {
    const admin = srv.admin || 'enabled';
    setState(row.state, admin === 'enabled' ? srv.state : admin);
    setText(row.weight, srv.weight !== undefined && srv.weight !== 1 ? 'w' + srv.weight : '');
    row.action.dataset.admin = admin;
    setText(row.action, admin === 'enabled' ? 'Drain' : 'Enable');
  }

  /**
   * Drains an enabled server or enables a drained or disabled one (PATCH api/servers/KEY). The
   * runtime API wants the admin token: asked for once, kept for the session.
   * @param {HTMLButtonElement} button
   */
  async function toggleAdmin(button) {
    const key = button.dataset.server || '';
    const state = button.dataset.admin === 'enabled' ? 'drain' : 'up';
    /** @param {string | null} t */
    const send = (t) =>
      fetch(base + 'api/servers/' + encodeURIComponent(key), {
        method: 'PATCH',
        cache: 'no-store',
        headers: { 'content-type': 'application/json', ...(t ? { authorization: 'Bearer ' + t } : {}) },
        body: JSON.stringify({ state }),
      });
    let adminToken = null;
    try { adminToken = sessionStorage.getItem('policy-broker-admin-token'); } catch (e) { /* no storage */ }
    button.disabled = true;
    try {
      let res = await send(adminToken || token);
      if (res.status === 401) {
        adminToken = window.prompt('Admin token (--admin-token, else --http-token) to ' + state + ' server ' + key);
        if (adminToken === null) return;
        try { sessionStorage.setItem('policy-broker-admin-token', adminToken); } catch (e) { /* no storage */ }
        res = await send(adminToken);
      }
      if (!res.ok) window.alert(state + ' ' + key + ': HTTP ' + res.status + ' ' + ((await res.json().catch(() => null))?.message || ''));
    } finally {
      button.disabled = false;
    }
  }

  /** @param {Status} s */
  function renderPolicies(s) {
    const container = $('#policies');
    const seen = new Set();
    s.policies.forEach((p, index) => {
      seen.add(p.policy);
      let c = cards.get(p.policy);
      if (!c) {
        c = makeCard(p.policy);
        cards.set(p.policy, c);
      }
      if (container.children[index] !== c.card) container.insertBefore(c.card, container.children[index] || null);
      /** @type {Record<string, number>} */
      const states = {};
      for (const srv of p.servers) states[srv.state] = (states[srv.state] || 0) + 1;
      const summary = Object.entries(states).sort((a, b) => (STATE_ORDER[a[0]] ?? 9) - (STATE_ORDER[b[0]] ?? 9)).map(([k, v]) => v + ' ' + k).join(' · ');
      setText(c.hint, p.servers.length ? p.servers.length + (p.servers.length === 1 ? ' server: ' : ' servers: ') + summary : 'no packet servers');
      setNum(c.f.rate, Math.round(recentRate('packets', p.policy) * 10) / 10, rate(recentRate('packets', p.policy)));
      setNum(c.f.replied, p.packets.replied);
      // HTTP requests count in the policy's chips as packets do (shown once the policy has HTTP
      // backends or answered a request).
      const http = p.http;
      const hasHttp = http !== null && (p.httpServers.length > 0 || http.replied > 0 || sum(http.errors) > 0);
      for (const chipValue of [c.f.httpRate, c.f.httpReplied]) if (chipValue.parentElement) chipValue.parentElement.hidden = !hasHttp;
      setNum(c.f.httpRate, Math.round(recentRate('http', p.policy) * 10) / 10, rate(recentRate('http', p.policy)));
      setNum(c.f.httpReplied, http ? http.replied : 0);
      const errs = sum(p.packets.errors) + (http ? sum(http.errors) : 0);
      setNum(c.f.errors, errs);
      c.f.errors.parentElement?.classList.toggle('bad', errs > 0);
      setNum(c.f.rerouted, p.packets.rerouted);
      setText(c.f.latency, ms(p.packets.latencyMs.p50) + ' / ' + ms(p.packets.latencyMs.p99));
      // A policy served over HTTP only has no packet table, and no "no servers registered" line.
      const packetTable = c.packet.body.parentElement;
      if (packetTable) packetTable.hidden = p.servers.length === 0 && p.httpServers.length > 0;
      const servers = [...p.servers].sort((a, b) => a.id - b.id);
      const total = servers.reduce((a, srv) => a + srv.served, 0);
      fillRows(c.packet, servers, (srv) => String(srv.id), 'packet', (row, srv) => {
        setText(row.id, String(srv.id));
        setText(row.address, srv.host + ':' + srv.port);
        setAdmin(row, srv);
        setNum(row.outstanding, srv.outstanding);
        setNum(row.served, srv.served);
        const r = serverRate(p.policy, srv.id);
        if (row.rate) setNum(row.rate, Math.round(r * 10) / 10, rate(r));
        setNum(row.failures, srv.failures);
        setShare(row, srv.served, total);
      });
      const hs = [...p.httpServers].sort((a, b) => (a.id === null ? Infinity : a.id) - (b.id === null ? Infinity : b.id) || (a.address < b.address ? -1 : 1));
      c.http.title.hidden = c.http.table.hidden = hs.length === 0;
      const httpTotal = hs.reduce((a, b) => a + b.served, 0);
      fillRows(c.http, hs, (b) => (b.id === null ? b.address : String(b.id)), 'http', (row, b) => {
        setText(row.id, b.id === null ? 'static' : String(b.id));
        setText(row.address, b.address);
        setAdmin(row, b);
        row.state.title = b.lastError || '';
        setNum(row.outstanding, b.inflight);
        setNum(row.served, b.served);
        setNum(row.failures, b.failures);
        setShare(row, b.served, httpTotal);
      });
    });
    for (const [policy, c] of cards) if (!seen.has(policy)) { c.card.remove(); cards.delete(policy); }
    $('#no-policies').hidden = s.policies.length > 0;
  }

  // Workers (--workers): one row a process, rebuilt each poll (a handful of rows).

  /** @param {Status} s */
  function renderWorkers(s) {
    const workers = s.workers || null;
    $('#workers').hidden = workers === null;
    if (workers === null) return;
    setNum($('#workers-count'), workers.length, workers.filter((w) => w.listening).length + ' of ' + workers.length + ' listening');
    const body = $('#workers-body');
    body.replaceChildren();
    for (const w of workers) {
      const tr = el('tr');
      tr.dataset.worker = String(w.id);
      tr.dataset.pid = String(w.pid);
      tr.append(el('td', 'id', String(w.id)));
      tr.append(el('td', 'n', String(w.pid)));
      const state = el('td');
      state.append(el('span', 'state ' + (w.listening ? 'up' : 'connecting'), w.listening ? 'listening' : 'starting'));
      tr.append(state);
      for (const field of /** @type {const} */ (['connections', 'inflight', 'requests', 'proxied'])) {
        const td = el('td', 'n', fmt.format(w[field]));
        td.dataset.field = field;
        td.dataset.value = String(w[field]);
        tr.append(td);
      }
      tr.append(el('td', 'n', fmt1.format(w.rss / 1048576) + ' MB'));
      body.append(tr);
    }
  }

  // Interceptors (docs/hooks.md): one row each, rebuilt each poll.

  /** @param {Status} s */
  function renderHooks(s) {
    const hooks = s.hooks || null;
    $('#hooks').hidden = hooks === null;
    if (hooks === null) return;
    const body = $('#hooks-body');
    body.replaceChildren();
    for (const [name, c] of Object.entries(hooks)) {
      const tr = el('tr');
      tr.dataset.hook = name;
      tr.append(el('td', 'id', name));
      for (const field of /** @type {const} */ (['calls', 'errors', 'timeouts', 'failedClosed', 'answered', 'overflows', 'policyChanges'])) {
        const td = el('td', 'n', fmt.format(c[field]));
        td.dataset.field = field;
        td.dataset.value = String(c[field]);
        tr.append(td);
      }
      tr.append(el('td', 'n', c.calls === 0 ? '–' : fmt1.format((c.totalMs * 1000) / c.calls) + ' µs'));
      body.append(tr);
    }
  }

  // WebSockets (upgraded connections, docs/http.md): the totals, and one row per policy and backend with some open.

  /** @param {Status} s */
  function renderWebSockets(s) {
    const u = s.http?.upgrades;
    const refused = u === undefined ? 0 : Object.values(u.refused).reduce((a, b) => a + b, 0);
    const seen = u !== undefined && u.upgraded + u.notUpgraded + u.failed + refused > 0;
    $('#websockets').hidden = !seen;
    if (u === undefined || !seen) return;
    /** @type {Array<[string, number, string]>} */
    const totals = [
      ['open', u.open, fmt.format(u.open)],
      ['upgraded', u.upgraded, fmt.format(u.upgraded)],
      ['refused', refused, fmt.format(refused)],
      ['failed', u.failed, fmt.format(u.failed)],
      ['not-upgraded', u.notUpgraded, fmt.format(u.notUpgraded)],
      ['bytes-to-backend', u.bytesToBackend, bytes(u.bytesToBackend)],
      ['bytes-to-client', u.bytesToClient, bytes(u.bytesToClient)],
    ];
    for (const [id, value, text] of totals) {
      const node = $('#ws-' + id);
      node.textContent = text;
      node.dataset.value = String(value);
    }
    const body = $('#websockets-body');
    body.replaceChildren();
    for (const o of u.openByServer) {
      const tr = el('tr');
      tr.dataset.policy = String(o.policy);
      tr.dataset.server = o.server;
      tr.append(el('td', 'id', String(o.policy)), el('td', 'id', o.server));
      const td = el('td', 'n', fmt.format(o.open));
      td.dataset.field = 'open';
      td.dataset.value = String(o.open);
      tr.append(td);
      body.append(tr);
    }
  }

  /** @param {number} n bytes */
  function bytes(n) {
    if (n < 1024) return fmt.format(n) + ' B';
    if (n < 1024 * 1024) return fmt1.format(n / 1024) + ' KiB';
    return fmt1.format(n / 1024 / 1024) + ' MiB';
  }

  // Errors

  let errorsKey = '';
  /**
   * The same error (kind, code, policy, message) in one row: its count and its last time.
   * @param {BrokerError[]} errors newest first
   */
  function aggregate(errors) {
    /** @type {Map<string, BrokerError & { count: number }>} */
    const rows = new Map();
    for (const e of errors) {
      const key = e.kind + '|' + e.code + '|' + e.policy + '|' + e.message;
      const row = rows.get(key);
      if (row) row.count += e.count || 1;
      else rows.set(key, { ...e, count: e.count || 1 });
    }
    return [...rows.values()];
  }

  /** @param {BrokerError[]} all */
  function renderErrors(all) {
    const errors = aggregate(all);
    const total = errors.reduce((a, e) => a + e.count, 0);
    const key = errors.map((e) => e.at + '/' + e.count).join(',');
    setNum($('#errors-count'), total, errors.length ? fmt.format(total) + (errors.length === 1 ? ' of one kind' : ' of ' + errors.length + ' kinds') : '');
    if (key === errorsKey) return;
    errorsKey = key;
    const body = $('#errors-body');
    body.replaceChildren();
    if (!errors.length) {
      const tr = el('tr');
      const td = /** @type {HTMLTableCellElement} */ (el('td', 'none', 'No errors. Kill a server or send to a policy without servers to see some.'));
      td.colSpan = 6;
      tr.append(td);
      body.append(tr);
      return;
    }
    for (const e of errors) {
      const tr = el('tr');
      tr.dataset.code = e.code;
      const t = new Date(e.at);
      tr.append(el('td', 'time', t.toLocaleTimeString([], { hour12: false }) + '.' + String(t.getMilliseconds()).padStart(3, '0')));
      tr.append(el('td', 'kind', e.kind));
      const code = el('td');
      code.append(el('span', 'code', e.code));
      tr.append(code);
      tr.append(el('td', 'n', e.policy === null ? '–' : String(e.policy)));
      const times = el('td', 'n', '×' + fmt.format(e.count));
      times.dataset.count = String(e.count);
      tr.append(times);
      tr.append(el('td', 'msg', e.message || ''));
      body.append(tr);
    }
  }

  // Recent decisions: the trace (trace/events), pushed by the broker as server-sent events and
  // read with fetch (EventSource cannot send the token). Bounded: the last KEPT decisions are
  // kept, SHOWN of them drawn, at most ten times a second.

  const KEPT = 500;
  const SHOWN = 50;
  /** @type {Decision[]} */
  let decisions = [];
  let paused = false;
  /** Decisions received when the panel was paused: a paused panel shows none after them, filtered or not. */
  let pausedAt = 0;
  let missedWhilePaused = 0;
  let traceOn = false;
  let drawPending = false;
  let received = 0;
  /** @type {Set<number>} */
  const tracePolicies = new Set();
  /** @type {Set<string>} */
  const traceServers = new Set();

  /** @param {Decision} d */
  const serverKey = (d) => (d.server === null ? d.address || '' : String(d.server));

  /** @param {string} block one event: "event: …" and "data: …" lines */
  function onTraceEvent(block) {
    const event = /^event: (.*)$/m.exec(block);
    const data = /^data: (.*)$/m.exec(block);
    if (!event || !data) return;
    const value = JSON.parse(data[1] || 'null');
    if (event[1] === 'state') setTraceState(/** @type {TraceState} */ (value));
    else if (event[1] === 'dropped') setText($('#trace-note'), fmt.format(value.dropped) + ' decisions were not sent to this page (it read too slowly)');
    else if (event[1] === 'decision') addDecision(/** @type {Decision} */ (value));
  }

  /** @param {TraceState} state */
  function setTraceState(state) {
    traceOn = state.on;
    const toggle = $('#trace-toggle');
    toggle.classList.toggle('on', state.on);
    setText(toggle, state.on ? 'Stop tracing' : 'Start tracing');
    const sampling = state.sample < 1 ? ', sampling ' + fmt2.format(state.sample * 100) + '%' : '';
    setText($('#trace-state'), state.on ? 'trace on' + sampling : 'trace off');
  }

  /**
   * When the broker decided (the packet or request arrived), as the broker's monotonic clock
   * gave it (a broker before decidedAt: its outcome time less its duration). Decisions are
   * published when they end, so a slow one comes after faster ones made later.
   * @param {Decision} d
   */
  const decidedAt = (d) => (d.decidedAt !== undefined ? d.decidedAt : d.at - d.ms);

  /** @param {Decision} d */
  function addDecision(d) {
    received++;
    $('#trace').dataset.events = String(received);
    // Kept in decision order: insert before the later-decided ones already here (usually none or few).
    let i = decisions.length;
    while (i > 0 && decidedAt(/** @type {Decision} */ (decisions[i - 1])) > decidedAt(d)) i--;
    decisions.splice(i, 0, d);
    if (decisions.length > KEPT) decisions = decisions.slice(-KEPT);
    const key = serverKey(d);
    if (!tracePolicies.has(d.policy)) { tracePolicies.add(d.policy); fillFilter($('#trace-policy'), [...tracePolicies].sort((a, b) => a - b).map(String)); }
    if (key && !traceServers.has(key)) { traceServers.add(key); fillFilter($('#trace-server'), [...traceServers].sort()); }
    if (paused) {
      missedWhilePaused++;
      setText($('#trace-note'), fmt.format(missedWhilePaused) + ' new while paused');
      return;
    }
    scheduleDraw();
  }

  /**
   * @param {HTMLElement} select
   * @param {string[]} values
   */
  function fillFilter(select, values) {
    const chosen = /** @type {HTMLSelectElement} */ (select).value;
    select.replaceChildren(el('option', '', 'all'));
    /** @type {HTMLOptionElement} */ (select.firstChild).value = '';
    for (const v of values) {
      const option = /** @type {HTMLOptionElement} */ (el('option', '', v));
      option.value = v;
      select.append(option);
    }
    /** @type {HTMLSelectElement} */ (select).value = chosen;
  }

  function scheduleDraw() {
    if (drawPending) return;
    drawPending = true;
    setTimeout(() => { drawPending = false; drawDecisions(); }, 100);
  }

  function drawDecisions() {
    const policy = /** @type {HTMLSelectElement} */ ($('#trace-policy')).value;
    const server = /** @type {HTMLSelectElement} */ ($('#trace-server')).value;
    const body = $('#trace-body');
    body.replaceChildren();
    let shown = 0;
    const newest = paused ? decisions.length - 1 - (received - pausedAt) : decisions.length - 1;
    for (let i = newest; i >= 0 && shown < SHOWN; i--) {
      const d = /** @type {Decision} */ (decisions[i]);
      if ((policy && String(d.policy) !== policy) || (server && serverKey(d) !== server)) continue;
      body.append(decisionRow(d));
      shown++;
    }
    if (!shown) {
      const td = /** @type {HTMLTableCellElement} */ (el('td', 'none', traceOn || decisions.length ? 'No decisions match.' : 'Start tracing, then send packets: each one shows here, with the server it went to.'));
      td.colSpan = 9;
      const tr = el('tr');
      tr.append(td);
      body.append(tr);
    }
  }

  /** @param {Decision} d */
  function decisionRow(d) {
    const tr = el('tr', d.outcome === 'reply' || d.outcome === 'ok' ? '' : 'fail');
    tr.dataset.kind = d.kind;
    tr.dataset.policy = String(d.policy);
    tr.dataset.server = serverKey(d);
    tr.dataset.outcome = d.outcome;
    const t = new Date(d.at);
    tr.append(el('td', 'time', t.toLocaleTimeString([], { hour12: false }) + '.' + String(t.getMilliseconds()).padStart(3, '0')));
    tr.append(el('td', 'kind', d.kind));
    // A packet names its client connection (address:port): several connections may share a srcid.
    const connection = d.kind === 'packet' ? d.client + (d.clientPort === null || d.clientPort === undefined ? '' : ':' + d.clientPort) : '';
    tr.append(el('td', '', d.kind === 'packet' ? connection + ' srcid ' + d.srcid + (d.seq === null || d.seq === undefined ? '' : ' seq ' + d.seq) : d.method + ' ' + d.path));
    if (d.kind === 'packet') tr.dataset.connection = connection;
    tr.append(el('td', 'n', String(d.policy)));
    const where = el('td', 'id');
    where.append(el('span', '', d.server === null ? (d.address ? 'static' : '–') : String(d.server)), el('div', 'addr', d.address || ''));
    tr.append(where);
    tr.append(el('td', 'n', String(d.attempt)));
    tr.append(el('td', 'via', d.reroutes.map((r) => (r.server === null ? r.address : r.server) + ' ' + r.reason).join(', ')));
    tr.append(el('td', 'outcome', d.kind === 'http' ? String(d.status) + (d.outcome === 'ok' ? '' : ' ' + d.outcome) : d.outcome));
    tr.append(el('td', 'n', ms(d.ms).replace(' ms', '')));
    return tr;
  }

  async function streamTrace() {
    let retryMs = 2000;
    try {
      const res = await fetch(base + 'trace/events', { cache: 'no-store', headers: token ? { authorization: 'Bearer ' + token } : {} });
      if (res.status === 503) {
        setText($('#trace-note'), 'too many pages have the trace open; retrying');
        retryMs = 10000;
      }
      if (!res.ok || !res.body) throw new Error('trace/events answered HTTP ' + res.status);
      const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffered = '';
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffered += value;
        let end;
        while ((end = buffered.indexOf('\n\n')) !== -1) {
          onTraceEvent(buffered.slice(0, end));
          buffered = buffered.slice(end + 2);
        }
      }
    } catch (err) {
      /* the broker is away or refused: try again */
    }
    setTimeout(streamTrace, retryMs);
  }

  $('#trace-toggle').addEventListener('click', async () => {
    try {
      const res = await fetch(base + 'trace?on=' + !traceOn, { method: 'POST', cache: 'no-store', headers: token ? { authorization: 'Bearer ' + token } : {} });
      if (res.ok) setTraceState(await res.json());
      else setText($('#trace-note'), 'the broker answered HTTP ' + res.status);
    } catch (err) {
      setText($('#trace-note'), 'cannot reach the broker');
    }
  });
  $('#trace-pause').addEventListener('click', () => {
    paused = !paused;
    pausedAt = received;
    const button = $('#trace-pause');
    button.setAttribute('aria-pressed', String(paused));
    setText(button, paused ? 'Resume' : 'Pause');
    if (!paused) {
      missedWhilePaused = 0;
      setText($('#trace-note'), '');
      drawDecisions();
    }
  });
  for (const id of ['#trace-policy', '#trace-server']) $(id).addEventListener('change', () => drawDecisions());
  drawDecisions();
  void streamTrace();

  document.querySelectorAll('a[data-href]').forEach((a) => {
    if (a instanceof HTMLAnchorElement) a.href = base + a.dataset.href;
  });
  tick();
})();

/**
 * The live dashboard served at the admin prefix itself (`/_broker/`): one self-contained page,
 * plain HTML with inline CSS and JavaScript, nothing to build and nothing fetched from outside
 * (it works offline). Every second it reads `status` and `activity` (relative to its own
 * address, so any --admin-prefix works) and updates in place: the policy groups and their
 * servers (state, in-flight, served, share as bars), rates over the last five minutes drawn
 * as SVG, the HTTP worker processes (with --workers) and the recent errors. Data reaches the
 * page only through textContent and SVG attributes, never as markup.
 *
 * Numbers a test or a script may read carry stable ids or data attributes: `#packets-received`,
 * `#packets-replied`, …, each with `data-value` (the raw number; the text is formatted), and
 * `[data-policy="111"] tr[data-kind="packet"][data-server="100"] [data-field="served"]`.
 * `body[data-updates]` counts the polls that succeeded.
 *
 * With --http-token, open the page as `/_broker/#token=<token>`: the page keeps the token in
 * the tab's sessionStorage and sends it as a Bearer header.
 */
import { createHash } from 'node:crypto';

const STYLE = `
:root {
  --bg: #f4f6f9; --card: #ffffff; --ink: #0f172a; --muted: #64748b; --line: #e2e8f0; --soft: #f8fafc;
  --head: #0f172a; --head-ink: #e2e8f0; --up: #16a34a; --down: #dc2626; --warn: #d97706; --wait: #2563eb;
  --err: #dc2626; --bar-bg: #eef2f7;
}
@media (prefers-color-scheme: dark) {
  :root { --bg: #0b1120; --card: #111827; --ink: #e5e7eb; --muted: #94a3b8; --line: #1f2937; --soft: #0f172a;
    --head: #020617; --bar-bg: #1f2937; }
}
* { box-sizing: border-box; }
html, body { margin: 0; background: var(--bg); color: var(--ink);
  font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, Ubuntu, "Helvetica Neue", Arial, sans-serif; }
.num, td.n, .tile .value { font-variant-numeric: tabular-nums; }
header { background: var(--head); color: var(--head-ink); padding: 14px 24px; display: flex; align-items: center; gap: 18px; flex-wrap: wrap; }
header h1 { font-size: 18px; margin: 0; font-weight: 650; letter-spacing: .2px; color: #fff; }
header h1 span { color: #60a5fa; }
header .meta { color: #94a3b8; font-size: 12.5px; display: flex; gap: 14px; flex-wrap: wrap; }
header .meta b { color: #cbd5e1; font-weight: 550; }
header .live { margin-left: auto; font-size: 12.5px; color: #94a3b8; display: flex; align-items: center; gap: 8px; }
.dot { width: 9px; height: 9px; border-radius: 50%; background: #475569; display: inline-block; }
.live.ok .dot { background: #22c55e; box-shadow: 0 0 0 3px rgba(34,197,94,.18); }
.live.bad .dot { background: #ef4444; box-shadow: 0 0 0 3px rgba(239,68,68,.2); }
.live.bad { color: #fca5a5; }
main { max-width: 1280px; margin: 0 auto; padding: 20px 24px 40px; }
.tiles { display: grid; grid-template-columns: repeat(auto-fit, minmax(132px, 1fr)); gap: 12px; margin-bottom: 16px; }
.tile { background: var(--card); border: 1px solid var(--line); border-radius: 10px; padding: 12px 14px; }
.tile .label { color: var(--muted); font-size: 12px; text-transform: uppercase; letter-spacing: .5px; }
.tile .value { font-size: 24px; font-weight: 650; margin-top: 2px; }
.tile .sub { color: var(--muted); font-size: 12px; min-height: 1.2em; }
.tile.alert .value { color: var(--err); }
.card { background: var(--card); border: 1px solid var(--line); border-radius: 10px; padding: 14px 16px; margin-bottom: 16px; }
.card h2 { font-size: 14px; margin: 0 0 10px; font-weight: 650; display: flex; align-items: baseline; gap: 10px; flex-wrap: wrap; }
.card h2 .hint { color: var(--muted); font-weight: 400; font-size: 12.5px; }
.charts { display: grid; grid-template-columns: 2fr 1fr; gap: 16px; }
@media (max-width: 900px) { .charts { grid-template-columns: 1fr; } }
svg.chart { width: 100%; height: auto; display: block; }
svg.chart .grid { stroke: var(--line); stroke-width: 1; }
svg.chart .axis { fill: var(--muted); font-size: 11px; }
svg.chart .empty { fill: var(--muted); font-size: 13px; }
svg.chart path { fill: none; stroke-width: 2; stroke-linejoin: round; stroke-linecap: round; }
svg.chart path.area { stroke: none; fill-opacity: .08; }
.legend { display: flex; gap: 14px; flex-wrap: wrap; font-size: 12.5px; color: var(--muted); margin-top: 6px; }
.legend i { display: inline-block; width: 14px; height: 3px; border-radius: 2px; vertical-align: middle; margin-right: 6px; }
.legend i.dash { background-image: linear-gradient(90deg, currentColor 60%, transparent 60%); background-size: 6px 3px; }
.policies { display: grid; grid-template-columns: repeat(auto-fit, minmax(480px, 1fr)); gap: 16px; align-items: start; }
@media (max-width: 600px) { .policies { grid-template-columns: 1fr; } }
.policy { margin-bottom: 0; border-top: 4px solid var(--pc, #64748b); }
.policy h2 .name { font-size: 16px; }
.chips { display: flex; gap: 8px; flex-wrap: wrap; margin-bottom: 10px; }
.chip { background: var(--soft); border: 1px solid var(--line); border-radius: 999px; padding: 2px 10px; font-size: 12.5px; color: var(--muted); }
.chip b { color: var(--ink); font-weight: 600; }
.chip.bad b { color: var(--err); }
table { width: 100%; border-collapse: collapse; }
th { text-align: left; color: var(--muted); font-weight: 550; font-size: 11.5px; text-transform: uppercase; letter-spacing: .4px;
  padding: 6px 8px; border-bottom: 1px solid var(--line); white-space: nowrap; }
td { padding: 7px 8px; border-bottom: 1px solid var(--line); vertical-align: middle; }
tr:last-child td { border-bottom: 0; }
td.n, th.n { text-align: right; white-space: nowrap; }
td.id { font-weight: 650; font-size: 15px; white-space: nowrap; }
td.id .addr { color: var(--muted); font-size: 11.5px; font-weight: 400; }
td.none { color: var(--muted); text-align: center; padding: 14px; }
.state { display: inline-block; padding: 1px 9px; border-radius: 999px; font-size: 12px; font-weight: 600; color: #fff; background: #64748b; }
.state.up { background: var(--up); } .state.down { background: var(--down); }
.state.connecting { background: var(--wait); } .state.draining { background: var(--warn); }
td.share { width: 28%; min-width: 110px; }
.bar { display: flex; align-items: center; gap: 8px; }
.bar .track { flex: 1; height: 10px; background: var(--bar-bg); border-radius: 5px; overflow: hidden; }
.bar .fill { height: 100%; width: 0; background: var(--pc, #3b82f6); border-radius: 5px; transition: width .4s ease; }
@media (prefers-reduced-motion: reduce) { .bar .fill { transition: none; } }
.bar .pct { width: 44px; text-align: right; color: var(--muted); font-size: 12px; font-variant-numeric: tabular-nums; }
h3 { font-size: 12px; color: var(--muted); text-transform: uppercase; letter-spacing: .5px; margin: 14px 0 4px; font-weight: 600; }
.code { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 12px; font-weight: 600; color: var(--err); }
td.msg { color: var(--muted); font-size: 12.5px; word-break: break-word; }
#errors th:nth-child(1) { width: 120px; } #errors th:nth-child(2) { width: 70px; } #errors th:nth-child(3) { width: 150px; } #errors th:nth-child(4) { width: 70px; }
td.time { white-space: nowrap; font-variant-numeric: tabular-nums; color: var(--muted); }
.kind { font-size: 11px; text-transform: uppercase; letter-spacing: .4px; color: var(--muted); }
.banner { display: none; background: #fef2f2; color: #991b1b; border: 1px solid #fecaca; border-radius: 10px; padding: 10px 14px; margin-bottom: 16px; }
.banner.show { display: block; }
#errors { margin-top: 16px; }
footer { color: var(--muted); font-size: 12px; text-align: center; margin-top: 8px; }
footer a { color: inherit; }
`;

const SCRIPT = `
'use strict';
(() => {
  const base = location.pathname.endsWith('/') ? location.pathname : location.pathname + '/';
  const WINDOW_MS = 5 * 60 * 1000;
  const PALETTE = ['#2563eb', '#16a34a', '#d97706', '#9333ea', '#0891b2', '#db2777', '#65a30d', '#475569'];
  const STATE_ORDER = { up: 0, connecting: 1, draining: 2, down: 3 };
  let token = null;
  const fromHash = /(?:^#|&)token=([^&]*)/.exec(location.hash);
  try {
    if (fromHash) {
      token = decodeURIComponent(fromHash[1]);
      sessionStorage.setItem('policy-broker-token', token);
      history.replaceState(null, '', location.pathname + location.search);
    } else {
      token = sessionStorage.getItem('policy-broker-token');
    }
  } catch (e) { /* no storage: the token lasts as long as the page */ }

  const $ = (sel, root) => (root || document).querySelector(sel);
  const fmt = new Intl.NumberFormat('en-US');
  const fmt1 = new Intl.NumberFormat('en-US', { maximumFractionDigits: 1 });
  const fmt2 = new Intl.NumberFormat('en-US', { maximumFractionDigits: 2 });
  const colors = new Map();
  const colorOf = (policy) => {
    if (!colors.has(policy)) colors.set(policy, PALETTE[colors.size % PALETTE.length]);
    return colors.get(policy);
  };
  const sum = (obj) => Object.values(obj || {}).reduce((a, b) => a + b, 0);

  function el(tag, cls, text) {
    const node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined) node.textContent = text;
    return node;
  }
  /** Sets a number: the raw value in data-value, the formatted one as text. */
  function setNum(node, value, text) {
    const raw = String(value);
    if (node.dataset.value !== raw) node.dataset.value = raw;
    const shown = text !== undefined ? text : fmt.format(value);
    if (node.textContent !== shown) node.textContent = shown;
  }
  function setText(node, text) {
    if (node.textContent !== text) node.textContent = text;
  }
  function duration(ms) {
    const s = Math.floor(ms / 1000);
    if (s < 60) return s + 's';
    const m = Math.floor(s / 60);
    if (m < 60) return m + 'm ' + (s % 60) + 's';
    const h = Math.floor(m / 60);
    return h < 48 ? h + 'h ' + (m % 60) + 'm' : Math.floor(h / 24) + 'd ' + (h % 24) + 'h';
  }
  const ms = (v) => (v === null || v === undefined ? '–' : v < 10 ? v.toFixed(2) + ' ms' : fmt1.format(v) + ' ms');
  const rate = (v) => (v >= 100 ? fmt.format(Math.round(v)) : fmt1.format(v));
  const addr = (a) => (a ? a.host + ':' + a.port : 'off');

  async function getJson(path) {
    const res = await fetch(base + path, { cache: 'no-store', headers: token ? { authorization: 'Bearer ' + token } : {} });
    if (res.status === 401) {
      const err = new Error('this broker needs a token: open this page as ' + base + '#token=<token>');
      err.auth = true;
      throw err;
    }
    if (!res.ok) throw new Error(path + ' answered HTTP ' + res.status);
    return res.json();
  }

  // Samples of the last five minutes, oldest first, as the broker keeps them.
  let samples = [];
  let intervalMs = 1000;
  let previous = null; // the last status and when it came, for per-server rates
  let updates = 0;

  async function tick() {
    try {
      const since = samples.length ? samples[samples.length - 1].t : null;
      const [status, activity] = await Promise.all([getJson('status'), getJson('activity' + (since === null ? '' : '?since=' + since))]);
      intervalMs = activity.intervalMs;
      samples = samples.concat(activity.samples);
      const last = samples.length ? samples[samples.length - 1].t : 0;
      samples = samples.filter((s) => s.t > last - WINDOW_MS);
      render(status, activity.errors);
      previous = { at: performance.now(), status };
      updates++;
      document.body.dataset.updates = String(updates);
      live(true, 'updated ' + new Date().toLocaleTimeString());
    } catch (err) {
      live(false, err.auth ? 'token needed' : 'disconnected, retrying');
      const banner = $('#banner');
      banner.textContent = err.auth ? err.message : 'Cannot reach the broker (' + err.message + '); retrying every second.';
      banner.classList.add('show');
    } finally {
      setTimeout(tick, 1000);
    }
  }

  function live(ok, text) {
    const node = $('#live');
    node.className = 'live ' + (ok ? 'ok' : 'bad');
    setText($('#live-text'), text);
    if (ok) $('#banner').classList.remove('show');
  }

  function render(status, errors) {
    renderHeader(status);
    renderTiles(status);
    renderCharts();
    renderPolicies(status);
    renderWorkers(status);
    renderErrors(errors);
  }

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

  /** Answers per second of the last few samples, summed over policies, for 'packets' or 'http'. */
  function recentRate(kind, policy, n) {
    const tail = samples.slice(-(n || 5));
    if (!tail.length) return 0;
    let total = 0;
    for (const s of tail) {
      for (const [p, d] of Object.entries(s[kind])) if (policy === undefined || Number(p) === policy) total += d.answered;
    }
    return total / (tail.length * intervalMs / 1000);
  }

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
    let up = 0, all = 0;
    for (const pol of s.policies) for (const srv of pol.servers) { all++; if (srv.state === 'up') up++; }
    setNum($('#servers-up'), up, fmt.format(up) + ' / ' + fmt.format(all));
    setText($('#servers-sub'), s.policies.length + (s.policies.length === 1 ? ' policy' : ' policies'));
    const httpTile = $('#tile-http');
    httpTile.hidden = !s.http;
    if (s.http) {
      setNum($('#http-requests'), s.http.requests);
      setText($('#http-sub'), rate(recentRate('http')) + '/s · ' + fmt.format(sum(s.http.errors)) + ' errors');
    }
  }

  // Charts

  const SVG = 'http://www.w3.org/2000/svg';
  function svgEl(tag, attrs, text) {
    const node = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
    if (text !== undefined) node.textContent = text;
    return node;
  }
  function niceMax(v) {
    if (!(v > 0)) return 1;
    const p = Math.pow(10, Math.floor(Math.log10(v)));
    for (const m of [1, 2, 2.5, 5, 10]) if (v <= m * p) return m * p;
    return 10 * p;
  }
  /** Draws lines [{color, dash, values: [[t, v|null]]}] over the last five minutes. */
  function drawChart(svg, series, unit) {
    const W = Number(svg.getAttribute('data-w')), H = Number(svg.getAttribute('data-h'));
    const L = 48, R = 10, T = 10, B = 24;
    svg.replaceChildren();
    // The window grows with the samples kept: a minute at first, up to five.
    const end = samples.length ? samples[samples.length - 1].t : Date.now();
    const span = Math.min(WINDOW_MS, Math.max(60000, samples.length ? end - samples[0].t : 0));
    const start = end - span;
    let max = 0;
    for (const s of series) for (const [, v] of s.values) if (v !== null && v > max) max = v;
    const top = niceMax(max);
    const x = (t) => L + ((t - start) / span) * (W - L - R);
    const y = (v) => T + (1 - v / top) * (H - T - B);
    for (let i = 0; i <= 4; i++) {
      const v = (top * i) / 4;
      svg.append(svgEl('line', { class: 'grid', x1: L, x2: W - R, y1: y(v), y2: y(v) }));
      svg.append(svgEl('text', { class: 'axis', x: L - 6, y: y(v) + 4, 'text-anchor': 'end' }, (top < 10 ? fmt2 : fmt).format(v)));
    }
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
    const policies = new Set();
    const httpPolicies = new Set();
    for (const s of samples) {
      for (const [p, d] of Object.entries(s.packets)) if (d.answered > 0) policies.add(Number(p));
      for (const [p, d] of Object.entries(s.http)) if (d.answered > 0) httpPolicies.add(Number(p));
    }
    const series = [];
    const items = [];
    for (const p of [...policies].sort((a, b) => a - b)) {
      series.push({ color: colorOf(p), area: true, values: samples.map((s) => [s.t, s.packets[p] ? s.packets[p].answered / per : 0]) });
      items.push({ color: colorOf(p), label: 'packets ' + p + ' · ' + rate(recentRate('packets', p)) + '/s' });
    }
    for (const p of [...httpPolicies].sort((a, b) => a - b)) {
      series.push({ color: colorOf(p), dash: true, values: samples.map((s) => [s.t, s.http[p] ? s.http[p].answered / per : 0]) });
      items.push({ color: colorOf(p), dash: true, label: 'HTTP ' + p + ' · ' + rate(recentRate('http', p)) + '/s' });
    }
    const errs = samples.map((s) => [s.t, (Object.values(s.packets).reduce((a, d) => a + d.errors, 0) + Object.values(s.http).reduce((a, d) => a + d.errors, 0)) / per]);
    if (errs.some(([, v]) => v > 0)) {
      series.push({ color: '#dc2626', values: errs });
      items.push({ color: '#dc2626', label: 'errors · ' + rate(errs.slice(-5).reduce((a, [, v]) => a + v, 0) / Math.max(1, Math.min(5, errs.length))) + '/s' });
    }
    drawChart($('#chart-rate'), series, 'answers/s');
    legend($('#legend-rate'), items.length ? items : [{ color: '#94a3b8', label: 'no traffic yet' }]);
    const lat = [];
    const latItems = [];
    for (const p of [...policies].sort((a, b) => a - b)) {
      lat.push({ color: colorOf(p), values: samples.map((s) => [s.t, s.packets[p] ? s.packets[p].latencyMs : null]) });
      const recent = samples.slice(-5).map((s) => s.packets[p] && s.packets[p].latencyMs).filter((v) => v !== null && v !== undefined);
      latItems.push({ color: colorOf(p), label: 'policy ' + p + ' · ' + ms(recent.length ? recent.reduce((a, b) => a + b, 0) / recent.length : null) });
    }
    drawChart($('#chart-latency'), lat, 'ms');
    legend($('#legend-latency'), latItems.length ? latItems : [{ color: '#94a3b8', label: 'no replies yet' }]);
  }

  // Policies

  const cards = new Map();

  function makeCard(policy) {
    const card = el('section', 'card policy');
    card.dataset.policy = String(policy);
    card.style.setProperty('--pc', colorOf(policy));
    const h2 = el('h2');
    h2.append(el('span', 'name', 'Policy ' + policy));
    const hint = el('span', 'hint');
    h2.append(hint);
    const chips = el('div', 'chips');
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
      errors: chip('errors', 'errors'),
      rerouted: chip('re-routed', 'rerouted'),
      latency: chip('p50 / p99', 'latency'),
    };
    const packetTable = table(['Server', 'State', 'In flight', 'Served', 'Rate /s', 'Failures', 'Share']);
    const httpTitle = el('h3', '', 'HTTP backends');
    const httpTable = table(['Server', 'State', 'In flight', 'Served', 'Failures', 'Share']);
    card.append(h2, chips, packetTable.table, httpTitle, httpTable.table);
    return { card, hint, f, packet: { body: packetTable.body, rows: new Map() }, http: { title: httpTitle, table: httpTable.table, body: httpTable.body, rows: new Map() } };
  }

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

  function serverRow(kind, key, http) {
    const tr = el('tr');
    tr.dataset.kind = kind;
    tr.dataset.server = key;
    const cell = (cls, field) => {
      const td = el('td', cls);
      if (field) td.dataset.field = field;
      tr.append(td);
      return td;
    };
    const idCell = cell('id');
    const r = { tr, id: el('span', '', ''), address: el('div', 'addr') };
    r.id.dataset.field = 'id';
    r.address.dataset.field = 'address';
    idCell.append(r.id, r.address);
    const st = cell('', 'state');
    r.state = el('span', 'state');
    st.append(r.state);
    r.outstanding = cell('n', 'outstanding');
    r.served = cell('n', 'served');
    if (!http) r.rate = cell('n', 'rate');
    r.failures = cell('n', 'failures');
    const share = cell('share', 'share');
    const bar = el('div', 'bar');
    const track = el('div', 'track');
    r.fill = el('div', 'fill');
    track.append(r.fill);
    r.pct = el('span', 'pct');
    bar.append(track, r.pct);
    share.append(bar);
    return r;
  }

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
    for (const [key, row] of group.rows) if (!seen.has(key)) { row.tr.remove(); group.rows.delete(key); }
    const empty = group.body.querySelector('td.none');
    if (!list.length && !empty) {
      const tr = el('tr');
      const td = el('td', 'none', 'no servers registered for this policy');
      td.colSpan = 7;
      tr.append(td);
      group.body.append(tr);
    } else if (list.length && empty) {
      empty.parentElement.remove();
    }
  }

  function setShare(row, served, total) {
    const pct = total > 0 ? (served / total) * 100 : 0;
    row.fill.style.width = pct.toFixed(1) + '%';
    setText(row.pct, total > 0 ? pct.toFixed(pct < 10 ? 1 : 0) + '%' : '–');
  }
  function setState(node, state) {
    setText(node, state);
    const cls = 'state ' + state;
    if (node.className !== cls) node.className = cls;
  }

  function renderPolicies(s) {
    const container = $('#policies');
    const seen = new Set();
    const prevServed = new Map();
    const dt = previous ? (performance.now() - previous.at) / 1000 : 0;
    if (previous) for (const p of previous.status.policies) for (const srv of p.servers) prevServed.set(p.policy + '/' + srv.id, srv.served);
    s.policies.forEach((p, index) => {
      seen.add(p.policy);
      let c = cards.get(p.policy);
      if (!c) {
        c = makeCard(p.policy);
        cards.set(p.policy, c);
      }
      if (container.children[index] !== c.card) container.insertBefore(c.card, container.children[index] || null);
      const states = {};
      for (const srv of p.servers) states[srv.state] = (states[srv.state] || 0) + 1;
      const summary = Object.entries(states).sort((a, b) => STATE_ORDER[a[0]] - STATE_ORDER[b[0]]).map(([k, v]) => v + ' ' + k).join(' · ');
      setText(c.hint, p.servers.length ? p.servers.length + (p.servers.length === 1 ? ' server: ' : ' servers: ') + summary : 'no packet servers');
      setNum(c.f.rate, Math.round(recentRate('packets', p.policy) * 10) / 10, rate(recentRate('packets', p.policy)));
      setNum(c.f.replied, p.packets.replied);
      const errs = sum(p.packets.errors);
      setNum(c.f.errors, errs);
      c.f.errors.parentElement.classList.toggle('bad', errs > 0);
      setNum(c.f.rerouted, p.packets.rerouted);
      setText(c.f.latency, ms(p.packets.latencyMs.p50) + ' / ' + ms(p.packets.latencyMs.p99));
      const servers = [...p.servers].sort((a, b) => a.id - b.id);
      const total = servers.reduce((a, srv) => a + srv.served, 0);
      fillRows(c.packet, servers, (srv) => String(srv.id), 'packet', (row, srv) => {
        setText(row.id, String(srv.id));
        setText(row.address, srv.host + ':' + srv.port);
        setState(row.state, srv.state);
        setNum(row.outstanding, srv.outstanding);
        setNum(row.served, srv.served);
        const before = prevServed.get(p.policy + '/' + srv.id);
        const r = before !== undefined && dt > 0 && srv.served >= before ? (srv.served - before) / dt : 0;
        setNum(row.rate, Math.round(r), rate(r));
        setNum(row.failures, srv.failures);
        setShare(row, srv.served, total);
      });
      const hs = [...p.httpServers].sort((a, b) => (a.id === null ? Infinity : a.id) - (b.id === null ? Infinity : b.id) || (a.address < b.address ? -1 : 1));
      c.http.title.hidden = c.http.table.hidden = hs.length === 0;
      const httpTotal = hs.reduce((a, b) => a + b.served, 0);
      fillRows(c.http, hs, (b) => (b.id === null ? b.address : String(b.id)), 'http', (row, b) => {
        setText(row.id, b.id === null ? 'static' : String(b.id));
        setText(row.address, b.address);
        setState(row.state, b.state);
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
      for (const field of ['connections', 'inflight', 'requests', 'proxied']) {
        const td = el('td', 'n', fmt.format(w[field]));
        td.dataset.field = field;
        td.dataset.value = String(w[field]);
        tr.append(td);
      }
      tr.append(el('td', 'n', fmt1.format(w.rss / 1048576) + ' MB'));
      body.append(tr);
    }
  }

  // Errors

  let errorsKey = '';
  function renderErrors(errors) {
    const key = errors.length ? errors.length + '/' + errors[0].at + '/' + errors[0].code : '';
    setNum($('#errors-count'), errors.length, errors.length ? 'last ' + errors.length : '');
    if (key === errorsKey) return;
    errorsKey = key;
    const body = $('#errors-body');
    body.replaceChildren();
    if (!errors.length) {
      const tr = el('tr');
      const td = el('td', 'none', 'No errors. Kill a server or send to a policy without servers to see some.');
      td.colSpan = 5;
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
      tr.append(el('td', 'msg', e.message || ''));
      body.append(tr);
    }
  }

  document.querySelectorAll('a[data-href]').forEach((a) => { a.href = base + a.dataset.href; });
  tick();
})();
`;

const BODY = `
<header>
  <h1>policy<span>-</span>broker</h1>
  <span class="state" id="state">…</span>
  <div class="meta">
    <span>algorithm <b id="m-algorithm">–</b></span>
    <span>packets <b id="m-packet">–</b></span>
    <span>HTTP <b id="m-http">–</b></span>
    <span>up <b id="m-uptime">–</b></span>
    <span>RSS <b id="m-rss">–</b></span>
    <span>pid <b id="m-pid">–</b></span>
  </div>
  <div class="live" id="live"><span class="dot"></span><span id="live-text">connecting…</span></div>
</header>
<main>
  <div class="banner" id="banner" role="alert"></div>
  <section class="tiles">
    <div class="tile"><div class="label">Packets / s</div><div class="value" id="rate-packets" data-value="0">0</div><div class="sub">last 5 seconds</div></div>
    <div class="tile"><div class="label">Received</div><div class="value" id="packets-received" data-value="0">0</div><div class="sub">packets since start</div></div>
    <div class="tile"><div class="label">Replies</div><div class="value" id="packets-replied" data-value="0">0</div><div class="sub">delivered to clients</div></div>
    <div class="tile"><div class="label">In flight</div><div class="value" id="packets-inflight" data-value="0">0</div><div class="sub">packets not yet answered</div></div>
    <div class="tile" id="tile-errors"><div class="label">Errors</div><div class="value" id="packets-errors" data-value="0">0</div><div class="sub" id="packets-errors-sub">none</div></div>
    <div class="tile"><div class="label">Re-routed</div><div class="value" id="packets-rerouted" data-value="0">0</div><div class="sub">after a server failed</div></div>
    <div class="tile"><div class="label">Servers up</div><div class="value" id="servers-up" data-value="0">0</div><div class="sub" id="servers-sub"></div></div>
    <div class="tile" id="tile-http" hidden><div class="label">HTTP requests</div><div class="value" id="http-requests" data-value="0">0</div><div class="sub" id="http-sub"></div></div>
  </section>
  <section class="charts">
    <div class="card"><h2>Answers per second <span class="hint">up to the last 5 minutes, by policy (dashed: HTTP)</span></h2>
      <svg class="chart" id="chart-rate" data-w="800" data-h="230" viewBox="0 0 800 230" role="img" aria-label="answers per second"></svg>
      <div class="legend" id="legend-rate"></div></div>
    <div class="card"><h2>Reply latency <span class="hint">mean per second, packets</span></h2>
      <svg class="chart" id="chart-latency" data-w="400" data-h="230" viewBox="0 0 400 230" role="img" aria-label="mean reply latency"></svg>
      <div class="legend" id="legend-latency"></div></div>
  </section>
  <section class="policies" id="policies"></section>
  <div class="card" id="no-policies" hidden><h2>No policies yet</h2><p class="hint">Start servers: <code>policy-server-pool --broker HOST:PORT --policy 111 --count 2</code></p></div>
  <section class="card" id="workers" hidden>
    <h2>HTTP workers <span class="hint" id="workers-count" data-value="0"></span></h2>
    <table><thead><tr><th>Worker</th><th class="n">pid</th><th>State</th><th class="n">Connections</th><th class="n">In flight</th><th class="n">Requests</th><th class="n">Proxied</th><th class="n">RSS</th></tr></thead>
    <tbody id="workers-body"></tbody></table>
  </section>
  <section class="card" id="errors">
    <h2>Recent errors <span class="hint" id="errors-count" data-value="0"></span></h2>
    <table><thead><tr><th>Time</th><th>Kind</th><th>Code</th><th class="n">Policy</th><th>Message</th></tr></thead>
    <tbody id="errors-body"></tbody></table>
  </section>
  <footer>updates every second · <a data-href="status">status</a> · <a data-href="metrics">metrics</a> · <a data-href="activity">activity</a></footer>
</main>
`;

function sha256(text: string): string {
  return `'sha256-${createHash('sha256').update(text).digest('base64')}'`;
}

/** The dashboard page. */
export const DASHBOARD_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>policy-broker</title>
<link rel="icon" href="data:,">
<style>${STYLE}</style>
</head>
<body data-updates="0">${BODY}<script>${SCRIPT}</script>
</body>
</html>
`;

/**
 * The page's Content-Security-Policy: its own inline style and script only (by hash), requests
 * to the broker only, nothing from anywhere else.
 */
export const DASHBOARD_CSP = [
  "default-src 'none'",
  `script-src ${sha256(SCRIPT)}`,
  `style-src ${sha256(STYLE)}`,
  "connect-src 'self'",
  "img-src 'self' data:",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

// flowgate console: plain JavaScript against the admin API (/admin/v1/…),
// the documents of flowgate_core::admin. No framework, no build step, no
// network but this Worker. The admin token lives in sessionStorage only.
'use strict';

const API = '/admin/v1';
const TOKEN_KEY = 'flowgate-admin-token';
const $ = (sel) => document.querySelector(sel);

// ---- the API ----

class ApiError extends Error {
  constructor(status, code, message) { super(message); this.status = status; this.code = code; }
}

async function api(method, path, body) {
  const token = sessionStorage.getItem(TOKEN_KEY);
  const init = { method, headers: { authorization: 'Bearer ' + token }, cache: 'no-store', credentials: 'same-origin' };
  if (body !== undefined) { init.headers['content-type'] = 'application/json'; init.body = JSON.stringify(body); }
  let resp;
  try { resp = await fetch(API + path, init); } catch (e) { throw new ApiError(0, 'unreachable', 'The Worker did not answer: ' + e.message); }
  const text = await resp.text();
  let json = null;
  try { json = text ? JSON.parse(text) : null; } catch (_) { /* not JSON */ }
  if (!resp.ok) {
    const code = json && json.error ? json.error : 'http_' + resp.status;
    const msg = json && json.message ? json.message : (resp.statusText || 'error');
    throw new ApiError(resp.status, code, msg);
  }
  return json;
}

function explain(e) {
  if (e.code === 'admin_disabled') return 'The admin API is off: set FLOWGATE_ADMIN_TOKEN (npx wrangler secret put FLOWGATE_ADMIN_TOKEN; for wrangler dev, a line in .dev.vars).';
  if (e.code === 'unauthorized') return 'That is not the Worker\'s admin token (FLOWGATE_ADMIN_TOKEN). Log in again.';
  if (e.status === 500) return 'The Worker\'s configuration is invalid: run flowgate check.';
  return (e.message || String(e)) + (e.code ? ' (' + e.code + ')' : '');
}

function notice(text, kind) {
  const n = $('#notice');
  n.textContent = text || '';
  n.className = text ? (kind || 'info') : '';
}

function fail(e) {
  notice(explain(e), 'error');
  if (e.code === 'unauthorized') { sessionStorage.removeItem(TOKEN_KEY); showLogin(); }
}

// ---- small DOM helpers (textContent only: nothing from the API is parsed as HTML) ----

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === 'class') e.className = v; else if (k.startsWith('on')) e.addEventListener(k.slice(2), v); else e.setAttribute(k, v);
  }
  for (const c of children) if (c !== null && c !== undefined) e.append(c instanceof Node ? c : String(c));
  return e;
}
const num = (v) => el('td', { class: 'num' }, v === null || v === undefined ? '–' : v);
const td = (v, cls) => el('td', cls ? { class: cls } : {}, v === null || v === undefined || v === '' ? '–' : v);

function fill(table, rows, empty) {
  const body = table.tBodies[0];
  body.replaceChildren();
  if (!rows.length) {
    body.append(el('tr', {}, el('td', { class: 'empty', colspan: table.tHead.rows[0].cells.length }, empty)));
    return;
  }
  for (const r of rows) body.append(r);
}

function utc(secs) {
  if (!secs) return '–';
  return new Date(secs * 1000).toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' UTC');
}
function ago(secs) {
  if (!secs) return '';
  const s = Math.round(Date.now() / 1000 - secs);
  if (s < 0) return 'in ' + span(-s);
  return span(s) + ' ago';
}
function span(s) {
  if (s < 60) return s + ' s';
  if (s < 3600) return Math.floor(s / 60) + ' min';
  if (s < 86400) return Math.floor(s / 3600) + ' h';
  return Math.floor(s / 86400) + ' d';
}
function when(secs) { return secs ? utc(secs) + ' (' + ago(secs) + ')' : '–'; }

function fields(dl, pairs) {
  dl.replaceChildren();
  for (const [k, v] of pairs) dl.append(el('dt', {}, k), el('dd', {}, v === null || v === undefined || v === '' ? '–' : v));
}

function historyRows(history) {
  return (history || []).map((h) => el('tr', {}, num(h.attempt), td(utc(h.at)), num(h.status), td(h.reason), td(hintFor(h))));
}

// The same hints as flowgate_core::forward::flow_failure_hint, by code or status.
const CODE_HINTS = {
  MisMatchingOAuthClaims: 'the flow refused the token\'s claims: scope …//.default (double slash), the flow\'s tenant, and the service principal\'s Object ID for "Specific users"',
  WorkflowNotFound: 'no flow at this URL: copy the trigger URL again, then redrive',
  WorkflowTriggerIsNotEnabled: 'the flow is turned off: turn it on, then redrive',
  TriggerInputSchemaMismatch: 'the body does not match the trigger\'s JSON schema',
  DirectApiRequestHasMoreThanOneAuthorization: 'the flow URL carries a SAS sig=: choose a tenant option for who can trigger it',
};
function hintFor(h) {
  for (const [code, hint] of Object.entries(CODE_HINTS)) if ((h.reason || '').includes(code)) return hint;
  switch (h.status) {
    case 400: return 'the flow refused the request (its trigger schema?)';
    case 401: case 403: return 'the flow refused the token: who can trigger it, the tenant, the scope';
    case 404: return 'no flow at this URL: copy the trigger URL again';
    case 429: return 'throttled by Power Automate; retried after Retry-After';
    case 500: case 502: case 503: case 504: return 'the flow failed or is unavailable; retried with backoff';
    default: return '';
  }
}

// ---- login and navigation ----

let routes = {};

function showLogin() {
  for (const p of document.querySelectorAll('.page')) p.hidden = true;
  $('#login').hidden = false;
  $('#logout').hidden = true;
  $('#token').focus();
}

async function login(ev) {
  ev.preventDefault();
  const token = $('#token').value.trim();
  if (!token) return;
  sessionStorage.setItem(TOKEN_KEY, token);
  $('#token').value = '';
  try {
    await loadStatus();
  } catch (e) {
    sessionStorage.removeItem(TOKEN_KEY);
    fail(e);
    showLogin();
    return;
  }
  notice('');
  route();
}

function logout() {
  sessionStorage.removeItem(TOKEN_KEY);
  notice('Logged out: the token is gone from this tab.', 'info');
  showLogin();
}

function page() {
  const p = location.hash.replace('#', '');
  return ['overview', 'deliveries', 'dead-letters'].includes(p) ? p : 'overview';
}

async function route() {
  if (!sessionStorage.getItem(TOKEN_KEY)) { showLogin(); return; }
  $('#login').hidden = true;
  $('#logout').hidden = false;
  const current = page();
  for (const a of document.querySelectorAll('nav a')) {
    if (a.dataset.page === current) a.setAttribute('aria-current', 'page'); else a.removeAttribute('aria-current');
  }
  for (const p of document.querySelectorAll('.page')) p.hidden = p.id !== 'page-' + current;
  try {
    if (current === 'overview') await overview();
    else if (current === 'deliveries') { await ensureRoutes(); await searchDeliveries(); }
    else { await ensureRoutes(); await listLetters(); }
  } catch (e) { fail(e); }
}

// ---- overview ----

async function loadStatus() {
  const s = await api('GET', '/status');
  routes = s.routes || {};
  for (const sel of document.querySelectorAll('.route-select')) {
    const keep = sel.value;
    sel.replaceChildren(el('option', { value: '' }, 'any'), ...Object.keys(routes).map((r) => el('option', {}, r)));
    sel.value = keep;
  }
  return s;
}
async function ensureRoutes() { if (!Object.keys(routes).length) await loadStatus(); }

async function overview() {
  const s = await loadStatus();
  const names = Object.keys(routes);
  fill($('#routes'), names.map((n) => {
    const r = routes[n];
    return el('tr', {}, el('th', { scope: 'row' }, n), td(r.provider), td(r.mode),
      ...(r.error ? [el('td', { colspan: 7, class: 'state-dead' }, r.error)]
        : [num(r.accepted), num(r.delivered), num(r.queued), num(r.retrying), num(r.dead_letters_waiting), num(r.duplicates), num(r.dropped)]));
  }), 'No routes configured: add [vars.FLOWGATE.routes.<name>] to wrangler.toml.');
  chart(names.map((n) => [n, routes[n]]));

  const flows = [];
  for (const n of names) for (const f of routes[n].flows || []) {
    const e = f.last_error;
    flows.push(el('tr', {}, td(n), el('th', { scope: 'row' }, f.flow), num(f.delivered), num(f.queued),
      el('td', { class: 'num' + (f.retrying ? ' state-retrying' : '') }, f.retrying),
      el('td', { class: 'num' + (f.dead ? ' state-dead' : '') }, f.dead),
      td(e ? (e.status ? e.status + ' — ' : '') + e.reason + ' (' + ago(e.at) + ')' : ''), td(f.hint)));
  }
  fill($('#flows'), flows, 'No deliveries recorded yet (flows appear once a queued webhook is delivered or fails).');

  fill($('#tokens'), (s.token_cache || []).map((t) => el('tr', {},
    el('th', { scope: 'row' }, t.credential || t.key), td(t.tenant), td(t.state.replace('_', ' '), 'state-' + t.state),
    td(t.expires_at ? utc(t.expires_at) + ' (in ' + span(t.expires_in_secs || 0) + ')' : ''), td(t.cached_in), td((t.flows || []).join(', ')))),
  'No credentials: no flow is configured.');

  const hs = names.filter((n) => routes[n].handshake);
  const rows = [];
  for (const n of hs) {
    try {
      const w = await api('GET', '/routes/' + encodeURIComponent(n) + '/handshake');
      rows.push(el('tr', {}, el('th', { scope: 'row' }, n), td(w.name),
        td(w.open_until ? 'open until ' + utc(w.open_until) : 'closed'), td(w.kept_at ? when(w.kept_at) : 'no secret kept')));
    } catch (e) { rows.push(el('tr', {}, el('th', { scope: 'row' }, n), el('td', { colspan: 3 }, explain(e)))); }
  }
  fill($('#handshakes'), rows, 'No route takes a handed-over secret (only Asana and Notion routes without secret_bindings do).');
}

const SERIES = [['accepted', 'Accepted', '#0b5cad'], ['delivered', 'Delivered', '#1a7f37'], ['retrying', 'Retrying', '#bf8700'],
  ['dead_lettered', 'Dead', '#b42318'], ['dropped', 'Dropped', '#8c959f']];

// Grouped bars, plain inline SVG.
function chart(entries) {
  const box = $('#chart');
  box.replaceChildren();
  // Routes with something to show (a deployment with many quiet routes keeps its chart readable).
  const data = entries.filter(([, r]) => !r.error && SERIES.some(([k]) => r[k]));
  if (!data.length) { box.append(el('p', { class: 'hint' }, 'Nothing to chart yet: no route has accepted a webhook.')); return; }
  const legend = el('div', { class: 'legend', 'aria-hidden': 'true' });
  for (const [, label, color] of SERIES) {
    const sw = el('span', { class: 'swatch' });
    sw.style.background = color; // CSSOM, not a style attribute: allowed by the console's CSP
    legend.append(el('span', {}, sw, label));
  }
  box.append(legend);
  const NS = 'http://www.w3.org/2000/svg';
  const bar = 14, gap = 4, group = SERIES.length * (bar + gap) + 18, left = 34, top = 10, h = 180;
  const width = left + data.length * group + 10, height = top + h + 40;
  const max = Math.max(1, ...data.flatMap(([, r]) => SERIES.map(([k]) => r[k] || 0)));
  const svg = document.createElementNS(NS, 'svg');
  svg.setAttribute('viewBox', '0 0 ' + width + ' ' + height);
  svg.setAttribute('width', width);
  svg.setAttribute('role', 'img');
  svg.setAttribute('aria-label', 'Per route: ' + data.map(([n, r]) => n + ' ' + SERIES.map(([k, l]) => l.toLowerCase() + ' ' + (r[k] || 0)).join(', ')).join('; '));
  const mk = (tag, attrs, text) => { const e = document.createElementNS(NS, tag); for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v); if (text !== undefined) e.textContent = text; svg.append(e); return e; };
  mk('line', { x1: left, y1: top + h, x2: width - 5, y2: top + h, stroke: '#d0d7de' });
  mk('text', { x: left - 4, y: top + 8, 'text-anchor': 'end', 'font-size': 10, fill: '#57606a' }, String(max));
  mk('text', { x: left - 4, y: top + h, 'text-anchor': 'end', 'font-size': 10, fill: '#57606a' }, '0');
  data.forEach(([name, r], i) => {
    const x0 = left + 8 + i * group;
    SERIES.forEach(([k, label, color], j) => {
      const v = r[k] || 0, bh = Math.round((v / max) * h);
      const rect = mk('rect', { x: x0 + j * (bar + gap), y: top + h - bh, width: bar, height: Math.max(bh, v ? 1 : 0), fill: color });
      const t = document.createElementNS(NS, 'title'); t.textContent = name + ': ' + label + ' ' + v; rect.append(t);
    });
    mk('text', { x: x0 + (SERIES.length * (bar + gap)) / 2, y: top + h + 16, 'text-anchor': 'middle', 'font-size': 11, fill: '#1b1f24' },
      name.length > 14 ? name.slice(0, 13) + '…' : name);
  });
  box.append(svg);
}

// ---- deliveries ----

function query(form) {
  const p = new URLSearchParams();
  for (const [k, v] of new FormData(form)) if (String(v).trim()) p.set(k, String(v).trim());
  return p;
}

async function searchDeliveries(ev) {
  if (ev) ev.preventDefault();
  const p = query($('#delivery-search'));
  p.set('limit', '100');
  const page = await api('GET', '/deliveries?' + p);
  fill($('#deliveries'), page.items.map((d) => el('tr', {}, td(when(d.updated)), td(d.route), td(d.flow), td(d.delivery_id || d.id),
    td(d.state, 'state-' + d.state), num(d.attempts), td(d.next_at ? utc(d.next_at) : ''),
    el('td', {}, el('button', { type: 'button', onclick: () => showDelivery(d) , 'aria-label': 'History of ' + (d.delivery_id || d.id) }, 'History')))),
  p.toString() === 'limit=100' ? 'No deliveries yet: queued webhooks appear here once the consumer sees them.' : 'No delivery matches.');
  if (page.errors && page.errors.length) notice(page.errors.map((e) => e.route + ': ' + e.error).join('; '), 'error');
  else if (ev) notice('');
}

function showDelivery(d) {
  const box = $('#delivery-detail');
  box.hidden = false;
  $('#dd-title').textContent = 'Delivery ' + (d.delivery_id || d.id);
  fields($('#delivery-fields'), [['Route', d.route], ['Flow', d.flow], ['flowgate id', d.id], ['Sender\'s delivery id', d.delivery_id],
    ['State', d.state], ['Attempts', d.attempts], ['Updated', when(d.updated)], ['Next attempt', d.next_at ? when(d.next_at) : '']]);
  fill($('#delivery-history'), historyRows(d.history), d.state === 'delivered' && d.attempts <= 1
    ? 'Delivered at the first attempt: no failed attempt.' : 'No failed attempt recorded.');
  box.scrollIntoView({ block: 'nearest' });
  $('#dd-title').setAttribute('tabindex', '-1');
  $('#dd-title').focus();
}

// ---- dead letters ----

let current = null; // the open letter
let bodyBytes = null;

function letterFilter() {
  const p = query($('#letter-filter'));
  return { route: p.get('route') || undefined, flow: p.get('flow') || undefined, q: p.get('q') || undefined };
}

async function listLetters(ev) {
  if (ev) { ev.preventDefault(); resetBulk(); }
  const p = query($('#letter-filter'));
  p.set('limit', '1000');
  const items = [];
  let cursor = null;
  do {
    if (cursor) p.set('cursor', cursor);
    const page = await api('GET', '/dead-letters?' + p);
    items.push(...page.items);
    cursor = page.cursor;
  } while (cursor && items.length < 5000);
  fill($('#letters'), items.map((l) => el('tr', {}, td(when(l.dead_at)), td(l.route), td(l.flow), td(l.event_type), num(l.attempts), td(l.reason),
    el('td', {}, el('button', { type: 'button', onclick: () => openLetter(l.route, l.id), 'aria-label': 'Open ' + l.route + '/' + l.id }, 'Open')))),
  p.get('route') || p.get('flow') || p.get('q') ? 'No dead letter matches the filter.' : 'No dead letters: every accepted webhook was delivered or is still being retried.');
}

async function openLetter(r, id) {
  const l = await api('GET', '/dead-letters/' + encodeURIComponent(r) + '/' + encodeURIComponent(id));
  current = l;
  bodyBytes = null;
  $('#letter-detail').hidden = false;
  $('#ld-title').textContent = 'Dead letter ' + l.route + '/' + l.id;
  fields($('#letter-fields'), [['Route', l.route], ['Flow', l.flow], ['Provider', l.provider], ['Event', l.event_type],
    ['Sender\'s delivery id', l.delivery_id], ['flowgate id', l.flowgate_id], ['Received', when(l.received_at)], ['Dead since', when(l.dead_at)],
    ['Attempts', l.attempts], ['Reason', l.reason], ['Body', (l.body_bytes || 0) + ' bytes' + (l.content_type ? ', ' + l.content_type : '')]]);
  fill($('#letter-headers'), Object.entries(l.headers || {}).map(([k, v]) => el('tr', {}, el('th', { scope: 'row' }, k), td(v))), 'No headers kept.');
  fill($('#letter-history'), historyRows(l.history), 'No attempt recorded (given up on without one).');
  $('#letter-body').hidden = true;
  $('#letter-body').textContent = '';
  $('#body-views').hidden = true;
  $('#show-body').hidden = false;
  $('#ld-title').setAttribute('tabindex', '-1');
  $('#ld-title').focus();
}

function decodeBody() {
  if (!current.body_base64) return null;
  const bin = atob(current.body_base64);
  const bytes = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
  return bytes;
}

function showBody(view) {
  if (bodyBytes === null) bodyBytes = decodeBody();
  const pre = $('#letter-body');
  pre.hidden = false;
  $('#body-views').hidden = false;
  $('#show-body').hidden = true;
  if (bodyBytes === null) { pre.textContent = 'The body is too large to show here (' + current.body_r2_key + ' in R2).'; return; }
  let text = null;
  try { text = new TextDecoder('utf-8', { fatal: true }).decode(bodyBytes); } catch (_) { /* binary */ }
  if (!view) view = text !== null ? 'json' : 'hex';
  if (view === 'json' && text !== null) {
    try { pre.textContent = JSON.stringify(JSON.parse(text), null, 2); } catch (_) { pre.textContent = text; }
  } else if (view === 'text' && text !== null) {
    pre.textContent = text;
  } else if (view === 'base64') {
    pre.textContent = current.body_base64.replace(/(.{76})/g, '$1\n');
  } else {
    const lines = [];
    for (let i = 0; i < bodyBytes.length && i < 65536; i += 16) {
      const row = Array.from(bodyBytes.slice(i, i + 16));
      lines.push(i.toString(16).padStart(8, '0') + '  ' + row.map((b) => b.toString(16).padStart(2, '0')).join(' ').padEnd(48) + '  ' +
        row.map((b) => (b >= 32 && b < 127 ? String.fromCharCode(b) : '.')).join(''));
    }
    pre.textContent = lines.join('\n') || '(empty body)';
  }
  for (const b of document.querySelectorAll('#body-views button')) b.setAttribute('aria-pressed', String(b.dataset.view === view));
}

async function redriveOne() {
  if (!current) return;
  try {
    await api('POST', '/dead-letters/' + encodeURIComponent(current.route) + '/' + encodeURIComponent(current.id) + '/redrive');
    notice('Redriven: ' + current.route + '/' + current.id + ' is queued for delivery again.', 'info');
    closeLetter();
    await listLetters();
  } catch (e) { fail(e); }
}

async function deleteOne() {
  if (!current || !confirm('Delete dead letter ' + current.route + '/' + current.id + '? It will not be delivered.')) return;
  try {
    await api('DELETE', '/dead-letters/' + encodeURIComponent(current.route) + '/' + encodeURIComponent(current.id));
    notice('Deleted ' + current.route + '/' + current.id + '.', 'info');
    closeLetter();
    await listLetters();
  } catch (e) { fail(e); }
}

function closeLetter() { current = null; bodyBytes = null; $('#letter-detail').hidden = true; }

// Bulk: the dry run first; the real run is enabled only after it, for the same filter.
let dryRunFor = null;
function resetBulk() { dryRunFor = null; $('#bulk-redrive').disabled = true; $('#bulk-delete').disabled = true; $('#bulk-result').textContent = ''; }

async function dryRun() {
  try {
    const f = letterFilter();
    const r = await api('POST', '/dead-letters/redrive', { ...f, dry_run: true });
    dryRunFor = JSON.stringify(f);
    $('#bulk-result').textContent = 'Dry run: ' + r.matched + ' dead letter(s) match.';
    $('#bulk-redrive').disabled = r.matched === 0;
    $('#bulk-delete').disabled = r.matched === 0;
  } catch (e) { fail(e); }
}

async function bulk(op) {
  const f = letterFilter();
  if (dryRunFor !== JSON.stringify(f)) { resetBulk(); $('#bulk-result').textContent = 'The filter changed: run the dry run again.'; return; }
  if (op === 'delete' && !confirm('Delete every dead letter the filter matches? They will not be delivered.')) return;
  let done = 0, rounds = 0, last;
  try {
    do {
      last = await api('POST', '/dead-letters/' + op, f);
      done += op === 'redrive' ? last.redriven : last.deleted;
      rounds++;
    } while (last.remaining > 0 && (op === 'redrive' ? last.redriven : last.deleted) > 0 && rounds < 200);
  } catch (e) { fail(e); }
  resetBulk();
  $('#bulk-result').textContent = (op === 'redrive' ? 'Redriven ' : 'Deleted ') + done + ' dead letter(s)' +
    (last && last.remaining ? '; ' + last.remaining + ' remain' + (last.failed && last.failed.length ? ' (' + last.failed[0].error + ')' : '') : '') + '.';
  closeLetter();
  await listLetters().catch(fail);
}

// ---- wiring ----

document.addEventListener('DOMContentLoaded', () => {
  $('#login-form').addEventListener('submit', login);
  $('#logout').addEventListener('click', logout);
  $('#delivery-search').addEventListener('submit', (ev) => searchDeliveries(ev).catch(fail));
  $('#letter-filter').addEventListener('submit', (ev) => listLetters(ev).catch(fail));
  $('#letter-filter').addEventListener('input', resetBulk);
  $('#bulk-dry-run').addEventListener('click', dryRun);
  $('#bulk-redrive').addEventListener('click', () => bulk('redrive'));
  $('#bulk-delete').addEventListener('click', () => bulk('delete'));
  $('#letter-redrive').addEventListener('click', redriveOne);
  $('#letter-delete').addEventListener('click', deleteOne);
  $('#show-body').addEventListener('click', () => showBody());
  for (const b of document.querySelectorAll('#body-views button')) b.addEventListener('click', () => showBody(b.dataset.view));
  window.addEventListener('hashchange', route);
  route();
});

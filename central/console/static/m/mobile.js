// The phone view at /m/: a grid worker's or department's own work orders, nearest deadline first;
// one order with its snapshot, clip and position; one-tap actions with photos from the phone's
// camera. Actions go through queue.js, so they survive a dead village network and are applied once.
import { currentLang, has, initI18n, setLang, t } from './i18n.js';
import { jpegBase64 } from './photos.js';
import * as queue from './queue.js';

const LIST_CACHE = 'gridwatch.m.orders';
const ORDER_CACHE = 'gridwatch.m.order.';
const TOWN_CACHE = 'gridwatch.m.town';
const DONE = new Set(['closed', 'rejected']);
/** Steps the phone offers, and what each asks for. Desk work (dispatch, reassign, extensions' approval) stays on the console. */
const FORMS = {
  acknowledge: {},
  accept: {},
  arrive: {},
  resolve: { note: true, photos: 1, evidence: true },
  feedback: { note: true, photos: 1 },
  request_extension: { reason: true, until: true },
  return: { reason: true },
  verify_pass: { action: 'verify', passed: true, note: true, photos: 0 },
  verify_fail: { action: 'verify', passed: false, note: true, photos: 1 },
  close: { note: true },
  reject: { reason: true },
};
const RETRY_MS = 5000;

let me = null;
let online = navigator.onLine;

// ---- small DOM helpers (text only; nothing from the hub is ever parsed as HTML) ----
function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat(Infinity)) if (c !== null && c !== undefined && c !== false) el.append(c instanceof Node ? c : String(c));
  return el;
}
const view = () => document.getElementById('view');
function show(...nodes) { view().replaceChildren(...nodes); window.scrollTo(0, 0); }

function toast(text) {
  const el = h('div', { class: 'toast', role: 'status' }, text);
  document.body.append(el);
  setTimeout(() => el.remove(), 4000);
}

// ---- network state ----
function setOnline(value) {
  online = value;
  const net = document.getElementById('net');
  net.dataset.state = value ? 'online' : 'offline';
  net.dataset.i18n = value ? 'net.online' : 'net.offline';
  net.textContent = t(net.dataset.i18n);
  renderQueueState();
}

async function getJson(url) {
  let resp;
  try {
    resp = await fetch(url, { credentials: 'same-origin', headers: { Accept: 'application/json' } });
  } catch {
    setOnline(false);
    return { offline: true };
  }
  setOnline(true);
  const data = resp.headers.get('content-type')?.includes('json') ? await resp.json() : null;
  return { status: resp.status, ok: resp.ok, data };
}

// ---- queue banner and failures ----
function renderQueueState() {
  const banner = document.getElementById('queue-banner');
  const n = queue.pending().length;
  banner.hidden = n === 0;
  banner.textContent = n ? t('queue.pending', { n }) : '';
  const box = document.getElementById('failed');
  const bad = queue.failed();
  box.hidden = bad.length === 0;
  box.replaceChildren(
    ...bad.map((f) => h('p', { class: 'error' }, t('queue.failed', { label: t(`action.${f.label}`), id: f.orderId, msg: f.msg }))),
    bad.length ? h('button', { class: 'btn', type: 'button', onclick: () => { queue.dismissFailed(); renderQueueState(); } }, t('queue.dismiss')) : '',
  );
}

async function flushQueue() {
  if (queue.pending().length === 0) return;
  const result = await queue.flush();
  setOnline(result.left === 0 || navigator.onLine);
  renderQueueState();
  if (result.sent || result.failed) await route();
}

// ---- formatting ----
function duration(ms) {
  const min = Math.max(1, Math.round(Math.abs(ms) / 60000));
  const d = Math.floor(min / 1440); const hr = Math.floor((min % 1440) / 60); const m = min % 60;
  if (currentLang() === 'zh-CN') return (d ? `${d}天` : '') + (hr ? `${hr}小时` : '') + (!d && m ? `${m}分` : '');
  return [d ? `${d} d` : '', hr ? `${hr} h` : '', !d && m ? `${m} min` : ''].filter(Boolean).join(' ');
}
const kindLabel = (k) => (has(`kind.${k}`) ? t(`kind.${k}`) : k);
const stateLabel = (s) => (has(`state.${s}`) ? t(`state.${s}`) : s);
const place = (o) => [o.village?.name, o.address, o.camera?.name].filter(Boolean)[0] || '';
const time = (iso) => new Date(iso).toLocaleString(currentLang(), { month: 'numeric', day: 'numeric', hour: '2-digit', minute: '2-digit' });

/** The deadline that matters now: the earliest one still ahead, or the latest one missed. */
function nextDeadline(order) {
  const now = Date.now();
  const all = Object.values(order.deadlines || {}).filter(Boolean).map((d) => Date.parse(d)).sort((a, b) => a - b);
  return all.find((d) => d >= now) ?? all[all.length - 1] ?? Infinity;
}

function deadlineText(order) {
  const at = nextDeadline(order);
  if (!Number.isFinite(at)) return '';
  const ms = at - Date.now();
  return ms >= 0 ? t('order.in', { d: duration(ms) }) : t('order.ago', { d: duration(ms) });
}

// ---- login ----
function showLogin() {
  const tpl = document.getElementById('login-tpl').content.cloneNode(true);
  show(tpl);
  for (const el of view().querySelectorAll('[data-i18n]')) el.textContent = t(el.dataset.i18n);
  view().querySelector('#login-form').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const form = ev.target;
    const err = form.querySelector('#login-error');
    try {
      const resp = await fetch('/api/v1/session', {
        method: 'POST', credentials: 'same-origin',
        headers: { 'Content-Type': 'application/json', 'X-Gridwatch-Console': '1' },
        body: JSON.stringify({ token: form.token.value.trim(), name: form.name.value.trim() || null }),
      });
      const data = await resp.json().catch(() => null);
      if (!resp.ok) throw new Error(queue.detail(data) || `HTTP ${resp.status}`);
      me = data;
      localStorage.setItem('gridwatch.m.me', JSON.stringify(me));
      window.location.hash = '#/';
      await route();
    } catch (e) {
      err.hidden = false;
      err.textContent = t('login.failed', { msg: e.message });
    }
  });
}

async function whoAmI() {
  const r = await getJson('/api/v1/session');
  if (r.offline) return JSON.parse(localStorage.getItem('gridwatch.m.me') || 'null');
  if (!r.ok) return null;
  localStorage.setItem('gridwatch.m.me', JSON.stringify(r.data));
  return r.data;
}

// ---- list ----
function listUrl() {
  const q = new URLSearchParams({ limit: '200' });
  // A grid worker's token named after the worker: that worker's orders. A department's token is
  // limited to its department's queue by the hub itself.
  if (me?.role === 'grid_worker' && me.name) q.set('assignee', me.name);
  return `/api/v1/work-orders?${q}`;
}

async function showList() {
  const r = await getJson(listUrl());
  let orders; let cachedAt = null;
  if (r.offline) {
    const cached = JSON.parse(localStorage.getItem(LIST_CACHE) || 'null');
    orders = cached?.orders || [];
    cachedAt = cached?.at;
  } else if (r.status === 401) {
    me = null;
    showLogin();
    return;
  } else {
    orders = (r.data?.items || r.data?.work_orders || []).filter((o) => !DONE.has(o.state));
    localStorage.setItem(LIST_CACHE, JSON.stringify({ at: new Date().toISOString(), orders }));
  }
  orders.sort((a, b) => (b.is_overdue - a.is_overdue) || nextDeadline(a) - nextDeadline(b));
  const queuedIds = new Set(queue.pending().map((i) => i.orderId));
  show(
    h('div', { class: 'who' },
      me ? t('list.who', { name: me.display_name || me.name, role: t(`role.${me.role}`) }) : '',
      h('span', { class: 'spacer' }),
      h('button', { class: 'btn small', type: 'button', id: 'refresh', onclick: () => route() }, t('list.refresh')),
      h('button', { class: 'btn small', type: 'button', onclick: logout }, t('list.logout'))),
    cachedAt ? h('p', { class: 'muted', id: 'cached-note' }, t('list.cached', { time: time(cachedAt) })) : '',
    orders.length === 0 ? h('p', { class: 'muted empty' }, t('list.empty')) : '',
    h('ul', { class: 'orders', id: 'orders' }, orders.map((o) => h('li', {},
      h('a', { class: `card order-card${o.is_overdue ? ' overdue' : ''}`, href: `#/order/${o.id}`, dataset: { id: o.id, state: o.state } },
        h('div', { class: 'row' },
          h('strong', {}, kindLabel(o.kind || o.service_code || '')),
          h('span', { class: `state s-${o.state}` }, stateLabel(o.state)),
          queuedIds.has(o.id) ? h('span', { class: 'chip' }, t('order.queued')) : ''),
        h('div', { class: 'row muted' }, `#${o.id} · ${place(o)}`),
        h('div', { class: `row deadline${o.is_overdue ? ' late' : ''}` }, `${t('order.deadline')}: ${deadlineText(o)}`))))),
  );
}

async function logout() {
  try { await fetch('/api/v1/session', { method: 'DELETE', credentials: 'same-origin', headers: { 'X-Gridwatch-Console': '1' } }); } catch { /* offline */ }
  localStorage.removeItem('gridwatch.m.me');
  me = null;
  showLogin();
}

// ---- one order ----
async function loadTown() {
  const r = await getJson('/api/v1/town');
  if (r.ok) {
    const cams = r.data.cameras.map((c) => [c.lon, c.lat]);
    localStorage.setItem(TOWN_CACHE, JSON.stringify(cams));
    return cams;
  }
  return JSON.parse(localStorage.getItem(TOWN_CACHE) || '[]');
}

function miniMap(cams, lon, lat) {
  const SVGNS = 'http://www.w3.org/2000/svg';
  const pts = [...cams, [lon, lat]];
  const xs = pts.map((p) => p[0]); const ys = pts.map((p) => p[1]);
  const [x0, x1, y0, y1] = [Math.min(...xs), Math.max(...xs), Math.min(...ys), Math.max(...ys)];
  const W = 300; const H = 180; const pad = 10;
  const sx = (x) => pad + ((x - x0) / (x1 - x0 || 1)) * (W - 2 * pad);
  const sy = (y) => H - pad - ((y - y0) / (y1 - y0 || 1)) * (H - 2 * pad);
  const svg = document.createElementNS(SVGNS, 'svg');
  svg.setAttribute('viewBox', `0 0 ${W} ${H}`);
  svg.setAttribute('class', 'minimap');
  svg.setAttribute('role', 'img');
  for (const [x, y] of cams) {
    const c = document.createElementNS(SVGNS, 'circle');
    c.setAttribute('cx', sx(x)); c.setAttribute('cy', sy(y)); c.setAttribute('r', 1.6); c.setAttribute('class', 'cam');
    svg.append(c);
  }
  const m = document.createElementNS(SVGNS, 'circle');
  m.setAttribute('cx', sx(lon)); m.setAttribute('cy', sy(lat)); m.setAttribute('r', 6); m.setAttribute('class', 'here');
  svg.append(m);
  return svg;
}

async function showOrder(id) {
  const r = await getJson(`/api/v1/work-orders/${id}`);
  let order;
  if (r.offline) order = JSON.parse(localStorage.getItem(ORDER_CACHE + id) || 'null');
  else if (r.status === 401) { showLogin(); return; } else if (r.ok) {
    order = r.data;
    localStorage.setItem(ORDER_CACHE + id, JSON.stringify(order));
  }
  if (!order) {
    show(h('p', { class: 'error' }, queue.detail(r.data) || `#${id}`), h('a', { href: '#/', class: 'btn' }, t('order.back')));
    return;
  }
  const lat = order.lat ?? order.camera?.lat; const lon = order.long ?? order.camera?.lon;
  const queued = queue.pending().filter((i) => i.orderId === order.id);
  const cams = lat != null && lon != null ? await loadTown() : [];
  const snapshots = order.snapshots || (order.snapshot_url ? [{ url: order.snapshot_url, camera_id: order.camera?.id }] : []);
  show(
    h('a', { href: '#/', class: 'back' }, `‹ ${t('order.back')}`),
    h('section', { class: 'card', id: 'order', dataset: { id: order.id, state: order.state } },
      h('div', { class: 'row' },
        h('strong', {}, `${kindLabel(order.kind || order.service_code || '')} #${order.id}`),
        h('span', { class: `state s-${order.state}`, id: 'order-state' }, stateLabel(order.state)),
        order.rework_count ? h('span', { class: 'chip' }, t('order.rework', { n: order.rework_count })) : ''),
      h('p', { class: 'muted' }, place(order)),
      order.description ? h('p', {}, order.description) : '',
      h('p', { class: `deadline${order.is_overdue ? ' late' : ''}` }, `${t('order.deadline')}: ${deadlineText(order)}`),
      snapshots.map((s) => h('figure', {},
        h('img', { src: s.url, alt: t('order.snapshot', { camera: s.camera_id || '' }), class: 'snapshot' }),
        h('figcaption', {}, t('order.snapshot', { camera: s.camera_id || '' })))),
      order.clip_url ? h('video', { src: order.clip_url, controls: true, preload: 'none', class: 'clip', playsinline: true }) : '',
      lat != null && lon != null
        ? h('div', { class: 'position' },
          h('span', {}, `${t('order.position')}: ${Number(lat).toFixed(5)}, ${Number(lon).toFixed(5)}`),
          miniMap(cams, lon, lat),
          h('a', { href: `geo:${lat},${lon}`, class: 'btn small' }, t('order.open_map')))
        : ''),
    queued.length ? h('p', { class: 'chip queued', id: 'queued-note' }, `${t('order.queued')}: ${queued.map((q) => t(`action.${q.label}`)).join(', ')}`) : '',
    actionsPanel(order, queued.length > 0),
    h('section', { class: 'card history' }, h('h2', {}, t('order.history')),
      h('ol', { id: 'history' }, (order.history || []).slice().reverse().map((e) => h('li', {},
        h('div', {}, `${time(e.at)} · ${has(`action.${e.action}`) ? t(`action.${e.action}`) : e.action} · ${e.actor}`),
        e.note ? h('div', { class: 'muted' }, e.note) : '',
        (e.attachments || []).map((a) => h('img', { src: a, class: 'thumb', alt: '' })))))),
  );
}

function phoneActions(order) {
  const out = [];
  for (const a of order.allowed_actions || []) {
    if (a === 'verify') out.push('verify_pass', 'verify_fail');
    else if (FORMS[a]) out.push(a);
  }
  return out;
}

function actionsPanel(order, hasQueued) {
  const actions = hasQueued ? [] : phoneActions(order);
  const panel = h('section', { class: 'card actions', id: 'actions' });
  if (actions.length === 0) {
    panel.append(h('p', { class: 'muted' }, hasQueued ? t('order.queued') : t('order.no_actions')));
    return panel;
  }
  for (const a of actions) {
    panel.append(h('button', { class: 'btn big', type: 'button', dataset: { action: a }, onclick: () => openForm(order, a, panel) }, t(`action.${a}`)));
  }
  return panel;
}

function openForm(order, label, panel) {
  const spec = FORMS[label];
  if (!spec.note && !spec.reason && !spec.until && spec.photos === undefined) {
    submit(order, label, {});
    return;
  }
  const form = h('form', { class: 'card action-form', id: 'action-form', dataset: { action: label } },
    h('h2', {}, t(`action.${label}`)),
    spec.reason ? [h('label', { for: 'f-reason' }, t('form.reason')), h('textarea', { id: 'f-reason', name: 'reason', rows: 3, maxlength: 4000 })] : '',
    spec.until ? [h('label', { for: 'f-until' }, t('form.until')), h('input', { id: 'f-until', name: 'until', type: 'datetime-local' })] : '',
    spec.note ? [h('label', { for: 'f-note' }, t('form.note')), h('textarea', { id: 'f-note', name: 'note', rows: 3, maxlength: 4000 })] : '',
    spec.photos !== undefined ? [h('label', { for: 'f-photos' }, t('form.photos')),
      h('input', { id: 'f-photos', name: 'photos', type: 'file', accept: 'image/*', capture: 'environment', multiple: true })] : '',
    h('p', { class: 'error', id: 'form-error', hidden: true }),
    h('div', { class: 'row' },
      h('button', { class: 'btn primary big', type: 'submit', id: 'form-submit' }, t('form.submit')),
      h('button', { class: 'btn', type: 'button', onclick: () => form.remove() }, t('form.cancel'))));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const err = form.querySelector('#form-error');
    const fail = (key) => { err.hidden = false; err.textContent = t(key); };
    const reason = form.reason?.value.trim() || '';
    if (spec.reason && !reason) return fail('form.reason_needed');
    if (spec.until && !form.until.value) return fail('form.until_needed');
    const files = Array.from(form.photos?.files || []).slice(0, 5);
    if (spec.photos && files.length < spec.photos) return fail('form.photos_needed');
    const photos = [];
    for (const f of files) photos.push(await jpegBase64(f));
    const body = {};
    if (form.note?.value.trim()) body.note = form.note.value.trim();
    if (reason) body.reason = reason;
    if (spec.until) body.until = new Date(form.until.value).toISOString();
    if (spec.passed !== undefined) body.passed = spec.passed;
    if (photos.length) {
      if (spec.evidence) body.evidence = photos[0];
      else body.photos = photos;
    }
    form.remove();
    await submit(order, label, body);
  });
  panel.after(form);
  form.querySelector('textarea, input')?.focus();
}

async function submit(order, label, fields) {
  const action = FORMS[label].action || label;
  queue.enqueue(order.id, { action, ...fields }, label);
  renderQueueState();
  const result = await queue.flush();
  renderQueueState();
  if (result.left > 0) {
    setOnline(false);
    toast(t('sent.queued', { label: t(`action.${label}`) }));
  } else if (result.sent) {
    toast(t('sent.ok', { label: t(`action.${label}`) }));
  }
  await route();
}

// ---- routing ----
async function route() {
  const m = window.location.hash.match(/^#\/order\/(\d+)$/);
  if (!me) {
    me = await whoAmI();
    if (!me) { showLogin(); return; }
  }
  if (m) await showOrder(Number(m[1]));
  else await showList();
  document.body.dataset.ready = 'true';
}

async function main() {
  await initI18n();
  const sel = document.getElementById('lang');
  sel.value = currentLang();
  sel.addEventListener('change', async () => { await setLang(sel.value); await route(); });
  window.addEventListener('hashchange', route);
  window.addEventListener('online', async () => { setOnline(true); await flushQueue(); await route(); });
  window.addEventListener('offline', () => setOnline(false));
  setInterval(() => { if (queue.pending().length) flushQueue(); }, RETRY_MS);
  setOnline(navigator.onLine);
  await route();
  await flushQueue();
}

main();

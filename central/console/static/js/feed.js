// The live feed: one EventSource on /api/v1/feed (the cookie authenticates it). Incidents and work
// orders arrive as they happen; the browser's EventSource resumes with Last-Event-ID after a drop.
// The left-hand panel lists incidents newest first; P1 ones flash and, if the operator turned sound
// on, beep. Every event is also re-dispatched on ctx.bus for the open view.
import { api } from './api.js';
import { h, replace } from './dom.js';
import { fmtTime } from './format.js';
import { t } from './i18n.js';
import { kindLabel, stateLabel } from './town.js';

export const FEED_TYPES = ['incident.created', 'incident.updated', 'incident.cleared',
  'work_order.created', 'work_order.updated', 'work_order.escalated', 'camera.status'];
const MAX_ITEMS = 200;
const FAULTS_KEY = 'gridwatch.feed.faults';
/** Incidents and orders loaded on start, so the panel shows the recent past, not an empty list. */
const RECENT = 100;
/** Events older than this when they arrive are history being replayed: no flash, no sound. */
const FRESH_S = 120;

export class FeedPanel {
  constructor(ctx, list, empty, count, stateEl) {
    this.ctx = ctx;
    this.list = list;
    this.empty = empty;
    this.count = count;
    this.stateEl = stateEl;
    this.items = new Map();      // key -> item
    this.byOrder = new Map();    // work order id -> key
    this.source = null;
    this.retry = null;
  }

  /**
   * Fill the panel with the recent past from the list APIs, then follow the feed from the event
   * that was newest before the lists were read (so nothing falls between the two).
   */
  async start() {
    document.addEventListener('langchange', () => this.render());
    this.setupFaultSwitch();
    const head = await api.get('/api/v1/console/feed-head');
    const [incidents, orders] = await Promise.all([
      api.get(`/api/v1/incidents?limit=${RECENT}`), api.get(`/api/v1/work-orders?limit=${RECENT}`)]);
    for (const inc of incidents.items.slice().reverse()) {
      this.handle({ type: 'incident.created', at: inc.first_seen, data: inc }, false);
    }
    for (const o of orders.items.slice().reverse()) {
      this.handle({ type: 'work_order.created', at: o.created_at, data: o }, false);
    }
    this.render();
    this.connect(head.last_event_id);
  }

  stop() {
    clearTimeout(this.retry);
    if (this.source) this.source.close();
    this.source = null;
  }

  connect(from) {
    // After a drop the browser resumes by itself (Last-Event-ID header); from only sets the start.
    const es = new EventSource(`/api/v1/feed?last_event_id=${from}`, { withCredentials: true });
    this.source = es;
    this.setState('connecting');
    es.addEventListener('open', () => this.setState('open'));
    es.addEventListener('error', () => {
      if (es.readyState === EventSource.CLOSED) {
        // The server refused (e.g. the session ended): check the session, then try again later.
        this.setState('closed');
        this.ctx.checkSession();
        this.retry = setTimeout(() => this.connect(this.lastId || 0), 5000);
      } else {
        this.setState('connecting');
      }
    });
    for (const type of FEED_TYPES) {
      es.addEventListener(type, (msg) => {
        let ev;
        try { ev = JSON.parse(msg.data); } catch { return; }
        this.lastId = ev.id;
        this.handle(ev);
        this.ctx.bus.dispatchEvent(new CustomEvent('feed', { detail: ev }));
      });
    }
  }

  /** Camera faults can be many at dusk; the desk may hide them (the health wall still shows them). */
  setupFaultSwitch() {
    const button = document.getElementById('feed-faults');
    try { this.hideFaults = localStorage.getItem(FAULTS_KEY) === 'hide'; } catch { this.hideFaults = false; }
    const show = () => button.setAttribute('aria-pressed', String(!this.hideFaults));
    show();
    button.addEventListener('click', () => {
      this.hideFaults = !this.hideFaults;
      try { localStorage.setItem(FAULTS_KEY, this.hideFaults ? 'hide' : 'show'); } catch { /* not remembered */ }
      show();
      this.render();
    });
  }

  setState(state) {
    this.stateEl.className = `pill state-${state}`;
    this.stateEl.dataset.i18n = `feed.${state}`;
    this.stateEl.textContent = t(`feed.${state}`);
  }

  /** Fold one event into the panel; live=false for the start-up fill (no flash, no sound). */
  handle(ev, live = true) {
    const d = ev.data || {};
    const fresh = live && (Date.now() - new Date(ev.at).getTime()) / 1000 < FRESH_S;
    if (ev.type.startsWith('incident.')) {
      const key = `i${d.id}`;
      const item = this.items.get(key) || { key, at: d.first_seen || ev.at };
      Object.assign(item, {
        incidentId: d.id, kind: d.kind, cameraId: d.camera_id, snapshot: d.snapshot_url || item.snapshot,
        incidentState: d.state, cameras: d.cameras,
      });
      this.items.set(key, item);
    } else if (ev.type.startsWith('work_order.')) {
      const key = d.incident_id ? `i${d.incident_id}` : (this.byOrder.get(d.id) || `w${d.id}`);
      const item = this.items.get(key) || { key, at: d.created_at, kind: d.kind, cameraId: d.camera && d.camera.id };
      Object.assign(item, {
        orderId: d.id, priority: d.priority, orderState: d.state, village: d.village && d.village.id,
        grid: d.grid && d.grid.id, overdue: d.is_overdue,
      });
      this.items.set(key, item);
      this.byOrder.set(d.id, key);
      // A P1 order flashes (and beeps) when it first appears and again when it is escalated.
      if (fresh && item.priority === 'P1' && (!item.alarmed || ev.type === 'work_order.escalated')) {
        item.alarmed = true;
        this.alarm(item);
      }
    } else {
      return;  // camera.status: only for the views
    }
    if (live) {
      this.trim();
      this.render();
    }
  }

  alarm(item) {
    item.flashUntil = Date.now() + 4000;
    this.ctx.alarm.beep();
  }

  trim() {
    if (this.items.size <= MAX_ITEMS) return;
    const sorted = [...this.items.values()].sort((a, b) => new Date(a.at) - new Date(b.at));
    for (const it of sorted.slice(0, this.items.size - MAX_ITEMS)) {
      this.items.delete(it.key);
      if (it.orderId) this.byOrder.delete(it.orderId);
    }
  }

  render() {
    const town = this.ctx.town;
    const items = [...this.items.values()].sort((a, b) => new Date(b.at) - new Date(a.at))
      .filter((i) => !(this.hideFaults && String(i.kind).startsWith('camera_')));
    const open = items.filter((i) => i.incidentState !== 'closed' && !['closed', 'rejected'].includes(i.orderState));
    this.count.textContent = t('feed.count', { open: open.length, total: items.length });
    this.empty.hidden = items.length > 0;
    replace(this.list, items.map((it) => {
      const cam = town.camera.get(it.cameraId);
      const villageId = it.village || (cam && cam.village);
      const gridId = it.grid || (cam && cam.grid);
      const cleared = it.incidentState === 'cleared' || it.incidentState === 'closed';
      const li = h('li', {
        class: `feed-item p-${it.priority || 'none'}${cleared ? ' cleared' : ''}${it.flashUntil > Date.now() ? ' flash' : ''}`,
        dataset: { key: it.key, kind: it.kind, order: it.orderId || '', incident: it.incidentId || '', alarmed: it.alarmed ? 'true' : 'false' },
        tabindex: 0,
      },
      it.snapshot
        ? h('img', { class: 'thumb', src: it.snapshot, alt: '', loading: 'lazy' })
        : h('div', { class: 'thumb none', i18n: 'feed.no_snapshot' }),
      h('div', { class: 'feed-main' },
        h('div', { class: 'feed-line' },
          it.priority ? h('span', { class: `prio ${it.priority}`, text: it.priority }) : null,
          h('span', { class: 'feed-kind', text: kindLabel(it.kind) }),
          h('time', { class: 'feed-time', datetime: it.at, text: fmtTime(it.at) })),
        h('div', { class: 'feed-where', title: town.cameraName(it.cameraId) },
          `${it.cameraId || ''} ${town.cameraName(it.cameraId)}`),
        h('div', { class: 'feed-where' },
          `${town.villageName(villageId)} · ${town.gridName(gridId)}`),
        h('div', { class: 'feed-line small' },
          it.orderId ? h('span', { class: 'muted', text: `#${it.orderId} ${stateLabel(it.orderState)}` })
            : h('span', { class: 'muted', i18n: 'feed.no_order' }),
          cleared ? h('span', { class: 'muted', i18n: 'feed.cleared' }) : null,
          it.overdue ? h('span', { class: 'due late', i18n: 'board.overdue' }) : null)));
      li.addEventListener('click', () => this.open(it));
      li.addEventListener('keydown', (e) => { if (e.key === 'Enter') this.open(it); });
      return li;
    }));
  }

  open(item) {
    if (item.orderId) window.location.hash = `#/orders/${item.orderId}`;
    else if (item.cameraId) window.location.hash = `#/cameras/${encodeURIComponent(item.cameraId)}`;
  }
}

// The camera-health wall: every camera as one tile coloured by status, grouped by village or grid.
// Status comes from GET /api/v1/cameras and is kept current by camera.status feed events; a camera
// the hub has never heard about is "unknown"; one switched off in the town config is "disabled".
import { api } from './api.js';
import { h, replace } from './dom.js';
import { ago, agoShort } from './format.js';
import { localName, t } from './i18n.js';
import { LedgerUpload } from './ledger.js';
import { can, kindLabel, TownIndex } from './town.js';

export const STATUSES = ['online', 'degraded', 'offline', 'disabled', 'unknown'];
const GROUP_KEY = 'gridwatch.wall.group';

/** A status a maintainer should look at (a switched-off camera is not one). */
const isProblem = (status) => status !== 'online' && status !== 'disabled';

/** Normalise one camera row of the hub's health API. */
export function healthOf(row) {
  // The hub counts a camera it never heard from as offline; the wall tells "never reported" apart.
  const heard = Boolean(row.last_heartbeat_at || row.status_since || row.previous !== undefined);
  return {
    id: row.id || row.camera_id,
    status: row.status === 'disabled' || (heard && STATUSES.includes(row.status)) ? row.status : 'unknown',
    faults: row.faults || [],
    last_frame_at: row.last_frame_at || null,
    last_heartbeat_at: row.last_heartbeat_at || null,
    status_since: row.status_since || null,
    fps_in: row.fps_in,
    fps_analysed: row.fps_analysed,
    onvif_issue: row.onvif_issue || null,  // 'error' or 'clock_wrong' (an ONVIF camera to look at)
  };
}

export async function loadHealth() {
  const data = await api.get('/api/v1/cameras');
  const rows = Array.isArray(data) ? data : data.cameras || data.items || [];
  return new Map(rows.map((r) => { const x = healthOf(r); return [x.id, x]; }));
}

export class HealthView {
  constructor(ctx) {
    this.ctx = ctx;
    this.health = new Map();
    try { this.group = localStorage.getItem(GROUP_KEY) === 'grid' ? 'grid' : 'village'; } catch { this.group = 'village'; }
    this.problemsOnly = false;
    this.onFeed = (e) => this.feed(e.detail);
    this.onLang = () => this.render();
  }

  async mount(root) {
    this.root = root;
    this.summary = h('div', { class: 'legend', id: 'wall-summary' });
    const byVillage = h('button', { type: 'button', class: 'btn small', id: 'group-village', i18n: 'wall.by_village', onclick: () => this.setGroup('village') });
    const byGrid = h('button', { type: 'button', class: 'btn small', id: 'group-grid', i18n: 'wall.by_grid', onclick: () => this.setGroup('grid') });
    this.groupButtons = { village: byVillage, grid: byGrid };
    const problems = h('input', { type: 'checkbox', id: 'wall-problems' });
    problems.addEventListener('change', () => { this.problemsOnly = problems.checked; this.render(); });
    this.wall = h('div', { id: 'wall', class: 'wall' });
    // the registry's editors import a camera ledger here; the wall then shows the new cameras
    this.ledger = can(this.ctx.session, 'regions') ? new LedgerUpload(() => this.reloadTown()) : null;
    const ledgerButton = this.ledger ? h('button', { type: 'button', class: 'btn small', id: 'ledger-open',
      i18n: 'ledger.open', onclick: () => this.ledger.toggle() }) : null;
    replace(root,
      h('div', { class: 'toolbar' },
        h('h2', { i18n: 'wall.title' }), byVillage, byGrid,
        h('label', {}, problems, h('span', { i18n: 'wall.problems_only' })), ledgerButton,
        h('span', { class: 'counters' }, this.summary)),
      this.ledger ? this.ledger.el : null,
      this.wall);
    this.ctx.bus.addEventListener('feed', this.onFeed);
    document.addEventListener('langchange', this.onLang);
    this.timer = setInterval(() => this.refreshAges(), 5000);
    this.health = await loadHealth();
    this.render();
  }

  unmount() {
    clearInterval(this.timer);
    this.ctx.bus.removeEventListener('feed', this.onFeed);
    document.removeEventListener('langchange', this.onLang);
  }

  /** The town again from the hub (its registry changed: a ledger was imported), and the health. */
  async reloadTown() {
    this.ctx.town = new TownIndex(await api.get('/api/v1/town'));
    this.health = await loadHealth();
    this.render();
  }

  setGroup(g) {
    this.group = g;
    try { localStorage.setItem(GROUP_KEY, g); } catch { /* not remembered */ }
    this.render();
  }

  feed(ev) {
    if (ev.type !== 'camera.status') return;
    const rows = Array.isArray(ev.data.cameras) ? ev.data.cameras : [ev.data];
    for (const r of rows) {
      const x = healthOf(r);
      this.health.set(x.id, { ...(this.health.get(x.id) || healthOf({ id: x.id })), status: x.status, faults: x.faults });  // onvif_issue kept
    }
    this.render();
  }

  statusOf(id) { return (this.health.get(id) || { status: 'unknown' }).status; }

  render() {
    if (!this.wall) return;
    const town = this.ctx.town;
    for (const [g, b] of Object.entries(this.groupButtons)) b.setAttribute('aria-pressed', String(g === this.group));
    const counts = Object.fromEntries(STATUSES.map((s) => [s, 0]));
    for (const c of town.cameras) counts[this.statusOf(c.id)] += 1;
    replace(this.summary, STATUSES.map((s) => h('span', { class: 'counter', dataset: { status: s } },
      h('span', { class: `swatch s-${s}` }), h('span', { i18n: `status.${s}` }), h('b', { text: String(counts[s]) }))));
    const groups = new Map();
    for (const c of town.cameras) {
      if (this.problemsOnly && !isProblem(this.statusOf(c.id))) continue;
      const key = this.group === 'grid' ? c.grid : c.village;
      if (!groups.has(key)) groups.set(key, []);
      groups.get(key).push(c);
    }
    const order = this.group === 'grid' ? town.grids.map((g) => g.id) : town.villages.map((v) => v.id);
    replace(this.wall, order.filter((k) => groups.has(k)).map((k) => {
      const cams = groups.get(k);
      const bad = cams.filter((c) => isProblem(this.statusOf(c.id))).length;
      const title = this.group === 'grid' ? town.gridName(k) : localName(town.village.get(k));
      return h('section', { class: 'wall-group', dataset: { group: k } },
        h('h4', { title: t('wall.group_count', { n: cams.length, bad }) }, h('b', { text: title }),
          ' ', h('span', { class: bad ? 'bad-count' : 'muted', text: bad ? `${bad}/${cams.length}` : String(cams.length) })),
        h('div', { class: 'tiles' }, cams.map((c) => this.tile(c))));
    }));
  }

  tile(c) {
    const x = this.health.get(c.id) || { status: 'unknown', faults: [] };
    const fault = x.faults && x.faults.length ? x.faults.map(kindLabel).join(', ') : '';
    // Two short lines: the camera number, then its picture fault, or else how old its last frame is
    // (for an offline camera the colour already says offline; how long ago it went matters more).
    const shown = (x.faults || []).filter((f) => f !== 'camera_offline').map(kindLabel).join(', ')
      || (x.onvif_issue ? t(`onvif.issue_${x.onvif_issue}`) : '');
    const second = shown || (x.status === 'unknown' ? '' : agoShort(x.last_frame_at));
    return h('a', { class: `tile s-${x.status}`, href: `#/cameras/${encodeURIComponent(c.id)}`,
      dataset: { camera: c.id, status: x.status, onvif: x.onvif_issue || '' },
      title: `${c.id} ${c.name}\n${t(`status.${x.status}`)}${fault ? ` · ${fault}` : ''}\n${t('camera.last_frame')}: ${x.last_frame_at ? ago(x.last_frame_at) : t('time.never')}` },
    h('span', { class: 'tid', text: c.id.replace(/^cam-/, '') }),
    h('span', { class: shown ? 'tfault' : 'tlast', dataset: shown ? {} : { last: x.last_frame_at || '' }, text: second }));
  }

  refreshAges() {
    for (const el of this.wall.querySelectorAll('[data-last]')) {
      if (el.dataset.last) el.textContent = agoShort(el.dataset.last);
    }
  }
}

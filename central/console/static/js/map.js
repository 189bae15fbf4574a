// A map-like overview drawn from coordinates alone (no tiles: the centre may have no internet):
// each village as the hull around its cameras, shaded by its open work orders; cameras as dots in
// their health colour; the grids with open orders listed beside it. (Grids are drawn as a list, not
// as areas: a grid's villages need not lie next to each other.)
import { api } from './api.js';
import { h, replace } from './dom.js';
import { localName, t } from './i18n.js';
import { loadHealth } from './health.js';
import { can, kindLabel } from './town.js';

const SVG = 'http://www.w3.org/2000/svg';
const H = 700;
const PAD = 30;
/** Room on the right for the labels of the easternmost villages. */
const LABEL_ROOM = 90;

function s(tag, attrs, ...children) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs || {})) if (v !== undefined && v !== null) el.setAttribute(k, String(v));
  for (const c of children.flat(Infinity)) if (c) el.appendChild(typeof c === 'string' ? document.createTextNode(c) : c);
  return el;
}

/** Monotone-chain convex hull of [x, y] points. */
export function hull(points) {
  const pts = [...new Map(points.map((p) => [`${p[0]},${p[1]}`, p])).values()].sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  if (pts.length < 3) return pts;
  const cross = (o, a, b) => (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0]);
  const lower = [];
  for (const p of pts) { while (lower.length >= 2 && cross(lower[lower.length - 2], lower[lower.length - 1], p) <= 0) lower.pop(); lower.push(p); }
  const upper = [];
  for (const p of pts.slice().reverse()) { while (upper.length >= 2 && cross(upper[upper.length - 2], upper[upper.length - 1], p) <= 0) upper.pop(); upper.push(p); }
  return lower.slice(0, -1).concat(upper.slice(0, -1));
}

export class MapView {
  constructor(ctx) {
    this.ctx = ctx;
    this.onFeed = (e) => { if (e.detail.type.startsWith('work_order.') || e.detail.type === 'camera.status') this.reloadSoon(); };
    this.onLang = () => this.render();
  }

  async mount(root) {
    this.root = root;
    this.ctx.bus.addEventListener('feed', this.onFeed);
    document.addEventListener('langchange', this.onLang);
    await this.load();
  }

  unmount() {
    clearTimeout(this.pending);
    this.ctx.bus.removeEventListener('feed', this.onFeed);
    document.removeEventListener('langchange', this.onLang);
  }

  reloadSoon() {
    clearTimeout(this.pending);
    this.pending = setTimeout(() => this.load(), 1000);
  }

  async load() {
    const [orders, health] = await Promise.all([
      api.get('/api/v1/work-orders?limit=500').catch(() => []),
      can(this.ctx.session, 'health') ? loadHealth().catch(() => new Map()) : Promise.resolve(new Map()),
    ]);
    this.orders = (Array.isArray(orders) ? orders : orders.items || []).filter((o) => !['closed', 'rejected'].includes(o.state));
    this.health = health;
    this.render();
  }

  /** Equirectangular projection around the town centre, fitted to a viewBox of the data's shape. */
  project() {
    const town = this.ctx.town;
    const pts = [...town.cameras.map((c) => [c.lon, c.lat]), ...town.villages.map((v) => [v.lon, v.lat])];
    const k = Math.cos((town.info.center[0] * Math.PI) / 180);
    const xs = pts.map((p) => p[0] * k);
    const ys = pts.map((p) => p[1]);
    const [x0, x1, y0, y1] = [Math.min(...xs), Math.max(...xs), Math.min(...ys), Math.max(...ys)];
    const scale = (H - 2 * PAD) / (y1 - y0 || 1);
    this.width = Math.round((x1 - x0) * scale + 2 * PAD + LABEL_ROOM);
    return (lat, lon) => [PAD + (lon * k - x0) * scale, H - PAD - (lat - y0) * scale];
  }

  render() {
    if (!this.orders) return;
    const town = this.ctx.town;
    const xy = this.project();
    const byGrid = new Map();  // grid id -> its open orders
    for (const o of this.orders) {
      const g = o.grid && o.grid.id;
      if (!g) continue;
      if (!byGrid.has(g)) byGrid.set(g, []);
      byGrid.get(g).push(o);
    }
    const byVillage = new Map();
    for (const o of this.orders) if (o.village) byVillage.set(o.village.id, (byVillage.get(o.village.id) || 0) + 1);
    const areas = town.villages.map((v) => {
      const pts = [xy(v.lat, v.lon), ...town.cameras.filter((c) => c.village === v.id).map((c) => xy(c.lat, c.lon))];
      const open = this.orders.filter((o) => o.village && o.village.id === v.id);
      const hot = open.some((o) => o.priority === 'P1') ? 'hot' : open.length ? 'warm' : '';
      const poly = hull(pts);
      const shape = poly.length >= 3
        ? s('polygon', { class: `grid-area ${hot}`, points: poly.map((p) => p.map((n) => n.toFixed(1)).join(',')).join(' '), 'data-village': v.id })
        : s('circle', { class: `grid-area ${hot}`, cx: pts[0][0].toFixed(1), cy: pts[0][1].toFixed(1), r: 8, 'data-village': v.id });
      shape.appendChild(s('title', {}, `${localName(v)}: ${t('map.open_orders', { n: open.length })}`));
      return shape;
    });
    const cams = town.cameras.map((c) => {
      const [x, y] = xy(c.lat, c.lon);
      const st = (this.health.get(c.id) || { status: 'unknown' }).status;
      const dot = s('circle', { class: `cam s-${st}`, cx: x.toFixed(1), cy: y.toFixed(1), r: 2.2, 'data-camera': c.id },
        s('title', {}, `${c.id} ${c.name} · ${t(`status.${st}`)}`));
      dot.addEventListener('click', () => { window.location.hash = `#/cameras/${encodeURIComponent(c.id)}`; });
      return dot;
    });
    const camsPer = new Map();
    for (const c of town.cameras) camsPer.set(c.village, (camsPer.get(c.village) || 0) + 1);
    const villages = town.villages.map((v) => {
      const [x, y] = xy(v.lat, v.lon);
      const n = byVillage.get(v.id) || 0;
      const dot = s('circle', { class: `village${n ? ' hot' : ''}`, cx: x.toFixed(1), cy: y.toFixed(1), r: n ? 5 + Math.min(n, 5) : 3, 'data-village': v.id },
        s('title', {}, `${localName(v)}: ${t('map.open_orders', { n })}`));
      // Labels only where they help: villages with open orders, real (non-sample) ones, bigger ones;
      // every village still names itself on hover.
      const labelled = n > 0 || !v.sample || (camsPer.get(v.id) || 0) >= 3;
      return [dot, labelled ? s('text', { class: `vlabel${n ? ' hot' : ''}`, x: (x + 6).toFixed(1), y: (y + 3).toFixed(1) }, localName(v)) : null];
    });
    const svg = s('svg', { class: 'map', id: 'map', viewBox: `0 0 ${this.width} ${H}`, role: 'img' }, areas, cams, villages);
    const hotGrids = [...byGrid.entries()].sort((a, b) => b[1].length - a[1].length);
    replace(this.root, h('div', { class: 'map-wrap' },
      svg,
      h('div', { class: 'map-side box' },
        h('h3', { i18n: 'map.hot_grids' }),
        hotGrids.length ? h('table', { class: 'list' }, h('tbody', {}, hotGrids.map(([g, os]) => h('tr', {},
          h('td', { text: town.gridName(g) }),
          h('td', { class: 'mono', text: String(os.length) }),
          h('td', { class: 'small muted', text: [...new Set(os.map((o) => kindLabel(o.kind)))].join(', ') })))))
          : h('p', { class: 'muted', i18n: 'map.none_open' }),
        h('h3', { class: 'legend-title', i18n: 'map.legend' }),
        h('div', { class: 'map-legend' },
          ['online', 'degraded', 'offline', 'unknown'].map((st) => h('div', {},
            h('span', { class: `swatch s-${st}` }), h('span', { i18n: `status.${st}` }))),
          h('div', {}, h('span', { class: 'swatch hot-village' }), h('span', { i18n: 'map.legend_open' }))),
        h('p', { class: 'small muted', i18n: 'map.note' }))));
  }
}

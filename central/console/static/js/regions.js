// A camera's regions drawn over its latest picture: SVG polygons in 0..1 frame coordinates, as the
// registry stores them. Maintainers and admins draw (click to add points, double-click or "finish"
// to close), drag a point, delete a polygon, set its kind, accept the road the edge proposes, and
// save: a PUT of the camera's document with the version they edited (409: changed meanwhile).
// After a save the box follows the camera's node until it reports that it runs the new revision.
import { api, ApiError } from './api.js';
import { h, replace } from './dom.js';
import { fmtDateTime } from './format.js';
import { t } from './i18n.js';

const SVG_NS = 'http://www.w3.org/2000/svg';
export const REGION_KINDS = ['road', 'slope', 'mask', 'parking'];
/** The drawing's size when the camera has no picture yet (a 16:9 frame). */
const BLANK = { width: 1600, height: 900 };
/** Points this close (in 0..1) to the previous one are the double-click's own clicks, not new points. */
const SAME_POINT = 0.01;
const EDGE_POLL_MS = 2000;
const DOUBLE_CLICK_MS = 500;

function svg(tag, attrs) {
  const el = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs || {})) el.setAttribute(k, String(v));
  return el;
}

const round = (v) => Math.round(Math.min(1, Math.max(0, v)) * 10000) / 10000;

export class RegionEditor {
  /** cameraId: the camera; editable: whether this user may change regions (maintainer, admin). */
  constructor(cameraId, editable) {
    this.id = cameraId;
    this.editable = editable;
    this.regions = [];  // [{ name, polygon: [[x, y], ...] }] as the registry holds them
    this.selected = -1;
    this.draft = null;  // the polygon being drawn: [[x, y], ...]
    this.proposal = null;
    this.size = BLANK;
    this.message = null;  // [i18n key, args, bad]
    this.edge = null;  // the node's config state after a save
    this.dirty = false;
    this.el = h('div', { class: 'box regions', id: 'regions' });
    this.onMove = (e) => this.drag(e);
    this.onUp = () => this.endDrag();
  }

  async load() {
    const got = await api.get(`/api/v1/registry/cameras/${encodeURIComponent(this.id)}`);
    this.doc = got.camera;
    this.version = got.version;
    this.revision = got.revision;
    this.regions = (got.camera.rois || []).map((r) => ({ name: r.name, polygon: r.polygon.map((p) => [...p]) }));
    this.selected = -1;
    this.draft = null;
    this.dirty = false;
    try {
      this.snapshot = await api.get(`/api/v1/cameras/${encodeURIComponent(this.id)}/snapshot`);
    } catch (err) {
      if (!(err instanceof ApiError && err.status === 404)) throw err;
      this.snapshot = null;
    }
    this.render();
  }

  /** The road the edge proposes (from the camera's health), shown while the camera has no road. */
  setProposal(polygon) {
    this.proposal = polygon && polygon.length >= 3 ? polygon : null;
    this.render();
  }

  stop() {
    clearTimeout(this.pollTimer);
    this.stopped = true;
    this.endDrag();
  }

  // --- drawing ------------------------------------------------------------------------------

  point(e) {
    const r = this.svg.getBoundingClientRect();
    return [round((e.clientX - r.left) / r.width), round((e.clientY - r.top) / r.height)];
  }

  /** One region of each kind (the registry's rule): say so when the kind is in use by another. */
  taken(kind, except = -1) {
    const used = this.regions.some((r, i) => r.name === kind && i !== except);
    if (used) this.say('regions.kind_taken', { kind: t(`region.${kind}`) }, true);
    return used;
  }

  startDraw() {
    if (this.taken(this.kind.value)) return;
    this.draft = [];
    this.lastClick = -Infinity;
    this.selected = -1;
    this.render();
  }

  clickStage(e) {
    if (!this.editable) return;
    if (this.draft) {
      const p = this.point(e);
      const last = this.draft[this.draft.length - 1];
      const again = last && Math.hypot(p[0] - last[0], p[1] - last[1]) <= SAME_POINT;
      // a second click on the last point soon after it is a double-click (whatever the browser's
      // own click count says once the shapes under the pointer were redrawn)
      if (again && e.timeStamp - this.lastClick < DOUBLE_CLICK_MS) {
        this.finishDraw();
        return;
      }
      this.lastClick = e.timeStamp;
      if (!again) this.draft.push(p);
      this.drawShapes();  // not render(): a double-click's second click must land on the same <svg>
    } else if (e.target === this.svg || e.target.tagName === 'image') {
      this.selected = -1;
      this.render();
    }
  }

  finishDraw() {
    if (!this.draft) return;
    if (this.draft.length < 3) {
      this.say('regions.too_few', {}, true);
      return;
    }
    if (this.taken(this.kind.value)) return;
    this.regions.push({ name: this.kind.value, polygon: this.draft });
    this.selected = this.regions.length - 1;
    this.draft = null;
    this.changed();
  }

  cancelDraw() {
    this.draft = null;
    this.render();
  }

  select(i) {
    if (this.draft) return;
    this.selected = i;
    this.render();
  }

  deleteSelected() {
    if (this.selected < 0) return;
    this.regions.splice(this.selected, 1);
    this.selected = -1;
    this.changed();
  }

  setKind(kind) {
    if (this.selected >= 0 && !this.draft && !this.taken(kind, this.selected)) {
      this.regions[this.selected].name = kind;
      this.changed();
    }
  }

  acceptProposal() {
    if (!this.proposal) return;
    this.regions = this.regions.filter((r) => r.name !== 'road');
    this.regions.push({ name: 'road', polygon: this.proposal.map((p) => [round(p[0]), round(p[1])]) });
    this.selected = this.regions.length - 1;
    this.changed();
  }

  startDrag(e, region, vertex) {
    if (!this.editable || this.draft) return;
    e.preventDefault();
    e.stopPropagation();
    this.selected = region;
    this.dragging = { region, vertex };
    window.addEventListener('pointermove', this.onMove);
    window.addEventListener('pointerup', this.onUp);
  }

  drag(e) {
    if (!this.dragging) return;
    const { region, vertex } = this.dragging;
    this.regions[region].polygon[vertex] = this.point(e);
    this.dirty = true;
    this.drawShapes();
  }

  endDrag() {
    window.removeEventListener('pointermove', this.onMove);
    window.removeEventListener('pointerup', this.onUp);
    if (this.dragging) {
      this.dragging = null;
      this.changed();
    }
  }

  changed() {
    this.dirty = true;
    this.message = null;
    this.render();
  }

  // --- saving ---------------------------------------------------------------------------------

  async save() {
    if (this.draft) this.finishDraw();
    const body = { ...this.doc, rois: this.regions.map((r) => ({ name: r.name, polygon: r.polygon })) };
    if (!body.rois.length) delete body.rois;
    try {
      const got = await api.put(`/api/v1/registry/cameras/${encodeURIComponent(this.id)}`, body,
        { 'If-Match': `"${this.version}"` });
      this.doc = got.camera;
      this.version = got.version;
      this.revision = got.revision;
      this.dirty = false;
      this.say('regions.saved', { version: got.version, revision: got.revision });
      this.edge = null;
      this.followEdge();
    } catch (err) {
      if (err instanceof ApiError && err.status === 409 && err.body && err.body.current) {
        this.say('regions.conflict', { version: err.body.current.version }, true);
      } else {
        this.say('regions.not_saved', { message: err.message }, true);
      }
    }
  }

  /** Poll the camera's node until it runs the saved revision (or says why it does not). */
  async followEdge() {
    clearTimeout(this.pollTimer);
    if (this.stopped) return;
    try {
      const data = await api.get(`/api/v1/cameras/${encodeURIComponent(this.id)}/health`);
      this.edge = data.config;
      if (data.road_proposal !== undefined) this.proposal = data.road_proposal;
      this.render();
      if (data.config.version !== null && data.config.version >= this.revision) return;
    } catch { /* keep asking: the hub may be restarting */ }
    if (!this.stopped) this.pollTimer = setTimeout(() => this.followEdge(), EDGE_POLL_MS);
  }

  say(key, args, bad = false) {
    this.message = [key, args, bad];
    this.render();
  }

  // --- drawing the box ------------------------------------------------------------------------

  render() {
    if (!this.doc) return;
    const hasRoad = this.regions.some((r) => r.name === 'road');
    const selKind = this.selected >= 0 ? this.regions[this.selected].name : (this.kind ? this.kind.value : 'slope');
    this.kind = h('select', { id: 'region-kind', disabled: !this.editable,
      onchange: () => this.setKind(this.kind.value) },
    REGION_KINDS.map((k) => h('option', { value: k, i18n: `region.${k}` })));
    this.kind.value = selKind;
    this.svg = svg('svg', { id: 'regions-svg', viewBox: `0 0 ${this.size.width} ${this.size.height}`,
      preserveAspectRatio: 'none', class: this.draft ? 'drawing' : '' });
    this.svg.addEventListener('click', (e) => this.clickStage(e));
    this.svg.addEventListener('dblclick', (e) => { e.preventDefault(); if (this.draft) this.finishDraw(); });
    const img = this.snapshot ? h('img', { id: 'regions-picture', src: this.snapshot.url, alt: '' }) : null;
    if (img) {
      img.addEventListener('load', () => {
        if (img.naturalWidth && (img.naturalWidth !== this.size.width || img.naturalHeight !== this.size.height)) {
          this.size = { width: img.naturalWidth, height: img.naturalHeight };
          this.svg.setAttribute('viewBox', `0 0 ${this.size.width} ${this.size.height}`);
          this.drawShapes();
        }
      });
    }
    this.drawShapes();
    const tools = this.editable ? h('div', { class: 'regions-bar' },
      h('label', {}, h('span', { i18n: 'regions.kind' }), this.kind),
      this.draft
        ? [h('button', { type: 'button', class: 'btn primary', id: 'region-finish', i18n: 'regions.finish', onclick: () => this.finishDraw() }),
          h('button', { type: 'button', class: 'btn', id: 'region-cancel', i18n: 'regions.cancel', onclick: () => this.cancelDraw() })]
        : h('button', { type: 'button', class: 'btn', id: 'region-new', i18n: 'regions.new', onclick: () => this.startDraw() }),
      h('button', { type: 'button', class: 'btn danger', id: 'region-delete', i18n: 'regions.delete',
        disabled: this.selected < 0 || !!this.draft, onclick: () => this.deleteSelected() }),
      h('button', { type: 'button', class: 'btn primary', id: 'regions-save', i18n: 'regions.save',
        disabled: !this.dirty && !this.draft, onclick: () => this.save() }),
      h('button', { type: 'button', class: 'btn', id: 'regions-reload', i18n: 'regions.reload',
        onclick: () => this.load().catch((err) => this.say('regions.not_saved', { message: err.message }, true)) }))
      : null;
    const [key, args, bad] = this.message || [];
    replace(this.el,
      h('h3', { i18n: 'regions.title' }),
      h('p', { class: 'muted' },
        h('span', { id: 'regions-version', dataset: { version: this.version }, i18n: 'regions.version', args: { version: this.version } }),
        ' · ',
        this.snapshot
          ? h('span', { i18n: 'regions.picture_of', args: { at: fmtDateTime(this.snapshot.at) } })
          : h('span', { id: 'regions-no-picture', i18n: 'regions.no_picture' }),
        this.dirty ? [' · ', h('span', { class: 'unsaved', i18n: 'regions.unsaved' })] : null),
      h('div', { class: `regions-stage${this.snapshot ? '' : ' blank'}` }, img, this.svg),
      this.draft ? h('p', { class: 'muted', i18n: 'regions.hint_draw' }) : null,
      this.proposal && !hasRoad ? h('p', { class: 'regions-proposal', id: 'road-proposal' },
        h('span', { i18n: 'regions.proposal' }),
        this.editable ? h('button', { type: 'button', class: 'btn small', id: 'road-accept', i18n: 'regions.accept',
          onclick: () => this.acceptProposal() }) : null) : null,
      tools,
      this.regions.length ? null : h('p', { class: 'muted', i18n: 'regions.none' }),
      key ? h('p', { class: bad ? 'error' : 'ok', id: 'regions-message', dataset: { key }, i18n: key, args }) : null,
      this.edgeLine());
  }

  edgeLine() {
    const e = this.edge;
    if (!e) return null;
    const current = e.version !== null && e.version >= this.revision;
    const [key, args] = e.error && !current ? ['regions.edge_refused', { error: e.error }]
      : current ? ['regions.edge_runs', { revision: e.version }]
        : ['regions.edge_waiting', { running: e.version ?? '-', revision: this.revision }];
    return h('p', { id: 'regions-edge', class: current ? 'ok' : 'muted', dataset: { current: String(current), version: String(e.version) },
      i18n: key, args });
  }

  drawShapes() {
    const { width: W, height: H } = this.size;
    const xy = (p) => `${p[0] * W},${p[1] * H}`;
    const handle = Math.max(W, H) / 120;
    this.svg.replaceChildren();
    if (this.proposal && !this.regions.some((r) => r.name === 'road')) {
      this.svg.appendChild(svg('polygon', { points: this.proposal.map(xy).join(' '), class: 'region proposal',
        'vector-effect': 'non-scaling-stroke' }));
    }
    this.regions.forEach((r, i) => {
      const poly = svg('polygon', { points: r.polygon.map(xy).join(' '), 'vector-effect': 'non-scaling-stroke',
        class: `region k-${r.name}${i === this.selected ? ' selected' : ''}`, 'data-kind': r.name, 'data-index': i });
      poly.addEventListener('click', (e) => { e.stopPropagation(); if (!this.draft) this.select(i); else this.clickStage(e); });
      this.svg.appendChild(poly);
    });
    if (this.editable && this.selected >= 0 && !this.draft) {
      this.regions[this.selected].polygon.forEach((p, v) => {
        const c = svg('circle', { cx: p[0] * W, cy: p[1] * H, r: handle, class: 'handle', 'data-vertex': v });
        c.addEventListener('pointerdown', (e) => this.startDrag(e, this.selected, v));
        this.svg.appendChild(c);
      });
    }
    if (this.draft) {
      this.svg.appendChild(svg('polyline', { points: this.draft.map(xy).join(' '), class: `region draft k-${this.kind.value}`,
        'vector-effect': 'non-scaling-stroke' }));
      for (const p of this.draft) this.svg.appendChild(svg('circle', { cx: p[0] * W, cy: p[1] * H, r: handle, class: 'handle draft' }));
    }
  }
}

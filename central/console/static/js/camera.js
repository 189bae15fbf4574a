// One camera: where it is, its health now and its status history, and its live view.
import { api } from './api.js';
import { h, replace } from './dom.js';
import { ago, fmtDateTime } from './format.js';
import { localName, t } from './i18n.js';
import { LiveView } from './live.js';
import { healthOf } from './health.js';
import { onvifBox } from './onvif.js';
import { RegionEditor } from './regions.js';
import { can, kindLabel } from './town.js';

export class CameraView {
  constructor(ctx, id) {
    this.ctx = ctx;
    this.id = decodeURIComponent(id);
    this.live = null;
    this.onLang = () => { this.render(); if (this.regions) this.regions.render(); };
  }

  async mount(root) {
    this.root = root;
    document.addEventListener('langchange', this.onLang);
    this.camera = this.ctx.town.camera.get(this.id);
    if (!this.camera) {
      replace(root, h('p', { class: 'error', i18n: 'camera.not_found', args: { id: this.id } }));
      return;
    }
    this.video = h('video', { id: 'live-video', autoplay: true, muted: true, playsinline: true });
    this.liveState = h('span', { id: 'live-state', class: 'muted' });
    this.liveButton = h('button', { type: 'button', class: 'btn primary', id: 'live-start', i18n: 'live.start', onclick: () => this.toggleLive() });
    this.regions = new RegionEditor(this.id, can(this.ctx.session, 'regions'));
    this.render();
    const loading = this.regions.load().catch((err) => {
      replace(this.regions.el, h('p', { class: 'error', text: t('error.generic', { message: err.message }) }));
    });
    try {
      const data = await api.get(`/api/v1/cameras/${encodeURIComponent(this.id)}/health`);
      this.history = data;
    } catch (err) {
      this.history = { error: err.message };
    }
    await loading;
    this.regions.setProposal(this.history.road_proposal);
    this.render();
  }

  unmount() {
    document.removeEventListener('langchange', this.onLang);
    if (this.live) this.live.stop();
    if (this.regions) this.regions.stop();
  }

  async toggleLive() {
    if (this.live) {
      this.live.stop();
      this.live = null;
      this.liveButton.dataset.i18n = 'live.start';
      this.liveButton.textContent = t('live.start');
      this.setLiveState('stopped');
      return;
    }
    this.live = new LiveView(this.id, this.video, (s) => this.setLiveState(s));
    this.liveButton.dataset.i18n = 'live.stop';
    this.liveButton.textContent = t('live.stop');
    try {
      await this.live.start();
    } catch (err) {
      this.setLiveState('failed', err.message);
    }
  }

  setLiveState(state, message) {
    this.liveState.dataset.i18n = `live.${state}`;
    this.liveState.dataset.state = state;
    this.liveState.textContent = t(`live.${state}`) + (message ? `: ${message}` : '');
  }

  render() {
    const c = this.camera;
    const town = this.ctx.town;
    const hist = this.history || {};
    const now = healthOf({ id: c.id, ...hist });
    const log = hist.history || [];  // newest first
    const avail = hist.availability || {};
    const pct = (v) => (v === null || v === undefined ? t('camera.not_observed') : `${(v * 100).toFixed(1)}%`);
    replace(this.root, h('article', { class: 'camera', id: 'camera', dataset: { camera: c.id } },
      h('div', { class: 'order-head' },
        h('a', { href: '#/health', class: 'btn small', i18n: 'camera.back' }),
        h('h1', { text: `${c.id} ${c.name}` }),
        h('span', { class: `state-badge s-${now.status}`, id: 'camera-status', text: t(`status.${now.status}`) })),
      h('div', { class: 'regions-row' }, this.regions.el),
      h('div', {},
        can(this.ctx.session, 'live') ? h('div', { class: 'box live' },
          h('h3', { i18n: 'live.title' }), this.video,
          h('div', { class: 'live-bar' }, this.liveButton, this.liveState)) : null,
        h('div', { class: 'box' },
          h('h3', { i18n: 'camera.where' }),
          h('dl', { class: 'facts' },
            h('dt', { i18n: 'order.village' }), h('dd', { text: localName(town.village.get(c.village)) }),
            h('dt', { i18n: 'order.grid' }), h('dd', { text: town.gridName(c.grid) }),
            h('dt', { i18n: 'camera.road' }), h('dd', { text: c.road }),
            h('dt', { i18n: 'camera.node' }), h('dd', { text: c.node }),
            h('dt', { i18n: 'order.coordinates' }), h('dd', { text: `${c.lat.toFixed(5)}, ${c.lon.toFixed(5)}` })))),
      h('div', {},
        h('div', { class: 'box' },
          h('h3', { i18n: 'camera.health_now' }),
          hist.error ? h('p', { class: 'error', text: hist.error }) : h('dl', { class: 'facts' },
            h('dt', { i18n: 'camera.status' }), h('dd', { text: t(`status.${now.status}`) }),
            h('dt', { i18n: 'camera.faults' }), h('dd', { text: now.faults.length ? now.faults.map(kindLabel).join(', ') : t('camera.no_faults') }),
            h('dt', { i18n: 'camera.last_frame' }), h('dd', { text: now.last_frame_at ? `${fmtDateTime(now.last_frame_at)} (${ago(now.last_frame_at)})` : t('time.never') }),
            h('dt', { i18n: 'camera.fps' }), h('dd', { text: now.fps_in != null ? `${Number(now.fps_in).toFixed(1)} / ${Number(now.fps_analysed || 0).toFixed(1)}` : '' }),
            h('dt', { i18n: 'camera.availability' }), h('dd', { text: `${pct(avail['24h'])} (24h) · ${pct(avail['7d'])} (7d)` }))),
        onvifBox(hist.onvif),
        h('div', { class: 'box' },
          h('h3', { i18n: 'camera.history' }),
          log.length ? h('table', { class: 'list', id: 'camera-history' },
            h('thead', {}, h('tr', {}, h('th', { i18n: 'camera.when' }), h('th', { i18n: 'camera.status' }), h('th', { i18n: 'camera.faults' }))),
            h('tbody', {}, log.map((r) => h('tr', {},
              h('td', { class: 'mono', text: fmtDateTime(r.at) }),
              h('td', {}, h('span', { class: `swatch s-${r.status}` }), t(`status.${r.status}`)),
              h('td', { text: (r.faults || []).map(kindLabel).join(', ') })))))
            : h('p', { class: 'muted', i18n: 'camera.no_history' })))));
  }
}

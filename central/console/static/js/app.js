// The console shell: session, language, clock, sound switch, the live feed panel, and a hash router
// that mounts one view at a time (board, order, health wall, camera, map, stats and monthly report).
import { api } from './api.js';
import { BoardView } from './board.js';
import { CameraView } from './camera.js';
import { $, $$, h, replace } from './dom.js';
import { FeedPanel } from './feed.js';
import { fmtClock, setTimeZone } from './format.js';
import { HealthView } from './health.js';
import { currentLang, initI18n, localName, setLang, t } from './i18n.js';
import { MapView } from './map.js';
import { OrderView } from './order.js';
import { Alarm } from './sound.js';
import { ReportView, StatsView } from './stats.js';
import { can, TownIndex } from './town.js';

const ROUTES = [
  [/^#\/orders\/(\d+)$/, (ctx, m) => new OrderView(ctx, m[1]), 'board'],
  [/^#\/cameras\/([^/]+)$/, (ctx, m) => new CameraView(ctx, m[1]), 'health'],
  [/^#\/health$/, (ctx) => new HealthView(ctx), 'health'],
  [/^#\/map$/, (ctx) => new MapView(ctx), 'map'],
  [/^#\/board$/, (ctx) => new BoardView(ctx), 'board'],
  [/^#\/stats$/, (ctx) => new StatsView(ctx), 'stats'],
  [/^#\/stats\/report\/([^/]+)\/(\d{4}-\d{2})$/, (ctx, m) => new ReportView(ctx, m[1], m[2]), 'stats'],
];

class App {
  constructor() {
    this.bus = new EventTarget();
    this.alarm = new Alarm();
    this.view = null;
  }

  async start() {
    await initI18n();
    try {
      this.session = await api.get('/api/v1/session');
    } catch {
      window.location.assign('/login');
      return;
    }
    this.town = new TownIndex(await api.get('/api/v1/town'));
    setTimeZone(this.town.info.timezone);
    this.setupTopbar();
    if (can(this.session, 'feed')) {
      this.feed = new FeedPanel(this, $('#feed-list'), $('#feed-empty'), $('#feed-count'), $('#feed-state'));
      this.feed.start().catch((err) => this.toast(t('error.generic', { message: err.message }), true));
    } else {
      $('.layout').classList.add('no-feed');
      $('#feed-state').hidden = true;
    }
    window.addEventListener('hashchange', () => this.route());
    this.route();
    document.body.dataset.ready = 'true';
  }

  setupTopbar() {
    const town = $('#town-name');
    const setTown = () => { town.textContent = localName(this.town.info); };
    setTown();
    document.addEventListener('langchange', setTown);
    for (const a of $$('#tabs a')) a.hidden = !can(this.session, a.dataset.view);
    const lang = $('#lang');
    lang.value = currentLang();
    lang.addEventListener('change', () => setLang(lang.value));
    const user = $('#user');
    const setUser = () => {
      const who = this.session.display_name || this.session.name;
      user.textContent = `${who} · ${t(`role.${this.session.role}`)}`;
    };
    setUser();
    document.addEventListener('langchange', setUser);
    const sound = $('#sound-toggle');
    const setSound = () => {
      sound.dataset.i18n = this.alarm.enabled ? 'sound.on' : 'sound.off';
      sound.textContent = t(sound.dataset.i18n);
      sound.setAttribute('aria-pressed', String(this.alarm.enabled));
    };
    setSound();
    sound.addEventListener('click', () => { this.alarm.toggle(); setSound(); });
    $('#logout').addEventListener('click', async () => {
      try { await api.del('/api/v1/session'); } finally { window.location.assign('/login'); }
    });
    const clock = $('#clock');
    const tick = () => { clock.textContent = fmtClock(new Date()); };
    tick();
    setInterval(tick, 1000);
  }

  route() {
    const hash = window.location.hash || '#/board';
    let found = null;
    for (const [re, make, tab] of ROUTES) {
      const m = hash.match(re);
      if (m && can(this.session, tab)) { found = [make, m, tab]; break; }
    }
    if (!found) {
      if (hash !== '#/board') { window.location.hash = '#/board'; return; }
      return;
    }
    const [make, m, tab] = found;
    if (this.view) this.view.unmount();
    for (const a of $$('#tabs a')) a.classList.toggle('active', a.dataset.view === tab);
    // Each view draws into its own box: a view whose fetch answers after the user has moved on
    // (a feed event reloading an order, say) then draws into a detached box, not over its successor.
    const outer = $('#view');
    const root = h('div', { class: 'view-body' });
    replace(outer, root);
    this.view = make(this, m);
    outer.dataset.view = this.view.constructor.name;
    this.view.mount(root).catch((err) => {
      replace(root, h('p', { class: 'error', text: t('error.generic', { message: err.message }) }));
    });
  }

  toast(message, bad = false) {
    const el = $('#toast');
    el.textContent = message;
    el.className = `toast${bad ? ' bad' : ''}`;
    el.hidden = false;
    clearTimeout(this.toastTimer);
    this.toastTimer = setTimeout(() => { el.hidden = true; }, 4000);
  }

  async checkSession() {
    try { await api.get('/api/v1/session'); } catch { /* api.get sends a 401 to the login page */ }
  }
}

new App().start();

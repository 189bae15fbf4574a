// The work-order board: one column per state, filters (department, grid, kind, overdue) and counters.
// Loads the orders once, then keeps them current from the feed (work_order.* events carry the same
// summary JSON as the list), so the board never needs a reload.
import { api } from './api.js';
import { h, replace } from './dom.js';
import { timeLeft } from './format.js';
import { localName, t } from './i18n.js';
import { can, kindLabel, stateLabel } from './town.js';

export const STATES = ['new', 'acknowledged', 'dispatched', 'returned', 'accepted', 'rework', 'on_site', 'fed_back',
  'verified', 'closed', 'rejected'];
/** Board columns: the open states (a returned order waits with the dispatched, a rework with the
 * accepted, a verified one with those awaiting verification), then the finished orders. */
const COLUMNS = [['new'], ['acknowledged'], ['dispatched', 'returned'], ['accepted', 'rework'], ['on_site'],
  ['fed_back', 'verified'], ['closed', 'rejected']];
const DONE = new Set(['closed', 'rejected']);
/** Finished orders shown per column (the rest are in the list API). */
const DONE_SHOWN = 30;
/** How often the board looks again when the user's role has no live feed. */
const POLL_MS = 30_000;

/** Stage -> the states in which its clock runs (central/stages.py RUNNING). */
export const RUNNING = {
  acknowledge: ['new'],
  accept: ['dispatched', 'rework'],
  arrive: ['new', 'acknowledged', 'dispatched', 'rework', 'accepted'],
  feedback: ['new', 'acknowledged', 'dispatched', 'rework', 'accepted', 'on_site'],
  verify: ['fed_back'],
  close: STATES.filter((s) => !['closed', 'rejected'].includes(s)),
};

/** The deadline that matters next for an order (the earliest running one), or null when none is. */
export function nextDeadline(o) {
  if (DONE.has(o.state)) return null;
  let next = null;
  for (const [which, states] of Object.entries(RUNNING)) {
    const at = o.deadlines[`${which}_by`];
    if (at && states.includes(o.state) && (!next || new Date(at) < new Date(next.at))) next = { which, at };
  }
  return next;
}

export class BoardView {
  constructor(ctx) {
    this.ctx = ctx;
    this.orders = new Map();
    this.filters = { department: '', grid: '', kind: '', overdue: false };
    this.onFeed = (e) => this.feed(e.detail);
    this.onLang = () => { this.buildToolbar(); this.render(); };
  }

  async mount(root) {
    this.root = root;
    this.toolbar = h('div', { class: 'toolbar' });
    this.board = h('div', { class: 'board', id: 'board' });
    replace(root, this.toolbar, this.board);
    this.buildToolbar();
    this.ctx.bus.addEventListener('feed', this.onFeed);
    document.addEventListener('langchange', this.onLang);
    this.timer = setInterval(() => this.tick(), 1000);
    await this.reload();
    // Roles without the live feed (grid workers) see changes by looking again now and then.
    if (!can(this.ctx.session, 'feed')) this.poll = setInterval(() => this.reload().catch(() => {}), POLL_MS);
  }

  async reload() {
    const list = await api.get('/api/v1/work-orders?limit=500');
    this.orders = new Map((Array.isArray(list) ? list : list.items || []).map((o) => [o.id, o]));
    this.render();
  }

  unmount() {
    clearInterval(this.timer);
    clearInterval(this.poll);
    this.ctx.bus.removeEventListener('feed', this.onFeed);
    document.removeEventListener('langchange', this.onLang);
  }

  feed(ev) {
    if (!ev.type.startsWith('work_order.')) return;
    const old = this.orders.get(ev.data.id) || {};
    this.orders.set(ev.data.id, { ...old, ...ev.data });
    this.render();
  }

  buildToolbar() {
    const town = this.ctx.town;
    const select = (name, label, options) => {
      const sel = h('select', { id: `filter-${name}`, name },
        h('option', { value: '', i18n: 'filter.all' }),
        options.map(([v, text]) => h('option', { value: v, text })));
      sel.value = this.filters[name];
      sel.addEventListener('change', () => { this.filters[name] = sel.value; this.render(); });
      return h('label', {}, h('span', { i18n: label }), sel);
    };
    const overdue = h('input', { type: 'checkbox', id: 'filter-overdue' });
    overdue.checked = this.filters.overdue;
    overdue.addEventListener('change', () => { this.filters.overdue = overdue.checked; this.render(); });
    this.counters = h('div', { class: 'counters', id: 'board-counters' });
    replace(this.toolbar,
      select('department', 'filter.department',
        town.departments.filter((d) => d.kind !== 'squad').map((d) => [d.id, localName(d)])),
      select('grid', 'filter.grid', town.grids.map((g) => [g.id, town.gridName(g.id)])),
      select('kind', 'filter.kind', town.kinds.map((k) => [k, kindLabel(k)])),
      h('label', {}, overdue, h('span', { i18n: 'filter.overdue' })),
      this.counters);
  }

  matches(o) {
    const f = this.filters;
    if (f.department) {
      const dep = this.ctx.town.department.get(o.department.id);
      if (o.department.id !== f.department && !(dep && dep.parent === f.department)) return false;
    }
    if (f.grid && (!o.grid || o.grid.id !== f.grid)) return false;
    if (f.kind && o.kind !== f.kind) return false;
    if (f.overdue && !this.isOverdue(o)) return false;
    return true;
  }

  isOverdue(o) {
    if (DONE.has(o.state)) return false;
    const next = nextDeadline(o);
    return Boolean(o.is_overdue || (next && timeLeft(next.at).left < 0));
  }

  render() {
    if (!this.board) return;
    const all = [...this.orders.values()];
    const shown = all.filter((o) => this.matches(o));
    const open = all.filter((o) => !DONE.has(o.state));
    replace(this.counters,
      counter('open', open.length),
      counter('new', open.filter((o) => o.state === 'new').length),
      counter('p1', open.filter((o) => o.priority === 'P1').length, true),
      counter('overdue', open.filter((o) => this.isOverdue(o)).length, true),
      counter('shown', shown.length));
    replace(this.board, COLUMNS.map((states) => {
      const done = DONE.has(states[0]);
      let cards = shown.filter((o) => states.includes(o.state))
        .sort(done ? (a, b) => new Date(b.updated_at) - new Date(a.updated_at)
          : (a, b) => prioRank(a) - prioRank(b) || new Date(b.created_at) - new Date(a.created_at));
      const total = cards.length;
      if (done) cards = cards.slice(0, DONE_SHOWN);
      return h('section', { class: `column${total ? ' busy' : ''}`, dataset: { state: states.join(' ') } },
        h('div', { class: 'column-head' },
          done ? h('span', { class: 'column-title', i18n: 'board.finished', i18nTitle: 'board.finished' })
            : h('span', { class: 'column-title', text: stateLabel(states[0]), title: stateLabel(states[0]) }),
          h('span', { class: 'count', text: String(total) })),
        h('div', { class: 'column-body' }, cards.map((o) => this.card(o))));
    }));
  }

  card(o) {
    const town = this.ctx.town;
    const next = nextDeadline(o);
    const overdue = this.isOverdue(o);
    const due = next ? timeLeft(next.at) : null;
    return h('a', { class: `card p-${o.priority}${overdue ? ' overdue' : ''}`, href: `#/orders/${o.id}`,
      dataset: { order: o.id, state: o.state } },
    h('div', { class: 'card-line' },
      h('span', { class: `prio ${o.priority}`, text: o.priority }),
      h('b', { text: kindLabel(o.kind) }),
      h('span', { class: 'card-id', text: `#${o.id}` })),
    h('div', { class: 'one feed-where', text: o.camera ? `${o.camera.id} ${o.camera.name}` : (o.address || '') }),
    h('div', { class: 'one small muted', text: `${localName(o.village)} · ${o.grid ? town.gridName(o.grid.id) : ''}` }),
    h('div', { class: 'card-line small' },
      h('span', { class: 'muted', text: localName(o.department) }),
      due ? h('span', { class: `due ${due.cls}`, dataset: { due: next.at }, title: t(`deadline.${next.which}`), text: due.text })
        : h('span', { class: 'due muted', text: stateLabel(o.state) })));
  }

  tick() {
    for (const el of this.board.querySelectorAll('[data-due]')) {
      const d = timeLeft(el.dataset.due);
      el.textContent = d.text;
      el.className = `due ${d.cls}`;
    }
  }
}

function counter(name, n, bad = false) {
  return h('span', { class: `counter${bad && n > 0 ? ' bad' : ''}`, dataset: { counter: name } },
    h('span', { i18n: `board.count_${name}` }), h('b', { text: String(n) }));
}

const prioRank = (o) => ({ P1: 0, P2: 1, P3: 2 }[o.priority] ?? 3);

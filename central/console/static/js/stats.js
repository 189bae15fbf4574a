// Evaluation: the figures of GET /api/v1/stats per group over a chosen period (table and SVG chart,
// CSV/XLSX downloads of the same query), and a printable monthly report for one department.
import { api } from './api.js';
import { barChart } from './chart.js';
import { h, replace } from './dom.js';
import { fmtClock, fmtDuration, localDate, tzOffset } from './format.js';
import { has, localName, t } from './i18n.js';

export const GROUPS = ['department', 'grid', 'worker', 'camera', 'source'];
const STAGES = ['acknowledge', 'accept', 'arrive', 'feedback', 'verify', 'close'];
/** Columns of the table: [field, how to read it from a group, kind]. */
const COLUMNS = [
  ['orders', (g) => g.orders, 'int'],
  ['open_now', (g) => g.open_now, 'int'],
  ['overdue_now', (g) => g.overdue_now, 'int'],
  ['closed', (g) => g.by_state.closed, 'int'],
  ['reworks', (g) => g.reworks, 'int'],
  ['rework_rate', (g) => g.rework_rate, 'rate'],
  ['extensions_requested', (g) => g.extensions_requested, 'int'],
  ['returns', (g) => g.returns, 'int'],
  ['false_alarms', (g) => g.false_alarms, 'int'],
  ['feedback_on_time_rate', (g) => g.stages.feedback.on_time_rate, 'rate'],
  ['feedback_median_s', (g) => g.stages.feedback.median_s, 'duration'],
];

const pct = (v) => (v === null || v === undefined ? '—' : `${Math.round(v * 1000) / 10}%`);
function dur(v) {
  if (v === null || v === undefined) return '—';
  return v < 60 ? t('stats.seconds', { n: Math.round(v * 10) / 10 }) : fmtDuration(v);
}
export function show(value, kind) {
  if (kind === 'rate') return pct(value);
  if (kind === 'duration') return dur(value);
  return String(value);
}

/** The period [from 00:00, to 24:00) of local dates in the town's time zone, as the API's query. */
export function periodQuery(from, to) {
  const end = new Date(`${to}T00:00:00${tzOffset(to)}`);
  end.setTime(end.getTime() + 86400000 - 1000);
  return `from=${encodeURIComponent(`${from}T00:00:00${tzOffset(from)}`)}&to=${encodeURIComponent(end.toISOString())}`;
}

function groupLabel(ctx, groupBy, g) {
  if (g.key === null || g.key === undefined) return g.name || t('stats.none');
  if (groupBy === 'department') return ctx.town.departmentName(g.key);
  if (groupBy === 'grid') return ctx.town.gridName(g.key);
  if (groupBy === 'camera') return ctx.town.cameraName(g.key);
  if (groupBy === 'source') return has(`source.${g.key}`) ? t(`source.${g.key}`) : g.key;
  return g.name || g.key;
}

export class StatsView {
  constructor(ctx) {
    this.ctx = ctx;
    const today = localDate(new Date());
    const start = localDate(new Date(Date.now() - 29 * 86400000));
    this.state = { groupBy: 'department', from: start, to: today };
  }

  async mount(root) {
    this.root = root;
    const s = this.state;
    this.groupSel = h('select', { id: 'stats-group' },
      GROUPS.map((g) => h('option', { value: g, i18n: `stats.group.${g}` })));
    this.groupSel.value = s.groupBy;
    this.fromIn = h('input', { id: 'stats-from', type: 'date', value: s.from });
    this.toIn = h('input', { id: 'stats-to', type: 'date', value: s.to });
    this.csv = h('a', { id: 'stats-csv', class: 'btn small', i18n: 'stats.csv', download: '' });
    this.xlsx = h('a', { id: 'stats-xlsx', class: 'btn small', i18n: 'stats.xlsx', download: '' });
    const apply = h('button', { id: 'stats-apply', type: 'button', class: 'btn small', i18n: 'stats.apply',
      onclick: () => this.load() });
    const deps = this.ctx.town.departments;
    this.repDep = h('select', { id: 'report-department' },
      deps.map((d) => h('option', { value: d.id, text: localName(d) })));
    if (this.ctx.session.department) this.repDep.value = this.ctx.session.department;
    this.repMonth = h('input', { id: 'report-month', type: 'month', value: s.to.slice(0, 7) });
    const report = h('button', { id: 'report-open', type: 'button', class: 'btn small', i18n: 'stats.report_open',
      onclick: () => { window.location.hash = `#/stats/report/${this.repDep.value}/${this.repMonth.value}`; } });
    this.status = h('p', { id: 'stats-period', class: 'muted' });
    this.chart = h('div', { id: 'stats-chart', class: 'stats-chart' });
    this.table = h('div', { id: 'stats-table', class: 'stats-table' });
    replace(root, h('section', { class: 'stats' },
      h('div', { class: 'panel-head' }, h('h2', { i18n: 'stats.title' })),
      h('div', { class: 'stats-controls' },
        h('label', {}, h('span', { i18n: 'stats.group_by' }), this.groupSel),
        h('label', {}, h('span', { i18n: 'stats.from' }), this.fromIn),
        h('label', {}, h('span', { i18n: 'stats.to' }), this.toIn),
        apply, this.csv, this.xlsx),
      h('div', { class: 'stats-controls' },
        h('label', {}, h('span', { i18n: 'stats.report_department' }), this.repDep),
        h('label', {}, h('span', { i18n: 'stats.report_month' }), this.repMonth), report),
      this.status, this.chart, this.table));
    this.groupSel.addEventListener('change', () => this.load());
    await this.load();
  }

  unmount() {}

  async load() {
    const s = this.state;
    s.groupBy = this.groupSel.value;
    s.from = this.fromIn.value;
    s.to = this.toIn.value;
    if (!s.from || !s.to || s.from > s.to) {
      replace(this.status, t('stats.bad_period'));
      return;
    }
    const q = `/api/v1/stats?group_by=${s.groupBy}&${periodQuery(s.from, s.to)}`;
    this.csv.href = `${q}&format=csv`;
    this.xlsx.href = `${q}&format=xlsx`;
    this.root.dataset.loaded = '';
    const data = await api.get(q);
    this.data = data;
    this.status.textContent = t('stats.period', { from: s.from, to: s.to, n: data.groups.length });
    this.status.dataset.from = data.from;
    this.status.dataset.to = data.to;
    replace(this.chart, h('h3', { i18n: 'stats.chart_orders' }), barChart(data.groups.map((g) => ({
      key: g.key, label: groupLabel(this.ctx, s.groupBy, g), value: g.orders, text: String(g.orders),
    })), { title: t('stats.chart_orders') }));
    const head = h('tr', {}, h('th', { i18n: `stats.group.${s.groupBy}` }),
      COLUMNS.map(([f]) => h('th', { i18n: `stats.col.${f}` })),
      s.groupBy === 'department' ? h('th', {}) : null);
    const rows = data.groups.map((g) => h('tr', { dataset: { key: g.key ?? '' } },
      h('td', { text: groupLabel(this.ctx, s.groupBy, g) }),
      COLUMNS.map(([f, get, kind]) => {
        const v = get(g);
        return h('td', { class: 'num', dataset: { field: f, value: v ?? '' }, text: show(v, kind) });
      }),
      s.groupBy === 'department' && g.key
        ? h('td', {}, h('a', { class: 'report-link', href: `#/stats/report/${g.key}/${s.to.slice(0, 7)}`,
          i18n: 'stats.report_open' }))
        : null));
    replace(this.table, data.groups.length
      ? h('table', { class: 'grid-table' }, h('thead', {}, head), h('tbody', {}, rows))
      : h('p', { class: 'muted empty', i18n: 'stats.empty' }));
    this.root.dataset.loaded = 'true';
  }
}

/** First and last local day of a month "YYYY-MM". */
export function monthDays(month) {
  const [y, m] = month.split('-').map(Number);
  const last = new Date(Date.UTC(y, m, 0)).getUTCDate();
  return [`${month}-01`, `${month}-${String(last).padStart(2, '0')}`];
}

export class ReportView {
  constructor(ctx, department, month) {
    this.ctx = ctx;
    this.department = department;
    this.month = month;
  }

  async mount(root) {
    const [from, to] = monthDays(this.month);
    const data = await api.get(`/api/v1/stats?group_by=department&${periodQuery(from, to)}`);
    const g = data.groups.find((x) => x.key === this.department) || null;
    const town = this.ctx.town;
    const figures = g ? [
      ['orders', g.orders, 'int'], ['closed', g.by_state.closed, 'int'], ['open_now', g.open_now, 'int'],
      ['overdue_now', g.overdue_now, 'int'], ['reworks', g.reworks, 'int'],
      ['rework_rate', g.rework_rate, 'rate'], ['extensions_requested', g.extensions_requested, 'int'],
      ['extensions_approved', g.extensions_approved, 'int'], ['returns', g.returns, 'int'],
      ['false_alarms', g.false_alarms, 'int'],
    ] : [];
    const stageRows = g ? STAGES.map((st) => {
      const f = g.stages[st];
      return h('tr', { dataset: { stage: st } }, h('td', { i18n: `stats.stage.${st}` }),
        [['completed', 'int'], ['on_time', 'int'], ['on_time_rate', 'rate'], ['median_s', 'duration'], ['p90_s', 'duration']]
          .map(([k, kind]) => h('td', { class: 'num', dataset: { field: k, value: f[k] ?? '' }, text: show(f[k], kind) })));
    }) : [];
    replace(root, h('article', { id: 'report', class: 'report', dataset: { department: this.department, month: this.month } },
      h('div', { class: 'report-actions no-print' },
        h('a', { href: '#/stats', class: 'btn small', i18n: 'stats.back' }),
        h('button', { id: 'report-print', type: 'button', class: 'btn small', i18n: 'stats.print',
          onclick: () => window.print() })),
      h('header', { class: 'report-head' },
        h('h1', { text: localName(town.info) }),
        h('h2', { i18n: 'stats.report_title', args: { department: town.departmentName(this.department), month: this.month } }),
        h('p', { class: 'muted', i18n: 'stats.report_period', args: { from, to } })),
      g ? [
        h('h3', { i18n: 'stats.report_figures' }),
        h('dl', { class: 'report-figures' }, figures.map(([k, v, kind]) => [
          h('dt', { i18n: `stats.col.${k}` }),
          h('dd', { dataset: { field: k, value: v ?? '' }, text: show(v, kind) })])),
        h('h3', { i18n: 'stats.report_stages' }),
        h('table', { class: 'grid-table report-stages' },
          h('thead', {}, h('tr', {}, h('th', { i18n: 'stats.stage' }),
            ['completed', 'on_time', 'on_time_rate', 'median_s', 'p90_s'].map((k) => h('th', { i18n: `stats.col.${k}` })))),
          h('tbody', {}, stageRows)),
        h('h3', { i18n: 'stats.chart_stage_median' }),
        barChart(STAGES.map((st) => ({ key: st, label: t(`stats.stage.${st}`), value: g.stages[st].median_s,
          text: dur(g.stages[st].median_s) })), { title: t('stats.chart_stage_median') }),
      ] : h('p', { class: 'muted empty', i18n: 'stats.report_empty' }),
      h('p', { class: 'muted report-foot', i18n: 'stats.generated', args: { at: fmtClock(new Date(data.generated_at)) } })));
  }

  unmount() {}
}

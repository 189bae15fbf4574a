// One work order: snapshot, clip, where it is, who has it, deadlines counting down, the full history,
// and the actions the hub says this user may take now (allowed_actions); nothing else is offered.
import { api } from './api.js';
import { h, replace } from './dom.js';
import { fmtDateTime, fmtTime, timeLeft } from './format.js';
import { has, localName, t } from './i18n.js';
import { RUNNING } from './board.js';
import { kindLabel, stateLabel } from './town.js';

/** Actions that need more than a click, and what their form asks for ('!': required). */
const FORMS = {
  dispatch: ['department', 'assignee', 'note'],
  reassign: ['department', 'assignee', 'note'],
  feedback: ['note!', 'photos!'],
  resolve: ['note!', 'evidence!'],
  request_extension: ['until!', 'reason!'],
  approve_extension: ['note'],
  decline_extension: ['note'],
  return: ['reason!'],
  verify: ['passed!', 'note', 'photos'],
  reject: ['reason!'],
  close: ['note'],
};
const DANGER = new Set(['reject', 'return', 'decline_extension']);
const MAX_PHOTOS = 5;
/** Stage -> when the order met it. */
const MET = {
  acknowledge: 'acknowledged_at',
  accept: 'accepted_at',
  arrive: 'arrived_at',
  feedback: 'fed_back_at',
  verify: 'verified_at',
  close: 'closed_at',
};

export class OrderView {
  constructor(ctx, id) {
    this.ctx = ctx;
    this.id = Number(id);
    this.order = null;
    this.onFeed = (e) => {
      const ev = e.detail;
      if (ev.type.startsWith('work_order.') && ev.data.id === this.id && !this.busy) this.load();
    };
    this.onLang = () => this.render();
  }

  async mount(root) {
    this.root = root;
    this.ctx.bus.addEventListener('feed', this.onFeed);
    document.addEventListener('langchange', this.onLang);
    this.timer = setInterval(() => this.tick(), 1000);
    await this.load();
  }

  unmount() {
    clearInterval(this.timer);
    this.ctx.bus.removeEventListener('feed', this.onFeed);
    document.removeEventListener('langchange', this.onLang);
  }

  async load() {
    try {
      this.order = await api.get(`/api/v1/work-orders/${this.id}`);
    } catch (err) {
      replace(this.root, h('p', { class: 'error', i18n: 'order.not_found', args: { id: this.id } }));
      return;
    }
    this.render();
  }

  render() {
    const o = this.order;
    if (!o) return;
    const town = this.ctx.town;
    const snaps = orderSnapshots(o);
    this.actionBox = h('div', { class: 'box', id: 'order-actions' });
    replace(this.root, h('article', { class: 'order', id: 'order', dataset: { order: o.id, state: o.state } },
      h('div', { class: 'order-head' },
        h('a', { href: '#/board', class: 'btn small', i18n: 'order.back' }),
        h('span', { class: `prio ${o.priority}`, text: o.priority }),
        h('h1', {}, `#${o.id} ${kindLabel(o.kind)}`),
        h('span', { class: 'state-badge', id: 'order-state', dataset: { state: o.state }, text: stateLabel(o.state) }),
        o.is_overdue ? h('span', { class: 'due late', i18n: 'board.overdue' }) : null,
        o.escalated ? h('span', { class: 'due soon', i18n: 'order.escalated' }) : null,
        o.rework_count ? h('span', { class: 'due soon', id: 'order-rework', i18n: 'order.rework_count', args: { n: o.rework_count } }) : null),
      h('div', {},
        h('div', { class: 'box' },
          h('h3', { i18n: 'order.evidence' }),
          h('div', { class: 'media' },
            snaps.length ? snapshotFigure(snaps[0], true) : h('div', { class: 'thumb none', i18n: 'feed.no_snapshot' }),
            o.clip_url ? h('video', { id: 'order-clip', src: o.clip_url, controls: true, preload: 'auto', muted: true, playsinline: true })
              : h('div', { class: 'thumb none', i18n: 'order.no_clip' })),
          snaps.length > 1 ? h('div', { class: 'snaps', id: 'order-snapshots' }, snaps.slice(1).map((x) => snapshotFigure(x, false))) : null),
        h('div', { class: 'box' },
          h('h3', { i18n: 'order.location' }),
          facts([
            ['order.camera', o.camera ? h('a', { href: `#/cameras/${encodeURIComponent(o.camera.id)}`, text: `${o.camera.id} ${o.camera.name}` }) : null],
            ['order.village', localName(o.village)],
            ['order.grid', o.grid ? town.gridName(o.grid.id) : ''],
            ['order.address', o.address],
            ['order.coordinates', coords(o)],
            ['order.source', has(`source.${o.source}`) ? t(`source.${o.source}`) : o.source],
            ['order.description', o.description],
            ['order.status_notes', o.status_notes],
          ]))),
      h('div', {},
        h('div', { class: 'box' },
          h('h3', { i18n: 'order.deadlines' }),
          h('div', { class: 'deadlines' },
            Object.keys(MET).map((which) => stageDeadline(o, which))),
          o.extension_request ? h('p', { class: 'small', id: 'order-extension', i18n: 'order.extension_pending',
            args: { at: fmtDateTime(o.extension_request.until), reason: o.extension_request.reason } }) : null),
        h('div', { class: 'box' },
          h('h3', { i18n: 'order.assigned' }),
          facts([
            ['order.department', localName(o.department)],
            ['order.assignee', o.assignee ? `${o.assignee.name}${o.assignee.phone ? ` · ${o.assignee.phone}` : ''}` : t('order.nobody')],
            ['order.created', fmtDateTime(o.created_at)],
          ])),
        this.actionBox,
        h('div', { class: 'box' },
          h('h3', { i18n: 'order.history' }),
          h('ol', { class: 'timeline', id: 'order-history' }, (o.history || []).map((row) => historyRow(row, town)))))));
    this.renderActions();
  }

  /**
   * The action buttons, and the form of the action being filled in. A refresh (another desk acted,
   * a feed event came) keeps an open form as it is, typed text included, while that action is still
   * allowed; otherwise the form goes and the buttons show what is possible now.
   */
  renderActions(active = this.active) {
    const allowed = this.order.allowed_actions || [];
    if (!active || !allowed.includes(active)) {
      this.active = null;
      this.formEl = null;
    } else if (this.active !== active || !this.formEl) {
      this.active = active;
      this.formEl = this.form(active);
    }
    const buttons = allowed.map((a) => h('button', {
      type: 'button', class: `btn${DANGER.has(a) ? ' danger' : a === this.active ? ' active' : ' primary'}`,
      dataset: { action: a }, i18n: `action.${a}`,
      onclick: () => (FORMS[a] ? this.renderActions(a) : this.act(a, {})),
    }));
    replace(this.actionBox, h('h3', { i18n: 'order.actions' }),
      allowed.length ? h('div', { class: 'actions' }, buttons) : h('p', { class: 'muted', i18n: 'order.no_actions' }),
      this.formEl,
      h('p', { class: 'error', id: 'action-error', hidden: true }));
  }

  form(action) {
    const o = this.order;
    const town = this.ctx.town;
    const fields = FORMS[action];
    const form = h('form', { class: 'action-form', id: `form-${action}` });
    for (const spec of fields) {
      const name = spec.replace('!', '');
      const required = spec.endsWith('!');
      let input;
      if (name === 'department') {
        input = h('select', { name },
          town.departments.filter((d) => d.kind !== 'squad').map((d) => h('option', { value: d.id, text: localName(d) })));
        const dep = town.department.get(o.department.id);
        input.value = dep && dep.parent ? dep.parent : o.department.id;
      } else if (name === 'assignee') {
        input = h('select', { name }, h('option', { value: '', i18n: 'order.keep_assignee' }),
          town.grids.map((g) => h('option', { value: g.worker.id, text: `${g.worker.name} (${town.gridName(g.id)})` })));
        if (o.assignee) input.value = o.assignee.id;
      } else if (name === 'evidence') {
        input = h('input', { name, type: 'file', accept: 'image/jpeg', required });
      } else if (name === 'photos') {
        input = h('input', { name, type: 'file', accept: 'image/jpeg', multiple: true, required });
      } else if (name === 'until') {
        input = h('input', { name, type: 'datetime-local', required });
      } else if (name === 'passed') {
        input = h('select', { name, required },
          h('option', { value: 'true', i18n: 'field.passed_yes' }),
          h('option', { value: 'false', i18n: 'field.passed_no' }));
      } else {
        input = h('textarea', { name, required, maxlength: 2000 });
      }
      form.append(h('label', {}, h('span', { i18n: `field.${name}` }), required ? ' *' : '', input));
    }
    form.append(h('div', { class: 'actions' },
      h('button', { type: 'submit', class: `btn ${DANGER.has(action) ? 'danger' : 'primary'}`, id: 'action-submit', i18n: `action.${action}` }),
      h('button', { type: 'button', class: 'btn', i18n: 'order.cancel', onclick: () => { this.active = null; this.renderActions(null); } })));
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      const body = {};
      for (const spec of fields) {
        const name = spec.replace('!', '');
        const el = form.elements[name];
        if (name === 'evidence') {
          if (el.files.length) body.evidence = await fileBase64(el.files[0]);
        } else if (name === 'photos') {
          body.photos = await Promise.all([...el.files].slice(0, MAX_PHOTOS).map(fileBase64));
        } else if (name === 'until') {
          if (el.value) body.until = new Date(el.value).toISOString();
        } else if (name === 'passed') {
          body.passed = el.value === 'true';
        } else if (el.value.trim()) body[name] = el.value.trim();
      }
      await this.act(action, body);
    });
    return form;
  }

  async act(action, fields) {
    this.busy = true;
    try {
      this.order = await api.post(`/api/v1/work-orders/${this.id}/actions`, { action, ...fields });
      this.active = null;  // done: close the form
      if (!this.order.history) await this.load();
      else this.render();
      this.ctx.toast(t('order.done', { action: t(`action.${action}`), id: this.id }));
    } catch (err) {
      const box = this.actionBox.querySelector('#action-error');
      box.textContent = t('error.generic', { message: err.message });
      box.hidden = false;
    } finally {
      this.busy = false;
    }
  }

  tick() {
    if (!this.root) return;
    for (const el of this.root.querySelectorAll('[data-due]')) {
      const d = timeLeft(el.dataset.due);
      el.textContent = d.text;
      el.className = `left due ${d.cls}`;
    }
  }
}

function facts(rows) {
  return h('dl', { class: 'facts' }, rows.filter(([, v]) => v !== null && v !== undefined && v !== '')
    .map(([key, v]) => [h('dt', { i18n: key }), h('dd', {}, v)]));
}

function coords(o) {
  const lat = o.lat ?? (o.camera && o.camera.lat);
  const lon = o.long ?? (o.camera && o.camera.lon);
  return lat == null || lon == null ? '' : `${Number(lat).toFixed(5)}, ${Number(lon).toFixed(5)}`;
}

/** One stage's deadline: counting down while its clock runs, met (in time or late) once done. */
function stageDeadline(o, which) {
  const due = o.deadlines[`${which}_by`];
  if (!due) return null;
  if (RUNNING[which].includes(o.state)) return deadline(which, due, null, false);
  return o[MET[which]] ? deadline(which, due, o[MET[which]], false) : null;
}

function deadline(which, due, metAt, ended) {
  // The big figure is always the deadline itself; when the step was done, when (and whether in
  // time) is the small line under it. An ended order's open deadlines no longer count down.
  const head = h('div', { class: 'small muted', i18n: `deadline.${which}` });
  if (metAt || ended) {
    const late = Boolean(metAt) && new Date(metAt) > new Date(due);
    const note = metAt
      ? h('div', { class: `small done-at ${late ? 'due late' : 'muted'}`, i18n: late ? 'deadline.done_late' : 'deadline.done', args: { at: fmtTime(metAt) }, title: fmtDateTime(metAt) })
      : h('div', { class: 'small muted', i18n: 'deadline.not_reached' });
    return h('div', { class: `deadline met${late ? ' late' : ''}`, dataset: { deadline: which } },
      head, h('div', { class: 'left', dataset: { at: due }, title: fmtDateTime(due), text: fmtTime(due) }), note);
  }
  const d = timeLeft(due);
  return h('div', { class: 'deadline', dataset: { deadline: which } },
    head,
    h('div', { class: `left due ${d.cls}`, dataset: { due }, text: d.text }),
    h('div', { class: 'small muted', i18n: 'deadline.due_at', args: { at: fmtDateTime(due) } }));
}

function historyRow(row, town) {
  const details = row.details || {};
  const extra = [];
  if (details.department) extra.push(t('history.department', { name: town.departmentName(details.department) }));
  if (details.assignee) extra.push(t('history.assignee', { name: town.workerName(details.assignee) }));
  if (details.priority) extra.push(t('history.priority', { p: details.priority }));
  if (details.silenced_until) extra.push(t('history.silenced', { at: fmtDateTime(details.silenced_until) }));
  if (details.passed === true) extra.push(t('history.passed'));
  if (details.passed === false) extra.push(t('history.failed', { n: details.rework_count || 1 }));
  if (details.until) extra.push(t('history.until', { at: fmtDateTime(details.until) }));
  if (details.level) extra.push(t(`history.level_${details.level}`, { stage: t(`deadline.${details.stage}`), n: details.misses }));
  if (details.stage && details.on_time === false) extra.push(t('history.late'));
  return h('li', { dataset: { action: row.action } },
    h('div', {},
      h('span', { class: 'when', text: fmtDateTime(row.at) }), ' ',
      h('b', { text: has(`action.${row.action}`) ? t(`action.${row.action}`) : row.action }), ' ',
      h('span', { class: 'muted', text: `${row.from_state ? `${stateLabel(row.from_state)} → ` : ''}${stateLabel(row.to_state)}` })),
    h('div', { class: 'small muted', text: `${row.actor} (${has(`role.${row.role}`) ? t(`role.${row.role}`) : row.role})` }),
    row.note ? h('div', { class: 'note', text: row.note }) : null,
    extra.length ? h('div', { class: 'small muted', text: extra.join(' · ') }) : null,
    (row.attachments || []).map((url) => h('a', { href: url, target: '_blank', rel: 'noopener' },
      h('img', { class: 'thumb', src: url, alt: '' }))));
}

function fileBase64(file) {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.addEventListener('load', () => resolve(String(reader.result).split(',')[1] || ''));
    reader.addEventListener('error', () => reject(reader.error));
    reader.readAsDataURL(file);
  });
}

/** The order's pictures, its own camera's first, each with the camera that took it (an incident
 * can group several cameras; see central/snapshots.py). */
export function orderSnapshots(o) {
  if (Array.isArray(o.snapshots) && o.snapshots.length) return o.snapshots;
  if (!o.snapshot_url) return [];
  return [{ camera_id: o.camera ? o.camera.id : '', camera_name: o.camera ? o.camera.name : '', url: o.snapshot_url }];
}

function snapshotFigure(snap, main) {
  const img = main ? { id: 'order-snapshot', src: snap.url, alt: '' } : { src: snap.url, alt: '', loading: 'lazy' };
  return h('figure', { class: main ? 'snap main' : 'snap', dataset: { camera: snap.camera_id } },
    h('img', img),
    h('figcaption', { class: 'snap-camera', text: snap.camera_id ? `${snap.camera_id} ${snap.camera_name || ''}`.trim() : '' }));
}

// The camera-ledger upload on the health wall (maintainers and admins): a .xlsx or .csv ledger goes to
// POST /api/v1/registry/import, which checks every row first. A ledger with bad rows imports nothing
// and its report is listed here row by row (row, column, reason); a good one says how many cameras
// were created, updated or left as they were, and the wall reloads the town to show them.
import { api } from './api.js';
import { h, replace } from './dom.js';
import { t } from './i18n.js';

export class LedgerUpload {
  /** ``onImported(answer)`` runs after a successful import (the wall reloads the town). */
  constructor(onImported) {
    this.onImported = onImported;
    this.file = h('input', { type: 'file', id: 'ledger-file', accept: '.xlsx,.xlsm,.csv' });
    this.mainTemplate = h('input', { type: 'text', id: 'ledger-main-template', size: 48, placeholder: 'rtsp://{user}:{password}@{ip}:554/…' });
    this.subTemplate = h('input', { type: 'text', id: 'ledger-sub-template', size: 48 });
    this.button = h('button', { type: 'submit', class: 'btn primary', id: 'ledger-import', i18n: 'ledger.import' });
    this.result = h('div', { id: 'ledger-result' });
    this.el = h('form', { class: 'box ledger', id: 'ledger-panel', hidden: true, onsubmit: (e) => { e.preventDefault(); this.upload(); } },
      h('h3', { i18n: 'ledger.title' }),
      h('p', { class: 'muted', i18n: 'ledger.help' }),
      h('div', { class: 'toolbar' }, h('label', {}, h('span', { i18n: 'ledger.file' }), this.file), this.button),
      h('details', {}, h('summary', { i18n: 'ledger.templates' }),
        h('label', {}, h('span', { i18n: 'ledger.main_template' }), this.mainTemplate),
        h('label', {}, h('span', { i18n: 'ledger.sub_template' }), this.subTemplate)),
      this.result);
  }

  toggle() { this.el.hidden = !this.el.hidden; }

  async upload() {
    const file = this.file.files[0];
    if (!file) { this.show('error', t('ledger.no_file')); return; }
    const form = new FormData();
    form.append('file', file, file.name);
    if (this.mainTemplate.value.trim()) form.append('main_template', this.mainTemplate.value.trim());
    if (this.subTemplate.value.trim()) form.append('sub_template', this.subTemplate.value.trim());
    this.button.disabled = true;
    this.show('busy', t('ledger.checking', { name: file.name }));
    try {
      const answer = await api.postForm('/api/v1/registry/import', form);
      this.show('ok', t('ledger.imported', {
        n: answer.checked, created: answer.created, updated: answer.updated, unchanged: answer.unchanged, revision: answer.revision,
      }));
      this.result.dataset.created = String(answer.created);
      this.result.dataset.checked = String(answer.checked);
      await this.onImported(answer);
    } catch (err) {
      const rows = (err.body && Array.isArray(err.body.errors)) ? err.body.errors : [];
      this.show('error', rows.length ? t('ledger.refused', { n: rows.length, message: err.message }) : err.message, rows);
    } finally {
      this.button.disabled = false;
    }
  }

  show(state, message, rows = []) {
    this.result.dataset.state = state;
    replace(this.result,
      h('p', { id: 'ledger-message', class: state === 'error' ? 'error' : '', text: message }),
      rows.length ? h('table', { class: 'list', id: 'ledger-errors' },
        h('thead', {}, h('tr', {}, h('th', { i18n: 'ledger.row' }), h('th', { i18n: 'ledger.column' }), h('th', { i18n: 'ledger.reason' }))),
        h('tbody', {}, rows.map((r) => h('tr', {},
          h('td', { class: 'mono', text: String(r.row ?? '') }), h('td', { text: r.column ?? '' }), h('td', { text: r.reason ?? '' })))))
        : null);
  }
}

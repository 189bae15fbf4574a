// A camera's ONVIF box on its page: whether the edge could talk to the device (a wrong password or an
// unreachable device in words), the device clock's offset (flagged when off by more than the camera's
// limit, 60 s by default: maintainers set it right), the stream URIs the profiles gave and the PTZ
// home moves the edge sent after camera_moved. From GET /api/v1/cameras/{id}/health (its "onvif").
import { h } from './dom.js';
import { fmtDateTime } from './format.js';
import { t } from './i18n.js';

export function onvifBox(state) {
  if (!state) return null;
  const offset = state.clock_offset_s;
  const clock = offset === null || offset === undefined ? t('onvif.clock_unknown')
    : t('onvif.clock_offset', { s: (offset > 0 ? '+' : '') + Number(offset).toFixed(0) });
  const moves = state.ptz_moves || [];
  return h('div', { class: 'box', id: 'camera-onvif', dataset: { ok: String(state.ok), clockWrong: String(state.clock_wrong) } },
    h('h3', { i18n: 'onvif.title' }),
    state.error ? h('p', { class: 'error', id: 'onvif-error', text: state.error }) : null,
    state.clock_wrong ? h('p', { class: 'error', id: 'onvif-clock-wrong', text: t('onvif.clock_wrong', { offset: clock }) }) : null,
    h('dl', { class: 'facts' },
      h('dt', { i18n: 'onvif.state' }), h('dd', { id: 'onvif-state', text: state.ok ? t('onvif.ok') : t('onvif.failing') }),
      h('dt', { i18n: 'onvif.checked' }), h('dd', { text: state.checked_at ? fmtDateTime(state.checked_at) : t('time.never') }),
      h('dt', { i18n: 'onvif.clock' }), h('dd', { id: 'onvif-clock', class: state.clock_wrong ? 'bad' : '', text: clock }),
      h('dt', { i18n: 'onvif.main' }), h('dd', { class: 'mono', text: state.main_uri || '—' }),
      h('dt', { i18n: 'onvif.sub' }), h('dd', { class: 'mono', text: state.sub_uri || '—' }),
      h('dt', { i18n: 'onvif.snapshot' }), h('dd', { class: 'mono', text: state.snapshot_uri || '—' }),
      h('dt', { i18n: 'onvif.ptz_home' }), h('dd', { id: 'onvif-ptz', text: (state.ptz_home_on_moved ? t('onvif.on') : t('onvif.off'))
        + (state.ptz_moves_total ? ` · ${t('onvif.moves', { n: state.ptz_moves_total })}` : '') })),
    moves.length ? h('ul', { id: 'onvif-moves' }, moves.slice().reverse().map((m) => h('li', {
      class: m.ok ? '' : 'error', text: `${fmtDateTime(m.at)} ${m.ok ? t('onvif.moved_home') : m.error}` }))) : null);
}

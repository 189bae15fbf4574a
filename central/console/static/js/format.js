// Times in the town's own time zone (the centre works in local time wherever the browser runs), and
// the "time left" figures of deadlines.
import { currentLang, t } from './i18n.js';

let timeZone = 'Asia/Shanghai';
export function setTimeZone(tz) { if (tz) timeZone = tz; }

function fmt(iso, opts) {
  if (!iso) return '';
  const d = iso instanceof Date ? iso : new Date(iso);
  if (Number.isNaN(d.getTime())) return '';
  return new Intl.DateTimeFormat(currentLang(), { timeZone, hourCycle: 'h23', ...opts }).format(d);
}

export const fmtTime = (iso) => fmt(iso, { hour: '2-digit', minute: '2-digit', second: '2-digit' });
export const fmtDateTime = (iso) => fmt(iso, { month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit' });
export const fmtClock = (d) => fmt(d, { year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit' });

/** Seconds as h:mm:ss, or "2d 03:04:05" past a day. Negative values get a minus sign. */
export function fmtDuration(seconds) {
  const neg = seconds < 0;
  let s = Math.floor(Math.abs(seconds));
  const d = Math.floor(s / 86400);
  s -= d * 86400;
  const hh = Math.floor(s / 3600);
  const mm = Math.floor((s % 3600) / 60);
  const ss = s % 60;
  const pad = (n) => String(n).padStart(2, '0');
  const core = `${d ? `${d}${t('unit.day')} ` : ''}${pad(hh)}:${pad(mm)}:${pad(ss)}`;
  return neg ? `-${core}` : core;
}

/** How a deadline stands now: seconds left (negative when late) and a class for colour. */
export function timeLeft(iso, now = Date.now()) {
  const left = (new Date(iso).getTime() - now) / 1000;
  return { left, text: fmtDuration(left), cls: left < 0 ? 'late' : left < 600 ? 'soon' : '' };
}

/** "3 min ago" style age of a timestamp. */
export function ago(iso, now = Date.now()) {
  if (!iso) return t('time.never');
  const s = Math.max(0, Math.round((now - new Date(iso).getTime()) / 1000));
  if (s < 60) return t('time.seconds_ago', { n: s });
  if (s < 3600) return t('time.minutes_ago', { n: Math.floor(s / 60) });
  if (s < 86400) return t('time.hours_ago', { n: Math.floor(s / 3600) });
  return t('time.days_ago', { n: Math.floor(s / 86400) });
}

/** Compact age for tight places (health tiles): "5s", "3m", "2h", "4d" in the current language. */
export function agoShort(iso, now = Date.now()) {
  if (!iso) return '';
  const s = Math.max(0, Math.round((now - new Date(iso).getTime()) / 1000));
  if (s < 60) return t('time.short_s', { n: s });
  if (s < 3600) return t('time.short_m', { n: Math.floor(s / 60) });
  if (s < 86400) return t('time.short_h', { n: Math.floor(s / 3600) });
  return t('time.short_d', { n: Math.floor(s / 86400) });
}

/** The date "YYYY-MM-DD" of a moment in the town's time zone. */
export function localDate(d) {
  const parts = new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit' })
    .formatToParts(d);
  const get = (type) => parts.find((p) => p.type === type).value;
  return `${get('year')}-${get('month')}-${get('day')}`;
}

/** The town's UTC offset ("+08:00") at noon of a local date "YYYY-MM-DD". */
export function tzOffset(date) {
  const name = new Intl.DateTimeFormat('en-US', { timeZone, timeZoneName: 'longOffset' })
    .formatToParts(new Date(`${date}T12:00:00Z`)).find((p) => p.type === 'timeZoneName').value;
  const m = name.match(/([+-])(\d{2}):?(\d{2})?/);
  return m ? `${m[1]}${m[2]}:${m[3] || '00'}` : '+00:00';
}

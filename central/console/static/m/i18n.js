// The phone view's text: catalogues in ./i18n/<lang>.json, Chinese by default.
const KEY = 'gridwatch.m.lang';
export const LANGS = ['zh-CN', 'en'];
let catalogue = {};
let lang = 'zh-CN';

export async function initI18n() {
  let stored = 'zh-CN';
  try { stored = localStorage.getItem(KEY) || 'zh-CN'; } catch { /* private mode */ }
  await load(LANGS.includes(stored) ? stored : 'zh-CN');
}

export async function setLang(l) {
  if (!LANGS.includes(l)) return;
  await load(l);
  try { localStorage.setItem(KEY, l); } catch { /* private mode */ }
}

async function load(l) {
  const cached = `gridwatch.m.i18n.${l}`;
  try {
    const resp = await fetch(`/console/static/m/i18n/${l}.json`, { credentials: 'same-origin' });
    if (!resp.ok) throw new Error(`HTTP ${resp.status}`);
    catalogue = await resp.json();
    try { localStorage.setItem(cached, JSON.stringify(catalogue)); } catch { /* full */ }
  } catch (err) {
    // Offline: the catalogue saved when the page last loaded online.
    const saved = localStorage.getItem(cached);
    if (!saved) throw err;
    catalogue = JSON.parse(saved);
  }
  lang = l;
  document.documentElement.lang = l;
  for (const el of document.querySelectorAll('[data-i18n]')) el.textContent = t(el.dataset.i18n);
}

export const currentLang = () => lang;

export function t(key, args) {
  let s = catalogue[key];
  if (s === undefined) return key;
  if (args) s = s.replace(/\{(\w+)\}/g, (m, n) => (n in args ? String(args[n]) : m));
  return s;
}

export const has = (key) => Object.prototype.hasOwnProperty.call(catalogue, key);

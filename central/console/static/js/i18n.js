// Catalogue-driven text: every visible string comes from static/i18n/<lang>.json. Markup carries
// data-i18n keys; switching language re-renders those nodes in place and tells views to redraw.
const STORAGE_KEY = 'gridwatch.lang';
export const LANGS = ['zh-CN', 'en'];
const DEFAULT_LANG = 'zh-CN';

let lang = DEFAULT_LANG;
let catalogue = {};

function storedLang() {
  try {
    const v = localStorage.getItem(STORAGE_KEY);
    return LANGS.includes(v) ? v : DEFAULT_LANG;
  } catch {
    return DEFAULT_LANG;
  }
}

async function load(l) {
  const resp = await fetch(`/console/static/i18n/${l}.json`, { credentials: 'same-origin' });
  if (!resp.ok) throw new Error(`catalogue ${l}: HTTP ${resp.status}`);
  catalogue = await resp.json();
  lang = l;
  document.documentElement.lang = l;
}

export async function initI18n() {
  await load(storedLang());
  applyI18n(document);
}

export async function setLang(l) {
  if (!LANGS.includes(l) || l === lang) return;
  await load(l);
  try { localStorage.setItem(STORAGE_KEY, l); } catch { /* private mode: not remembered */ }
  applyI18n(document);
  document.dispatchEvent(new CustomEvent('langchange', { detail: l }));
}

export const currentLang = () => lang;

/** Text for key with {name} placeholders filled from args. A missing key shows itself. */
export function t(key, args) {
  let s = catalogue[key];
  if (s === undefined) {
    console.warn(`i18n: missing key ${key}`);
    return key;
  }
  if (args) s = s.replace(/\{(\w+)\}/g, (m, name) => (name in args ? String(args[name]) : m));
  return s;
}

/** True when the catalogue has this key (for optional translations such as unknown kinds). */
export const has = (key) => Object.prototype.hasOwnProperty.call(catalogue, key);

/** Re-render every data-i18n node under root. */
export function applyI18n(root) {
  for (const el of root.querySelectorAll('[data-i18n]')) {
    const args = el.dataset.i18nArgs ? JSON.parse(el.dataset.i18nArgs) : undefined;
    el.textContent = t(el.dataset.i18n, args);
  }
  for (const el of root.querySelectorAll('[data-i18n-title]')) el.title = t(el.dataset.i18nTitle);
  for (const el of root.querySelectorAll('[data-i18n-placeholder]')) el.placeholder = t(el.dataset.i18nPlaceholder);
  for (const el of root.querySelectorAll('[data-i18n-aria-label]')) el.setAttribute('aria-label', t(el.dataset.i18nAriaLabel));
  const title = document.querySelector('title[data-i18n]');
  if (title) document.title = title.textContent;
}

/** A town object's name in the current language (name_en when English and present). */
export function localName(obj) {
  if (!obj) return '';
  return lang === 'en' && obj.name_en ? obj.name_en : obj.name;
}

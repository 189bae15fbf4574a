// Tiny DOM helpers. Everything is built with createElement/textContent (never innerHTML), so text
// coming from the hub can never become markup, and the page stays within a strict CSP.
import { t } from './i18n.js';

/**
 * Make an element. props: class, i18n (catalogue key; sets the text), args (i18n parameters),
 * i18nTitle (catalogue key for the title attribute), dataset, on<event> handlers, text, and plain
 * attributes. Children: nodes, strings (as text), arrays, null/undefined (skipped).
 */
export function h(tag, props, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(props || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') el.className = v;
    else if (k === 'i18n') el.dataset.i18n = v;
    else if (k === 'args') el.dataset.i18nArgs = JSON.stringify(v);
    else if (k === 'i18nTitle') el.dataset.i18nTitle = v;
    else if (k === 'i18nPlaceholder') el.dataset.i18nPlaceholder = v;
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (k === 'text') el.textContent = String(v);
    else if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'value') el.value = v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  if (props && props.i18n) el.textContent = t(props.i18n, props.args);
  if (props && props.i18nTitle) el.title = t(props.i18nTitle);
  if (props && props.i18nPlaceholder) el.placeholder = t(props.i18nPlaceholder);
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else if (c instanceof Node) el.appendChild(c);
    else el.appendChild(document.createTextNode(String(c)));
  }
}

/** Replace all children of el. */
export function replace(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

export const $ = (sel, root = document) => root.querySelector(sel);
export const $$ = (sel, root = document) => Array.from(root.querySelectorAll(sel));

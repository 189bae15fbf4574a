// Plain SVG bar charts (no chart library): one horizontal bar per item, its value written beside it.
// Bars carry data-key and data-value so what is drawn can be checked against the figures it shows.
const SVG_NS = 'http://www.w3.org/2000/svg';

function svg(tag, attrs, text) {
  const el = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs || {})) el.setAttribute(k, String(v));
  if (text !== undefined) el.textContent = String(text);
  return el;
}

/**
 * items: [{ key, label, value, text }] (value a number or null; text: what to write beside the bar).
 * Returns an <svg> sized to the items; an empty list gives an empty chart.
 */
export function barChart(items, { width = 560, row = 22, labelW = 170, title = '' } = {}) {
  const valueW = 90;
  const barW = width - labelW - valueW;
  const height = Math.max(row, items.length * row) + 4;
  const max = Math.max(0, ...items.map((i) => i.value || 0)) || 1;
  const root = svg('svg', { class: 'chart', viewBox: `0 0 ${width} ${height}`, width, height, role: 'img' });
  if (title) root.appendChild(svg('title', {}, title));
  items.forEach((item, n) => {
    const y = n * row + 2;
    const g = svg('g', { class: 'bar', 'data-key': item.key ?? '', 'data-value': item.value ?? '' });
    g.appendChild(svg('text', { x: labelW - 6, y: y + row * 0.68, class: 'chart-label', 'text-anchor': 'end' }, item.label));
    const w = item.value ? Math.max(1, (item.value / max) * barW) : 0;
    g.appendChild(svg('rect', { x: labelW, y: y + 3, width: w.toFixed(1), height: row - 6, class: 'chart-bar' }));
    g.appendChild(svg('text', { x: labelW + w + 4, y: y + row * 0.68, class: 'chart-value' }, item.text));
    root.appendChild(g);
  });
  return root;
}

// Building the DOM without HTML strings.
//
// Every value shown comes from the API (service descriptions, error messages, parameters) and
// must render as text, so nothing here ever assigns innerHTML: children are text nodes or
// elements. Inline styles are refused outright because the page's Content-Security-Policy
// (style-src 'self') would block them anyway: use classes and the `hidden` attribute.

import { display } from './json.js';

/**
 * h('a', {href: '#/x', class: 'btn'}, 'text', child, [more]) → element.
 * Props: `class`, `dataset` (object), `on<event>` (function), `value`/`checked` (set as properties,
 * after the children so a <select> has its options), anything else as an attribute
 * (true → present, false/null/undefined → absent).
 */
export function h(tag, props, ...children) {
  const el = document.createElement(tag);
  let value;
  let checked;
  for (const [name, v] of Object.entries(props || {})) {
    if (name === 'style' || name === 'innerHTML' || name === 'outerHTML') {
      throw new Error(`h(): "${name}" is not allowed (CSP and XSS safety)`);
    }
    if (v === undefined || v === null || v === false) continue;
    if (name === 'class') el.className = Array.isArray(v) ? v.filter(Boolean).join(' ') : v;
    else if (name === 'dataset') Object.assign(el.dataset, v);
    else if (name === 'value') value = v;
    else if (name === 'checked') checked = v;
    else if (name.startsWith('on') && typeof v === 'function') el.addEventListener(name.slice(2), v);
    else el.setAttribute(name, v === true ? '' : String(v));
  }
  append(el, children);
  if (value !== undefined) el.value = value;
  if (checked !== undefined) el.checked = Boolean(checked);
  return el;
}

/** Appends children: strings/numbers become text nodes, arrays are flattened, null/false skipped. */
export function append(parent, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    parent.append(child instanceof Node ? child : document.createTextNode(display(child)));
  }
  return parent;
}

/** Replaces every child of `parent`. */
export function replace(parent, ...children) {
  parent.replaceChildren();
  return append(parent, children);
}

/** Local date and time, "2026-11-24 03:03:02", from an ISO 8601 timestamp. */
export function formatTime(iso) {
  if (!iso) return '';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return String(iso);
  const p = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} `
    + `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

/** A <time> element: local time shown, the exact ISO value as its datetime and tooltip. */
export function time(iso) {
  if (!iso) return h('span', { class: 'muted' }, '—');
  return h('time', { datetime: iso, title: iso }, formatTime(iso));
}

/** "4.56 ms" */
export function ms(value) {
  if (value === null || value === undefined) return '—';
  const n = Number(display(value));
  return Number.isFinite(n) ? `${n.toLocaleString('en-US', { maximumFractionDigits: 2 })} ms` : display(value);
}

/** A coloured pill for an execution status, enabled flag, reachability... */
export function badge(text, kind = text) {
  return h('span', { class: `badge badge-${kind}` }, text);
}

/** A table whose rows stack into cards on narrow screens (cells labelled via data-label). */
export function table({ id, columns, rows, empty = 'Nothing to show.', stack = true, caption }) {
  const head = h('tr', null, columns.map((c) => h('th', { scope: 'col', class: c.class }, c.label)));
  const body = h('tbody');
  fillRows(body, columns, rows, empty);
  return h('div', { class: 'table-wrap' },
    h('table', { id, class: stack ? 'table table-stack' : 'table' },
      caption ? h('caption', { class: 'visually-hidden' }, caption) : null,
      h('thead', null, head), body));
}

/** (Re)fills a <tbody>: each row is an array of cell contents, or {cells, attrs}. */
export function fillRows(body, columns, rows, empty = 'Nothing to show.') {
  body.replaceChildren();
  if (!rows.length) {
    body.append(h('tr', { class: 'empty' }, h('td', { colspan: columns.length }, empty)));
    return;
  }
  for (const row of rows) {
    const cells = Array.isArray(row) ? row : row.cells;
    const tr = h('tr', Array.isArray(row) ? null : row.attrs);
    cells.forEach((content, i) => {
      tr.append(h('td', { 'data-label': columns[i].label, class: columns[i].class }, content));
    });
    body.append(tr);
  }
}

/** A definition list from [term, description] pairs (pairs with undefined descriptions skipped). */
export function dl(pairs, id) {
  const list = h('dl', { class: 'props', id });
  for (const [term, desc] of pairs) {
    if (desc === undefined) continue;
    list.append(h('div', null, h('dt', null, term),
      h('dd', null, desc === null || desc === '' ? h('span', { class: 'muted' }, '—') : desc)));
  }
  return list;
}

/** A pre-formatted block of text (JSON, messages). */
export function pre(text, props = {}) {
  return h('pre', { class: 'code', ...props }, text);
}

/** A card section with a heading. */
export function section(title, props, ...children) {
  return h('section', { class: 'card', ...props }, title ? h('h2', null, title) : null, ...children);
}

/** A labelled form field: label + control (+ hint). Returns the wrapper. */
export function field(label, control, hint) {
  const hintId = hint ? `${control.id}-hint` : null;
  if (hintId) control.setAttribute('aria-describedby', hintId);
  return h('div', { class: 'field' },
    h('label', { for: control.id }, label),
    control,
    hint ? h('p', { class: 'hint', id: hintId }, hint) : null);
}

// dom.js -- small helpers shared by the console's pages: element building,
// proto3 JSON values (int64 as strings, enums as names), times.

// h('tag', {attr: v, onclick: f}, child...) -> element. Children may be
// strings, nodes, arrays or null. No innerHTML anywhere: text stays text.
export function h(tag, attrs, ...kids) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className = v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  add(el, kids);
  return el;
}

function add(el, kids) {
  for (const k of kids) {
    if (k === null || k === undefined || k === false) continue;
    if (Array.isArray(k)) add(el, k);
    else el.append(k instanceof Node ? k : String(k));
  }
}

export function clear(el, ...kids) {
  el.replaceChildren();
  add(el, kids);
  return el;
}

// proto3 JSON gives 64-bit integers as strings and leaves defaults out.
export function num(v) {
  const n = Number(v || 0);
  return Number.isFinite(n) ? n : 0;
}

// "CASE_STATE_OPEN" -> "open" (prefix is the enum's name in upper case).
export function enumLabel(v, prefix) {
  if (v === undefined || v === null || v === '') return 'unspecified';
  const s = String(v);
  return (s.startsWith(prefix) ? s.slice(prefix.length) : s).toLowerCase().replace(/_/g, ' ');
}

export function when(ms) {
  const n = num(ms);
  if (!n) return '';
  return new Date(n).toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z');
}

// 93000 -> "1m 33s"; negative spans get a leading minus.
export function span(ms) {
  let n = Math.round(num(ms) / 1000);
  const sign = n < 0 ? '-' : '';
  n = Math.abs(n);
  const d = Math.floor(n / 86400), hr = Math.floor((n % 86400) / 3600);
  const m = Math.floor((n % 3600) / 60), s = n % 60;
  if (d) return `${sign}${d}d ${hr}h`;
  if (hr) return `${sign}${hr}h ${m}m`;
  if (m) return `${sign}${m}m ${s}s`;
  return `${sign}${s}s`;
}

export function hexOf(b64) {
  if (!b64) return '';
  const bin = atob(b64);
  let out = '';
  for (let i = 0; i < bin.length; i++) out += bin.charCodeAt(i).toString(16).padStart(2, '0');
  return out;
}

// A table from rows: cols is [[heading, row => cell], ...]; rowAttrs(row),
// if given, gives each row's attributes (e.g. a data- key for scripts).
export function table(caption, cols, rows, empty, rowAttrs) {
  if (!rows.length) return h('p', { class: 'empty' }, empty || 'None.');
  return h('table', {},
    h('caption', {}, caption),
    h('thead', {}, h('tr', {}, cols.map(([t]) => h('th', { scope: 'col' }, t)))),
    h('tbody', {}, rows.map((r) => h('tr', rowAttrs ? rowAttrs(r) : {},
      cols.map(([t, f]) => h('td', { 'data-label': t }, f(r)))))));
}

// A definition list from [[term, value], ...], skipping empty values.
export function fields(pairs) {
  return h('dl', { class: 'fields' },
    pairs.filter(([, v]) => v !== '' && v !== null && v !== undefined)
      .map(([k, v]) => [h('dt', {}, k), h('dd', {}, v)]));
}

export function status(el, text, isError) {
  el.className = isError ? 'status error' : 'status';
  el.textContent = text;
}

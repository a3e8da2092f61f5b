// chart.js -- a small SVG line chart of two series over the last hour, with
// a text summary for screen readers. Styling comes from style.css classes.
import { num } from './dom.js';

const SVG = 'http://www.w3.org/2000/svg';
const W = 600, H = 160, PAD = 28;

function el(tag, attrs) {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  return e;
}

export function chart(series, note) {
  const now = Date.now(), from = now - 3600 * 1000;
  const all = [...series.messages, ...series.cases].map((p) => p.v);
  const max = Math.max(1, ...all);
  const x = (t) => PAD + ((t - from) / (now - from)) * (W - 2 * PAD);
  const y = (v) => H - PAD - (v / max) * (H - 2 * PAD);
  const svg = el('svg', { viewBox: `0 0 ${W} ${H}`, class: 'chart', role: 'img',
    'aria-label': `Messages and cases per minute; peak ${max.toFixed(1)} per minute` });
  svg.append(el('line', { x1: PAD, y1: H - PAD, x2: W - PAD, y2: H - PAD, class: 'axis' }));
  svg.append(el('line', { x1: PAD, y1: PAD, x2: PAD, y2: H - PAD, class: 'axis' }));
  const label = (text, attrs) => { const t = el('text', attrs); t.textContent = text; svg.append(t); };
  label(max.toFixed(1), { x: 2, y: PAD + 4, class: 'tick' });
  label('0', { x: 2, y: H - PAD + 4, class: 'tick' });
  label('-60 min', { x: PAD, y: H - 8, class: 'tick' });
  label('now', { x: W - PAD - 20, y: H - 8, class: 'tick' });
  for (const [name, pts] of [['messages', series.messages], ['cases', series.cases]]) {
    if (!pts.length) continue;
    svg.append(el('polyline', { class: `series ${name}`,
      points: pts.map((p) => `${x(p.at).toFixed(1)},${y(num(p.v)).toFixed(1)}`).join(' ') }));
  }
  const last = (pts) => (pts.length ? pts[pts.length - 1].v.toFixed(1) : '–');
  const wrap = document.createElement('figure');
  const cap = document.createElement('figcaption');
  cap.textContent = `${note} Now: ${last(series.messages)} messages/min (blue), ${last(series.cases)} cases/min (orange).`;
  wrap.append(svg, cap);
  return wrap;
}

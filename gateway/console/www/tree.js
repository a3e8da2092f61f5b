// tree.js -- delegations as a tree: each region's node at the top, and each
// prefix under the longest other prefix that encloses it (label-wise:
// "uk.london.lewisham" is under "uk.london"), as nested lists a screen
// reader reads as a tree.
import { h } from './dom.js';
import { standingLabel } from './labels.js';

const encloses = (outer, inner) => inner.startsWith(outer + '.');

export function prefixTree(regs) {
  const items = regs.flatMap((r) => (r.prefixes || []).map((p) => ({ p, r, kids: [] })));
  // A region with no delegation of its own name stands for its node.
  const regions = [...new Set(regs.map((r) => r.region).filter(Boolean))]
    .filter((g) => !items.some((it) => it.p === g))
    .map((g) => ({ p: g, region: true, kids: [] }));
  const all = [...regions, ...items]
    .sort((a, b) => a.p.split('.').length - b.p.split('.').length || a.p.localeCompare(b.p));
  const roots = [];
  for (const it of all) {
    let parent = null;
    for (const cand of all) {
      if (cand === it || !encloses(cand.p, it.p)) continue;
      if (!parent || cand.p.length > parent.p.length) parent = cand;
    }
    (parent ? parent.kids : roots).push(it);
  }
  if (!items.length) return h('p', { class: 'empty' }, 'No delegations.');
  const list = (nodes) => h('ul', {}, nodes.map((n) => h('li', {},
    h('code', {}, n.p),
    n.region ? h('span', { class: 'region' }, ' region (node)')
      : [` ${n.r.displayName || n.r.id} `,
        h('span', { class: `standing ${standingLabel(n.r.status)}` }, standingLabel(n.r.status))],
    n.kids.length ? list(n.kids) : null)));
  return h('div', { class: 'tree', id: 'delegations' }, list(roots));
}

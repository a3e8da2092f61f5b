// queue.js -- the Queue page: open and claimed cases with reason, age, time
// left to the deadline, origin and holder; filters; live without reload.
import { recourse, whoami } from './api.js';
import { h, clear, num, enumLabel, span, status } from './dom.js';
import { watch } from './live.js';
import { REASONS, reasonLabel, stateLabel } from './labels.js';

const PAGE = 500; // one page: the node caps a page at 500

const filters = { state: '', reason: '', region: '', overdue: false, mine: false };

function select(id, label, options, key) {
  const el = h('select', { id, onchange: () => { filters[key] = el.value; refreshNow(); } },
    options.map(([v, t]) => h('option', { value: v, selected: filters[key] === v }, t)));
  return [h('label', { for: id }, label), el];
}

function checkbox(id, label, key) {
  const el = h('input', { id, type: 'checkbox', checked: filters[key],
    onchange: () => { filters[key] = el.checked; refreshNow(); } });
  return h('span', { class: 'check' }, el, h('label', { for: id }, label));
}

let refreshNow = () => {};
let typing = null;

export async function render(main) {
  const me = await whoami();
  const st = h('p', { class: 'status', role: 'status', 'aria-live': 'polite' });
  const body = h('div', { id: 'queue-body' });
  const region = h('input', { id: 'f-region', type: 'text', value: filters.region,
    placeholder: 'e.g. uk.london', oninput: () => {
      clearTimeout(typing);
      typing = setTimeout(() => { filters.region = region.value.trim(); refreshNow(); }, 300);
    } });
  clear(main,
    h('h1', {}, 'Queue'),
    h('form', { class: 'filters', role: 'search', onsubmit: (e) => e.preventDefault() },
      select('f-state', 'State', [['', 'open and claimed'], ['CASE_STATE_OPEN', 'open'],
        ['CASE_STATE_CLAIMED', 'claimed'], ['CASE_STATE_ESCALATED', 'escalated'],
        ['CASE_STATE_RESOLVED', 'resolved']], 'state'),
      select('f-reason', 'Reason', [['', 'any'], ...REASONS.map((r) => [r, reasonLabel(r)])], 'reason'),
      h('label', { for: 'f-region' }, 'Origin region'), region,
      checkbox('f-overdue', 'overdue only', 'overdue'),
      checkbox('f-mine', 'mine only', 'mine')),
    st, body);

  const load = async () => {
    const req = { page: { pageSize: PAGE } };
    if (filters.state) req.state = filters.state;
    if (filters.reason) req.reason = filters.reason;
    if (filters.overdue) req.overdueOnly = true;
    if (filters.mine) req.assignee = me.caller;
    let resp;
    try {
      resp = await recourse('List', req);
    } catch (e) {
      status(st, `Could not list cases: ${e.message}`, true);
      return;
    }
    let cases = resp.cases || [];
    if (filters.region) {
      const r = filters.region.toLowerCase();
      cases = cases.filter((c) => (c.originNode || '') === r || (c.originNode || '').startsWith(r + '.'));
    }
    const more = resp.page && resp.page.nextPageToken ? ` (first ${PAGE}; narrow the filters)` : '';
    status(st, `${cases.length} case${cases.length === 1 ? '' : 's'}${more}, updated ${new Date().toLocaleTimeString()}`);
    // Redrawn for the ages; keyboard focus stays on the same case's link.
    const focused = document.activeElement && document.activeElement.closest('tr[data-case]');
    clear(body, caseTable(cases, me.caller));
    if (focused) {
      const again = body.querySelector(`tr[data-case="${CSS.escape(focused.dataset.case)}"] a`);
      if (again) again.focus();
    }
  };
  refreshNow = load;
  await load();
  watch(load);
}

function caseTable(cases, me) {
  if (!cases.length) return h('p', { class: 'empty' }, 'No cases match.');
  const now = Date.now();
  return h('table', { id: 'cases' },
    h('caption', {}, 'Cases, oldest first'),
    h('thead', {}, h('tr', {}, ['Case', 'State', 'Reason', 'Age', 'Time left', 'Origin', 'Holder', 'To']
      .map((t) => h('th', { scope: 'col' }, t)))),
    h('tbody', {}, cases.map((c) => {
      const left = num(c.deadlineMs) - now;
      const env = c.envelope || {};
      return h('tr', { 'data-case': c.id, class: left < 0 && c.state !== 'CASE_STATE_RESOLVED' ? 'overdue' : '' },
        h('td', { 'data-label': 'Case' }, h('a', { href: `#/case/${encodeURIComponent(c.id)}` }, c.id)),
        h('td', { 'data-label': 'State' }, stateLabel(c.state)),
        h('td', { 'data-label': 'Reason', title: c.detail || '' }, reasonLabel(c.reason)),
        h('td', { 'data-label': 'Age' }, span(now - num(c.openedMs))),
        h('td', { 'data-label': 'Time left' }, num(c.deadlineMs) ? (left < 0 ? `overdue ${span(-left)}` : span(left)) : ''),
        h('td', { 'data-label': 'Origin' }, c.originNode || ''),
        h('td', { 'data-label': 'Holder' }, c.assignee ? (c.assignee === me ? 'me' : c.assignee) : ''),
        h('td', { 'data-label': 'To' }, env.to || (env.toGroup ? `group ${enumLabel(env.toGroup.kind, 'SERVICE_KIND_')} under ${env.toGroup.prefix}` : '')));
    })));
}

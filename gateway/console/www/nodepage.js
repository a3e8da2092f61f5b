// nodepage.js -- the Node page: this node, its peers and their state,
// outboxes, held messages, mirror state, and a chart of message and case
// rates over the last hour (counted by the node: see rates.js).
import { node, sw } from './api.js';
import { h, clear, num, span, status, table, fields } from './dom.js';
import { watch } from './live.js';
import { rates } from './rates.js';
import { chart } from './chart.js';

export async function render(main) {
  const st = h('p', { class: 'status', role: 'status', 'aria-live': 'polite' });
  const view = h('div');
  clear(main, h('h1', {}, 'Node'), st, view);

  const load = async () => {
    let info, q;
    try {
      [info, q] = await Promise.all([node('Info', {}), sw('Queues', {})]);
    } catch (e) {
      status(st, `Could not ask the node: ${e.message}`, true);
      return;
    }
    rates.take(info);
    status(st, `Updated ${new Date().toLocaleTimeString()}.`);
    const outboxes = new Map((q.outboxes || []).map((o) => [o.name, o]));
    clear(view,
      h('section', { 'aria-labelledby': 'h-node' }, h('h2', { id: 'h-node' }, `${info.region} in ${info.federation}`),
        fields([['Version', info.version], ['Up', span(num(info.uptimeSeconds) * 1000)],
          ['Boots', String(info.bootCount || 0)], ['Parent', info.parent || '(root)'],
          ['You', `${info.caller} (${info.callerRole})`]])),
      h('section', { 'aria-labelledby': 'h-rates' }, h('h2', { id: 'h-rates' }, 'Rates, last hour'),
        chart(rates.series(), rates.note())),
      h('section', { 'aria-labelledby': 'h-peers' }, h('h2', { id: 'h-peers' }, 'Peers'),
        table('Peers, their links and mirrors', [
          ['Region', (p) => p.region],
          ['Address', (p) => p.address],
          ['Link', (p) => h('span', { class: `link ${p.state}` }, p.state)],
          ['Outbox', (p) => String(p.outbox || 0)],
          ['Forwarded', (p) => String((outboxes.get(p.region) || {}).forwarded || 0)],
          ['Retry', (p) => { const o = outboxes.get(p.region) || {}; return o.retryAttempt ? `#${o.retryAttempt} in ${span(o.nextRetryMs)}` : ''; }],
          ['Last error', (p) => (outboxes.get(p.region) || {}).lastError || (outboxes.get(p.region) || {}).identityMismatch || ''],
          ['Mirror lag', (p) => (p.mirrorLagSeconds !== undefined ? span(num(p.mirrorLagSeconds) * 1000) : 'no mirror yet')],
        ], info.peers || [], 'No peers configured.')),
      h('section', { 'aria-labelledby': 'h-held' }, h('h2', { id: 'h-held' }, 'Held messages'),
        queueTable('Messages held for suspended registrars', q.held || [])),
      h('section', { 'aria-labelledby': 'h-mbox' }, h('h2', { id: 'h-mbox' }, 'Mailboxes'),
        queueTable('Registrar mailboxes', q.mailboxes || [])));
  };
  await load();
  watch(load);
}

function queueTable(caption, rows) {
  return table(caption, [
    ['Name', (x) => x.name],
    ['Messages', (x) => String(x.count || 0)],
    ['Fetched, unacknowledged', (x) => String(x.inFlight || 0)],
    ['Oldest waited', (x) => (num(x.oldestAgeMs) ? span(x.oldestAgeMs) : '')],
  ], rows, 'None.');
}

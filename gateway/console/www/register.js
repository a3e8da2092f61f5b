// register.js -- the Register page: registrars with their standing, the
// delegations as a tree of prefixes, published services; suspend,
// reactivate, revoke and re-home, each with a reason.
import { registry, whoami } from './api.js';
import { h, clear, when, status, table } from './dom.js';
import { standingLabel, serviceKindLabel } from './labels.js';
import { ask } from './dialog.js';
import { prefixTree } from './tree.js';

const PAGE = 500;

export async function render(main) {
  const me = await whoami();
  const st = h('p', { class: 'status', role: 'status', 'aria-live': 'polite' });
  const view = h('div');
  clear(main, h('h1', {}, 'Register'), st, view);

  const load = async () => {
    let regs;
    try {
      const r = await registry('ListRegistrars', { page: { pageSize: PAGE } });
      regs = r.registrars || [];
      status(st, `${regs.length} registrar${regs.length === 1 ? '' : 's'}${r.page && r.page.nextPageToken ? ` (first ${PAGE})` : ''}; this node is ${me.region}.`);
    } catch (e) {
      status(st, `Could not list registrars: ${e.message}`, true);
      return;
    }
    clear(view,
      h('section', { 'aria-labelledby': 'h-regs' }, h('h2', { id: 'h-regs' }, 'Registrars'),
        table('Registrars and their standing', [
          ['Id', (r) => r.id],
          ['Name', (r) => r.displayName || ''],
          ['Standing', (r) => h('span', { class: `standing ${standingLabel(r.status)}` }, standingLabel(r.status))],
          ['Why', (r) => r.statusReason || ''],
          ['Prefixes', (r) => (r.prefixes || []).join(', ')],
          ['Region', (r) => r.region || ''],
          ['Successor', (r) => r.successorId || ''],
          ['Updated', (r) => when(r.updatedMs)],
          ['Actions', (r) => (r.region && r.region !== me.region) ? 'mirrored' : actions(r, regs, st, load)],
        ], regs, 'No registrars.', (r) => ({ 'data-registrar': r.id }))),
      h('section', { 'aria-labelledby': 'h-tree' }, h('h2', { id: 'h-tree' }, 'Delegations'), prefixTree(regs)),
      h('section', { 'aria-labelledby': 'h-svc' }, h('h2', { id: 'h-svc' }, 'Services'),
        table('Published services', [
          ['Registrar', (s) => s.reg],
          ['Name', (s) => s.name],
          ['Kind', (s) => serviceKindLabel(s.kind)],
          ['Address', (s) => s.address || ''],
          ['Message types', (s) => (s.messageTypes || []).join(', ')],
          ['Purposes', (s) => (s.purposes || []).join(', ')],
          ['Endpoint', (s) => s.endpoint || ''],
        ], regs.flatMap((r) => (r.services || []).map((s) => ({ ...s, reg: r.id }))), 'No services published.')));
  };
  await load();
}

function actions(r, regs, st, reload) {
  const setStatus = (label, to) => async () => {
    const v = await ask(`${label} ${r.id}`, [{ name: 'reason', label: 'Reason', required: true, multiline: true }], label);
    if (!v) return;
    try {
      await registry('SetStatus', { registrarId: r.id, status: to, reason: v.reason, expectedVersion: r.version || '0' });
      status(st, `${label} ${r.id}: done.`);
    } catch (e) {
      status(st, `${label} ${r.id} refused: ${e.message}`, true);
    }
    await reload();
  };
  const rehome = async () => {
    const v = await ask(`Re-home the prefixes of ${r.id}`, [
      { name: 'to', label: `Successor registrar id (active; e.g. ${regs.filter((x) => x.status === 'REGISTRAR_STATUS_ACTIVE').map((x) => x.id).slice(0, 3).join(', ')})`, required: true },
      { name: 'prefixes', label: 'Prefixes, space-separated (empty: all)' },
      { name: 'reason', label: 'Reason', required: true, multiline: true }], 'Re-home');
    if (!v) return;
    try {
      const res = await registry('ReHome', { fromRegistrarId: r.id, toRegistrarId: v.to,
        prefixes: v.prefixes ? v.prefixes.split(/\s+/) : [], reason: v.reason });
      status(st, `Re-homed ${r.id} to ${v.to}; ${res.released || 0} messages released.`);
    } catch (e) {
      status(st, `Re-home of ${r.id} refused: ${e.message}`, true);
    }
    await reload();
  };
  const s = r.status;
  const b = (label, on) => h('button', { type: 'button', onclick: on, 'aria-label': `${label} ${r.id}` }, label);
  return h('div', { class: 'row-actions' },
    s === 'REGISTRAR_STATUS_ACTIVE' || s === 'REGISTRAR_STATUS_PENDING' ? b('Suspend', setStatus('Suspend', 'REGISTRAR_STATUS_SUSPENDED')) : null,
    s !== 'REGISTRAR_STATUS_ACTIVE' && s !== 'REGISTRAR_STATUS_REVOKED' ? b('Reactivate', setStatus('Reactivate', 'REGISTRAR_STATUS_ACTIVE')) : null,
    s !== 'REGISTRAR_STATUS_REVOKED' ? b('Revoke', setStatus('Revoke', 'REGISTRAR_STATUS_REVOKED')) : null,
    s === 'REGISTRAR_STATUS_REVOKED' && (r.prefixes || []).length ? b('Re-home…', rehome) : null);
}

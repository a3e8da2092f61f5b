// case.js -- the Case page: the envelope's header fields, the history as a
// timeline with the audit chain's verification, and every action axlectl
// has, each asking for its reason. The payload is shown only when asked for,
// with a reason, and the node records that view in the case's history.
import { recourse, whoami } from './api.js';
import { h, clear, num, when, span, hexOf, fields, status, enumLabel } from './dom.js';
import { reasonLabel, stateLabel, actionLabel } from './labels.js';
import { ask } from './dialog.js';
import { lookupField } from './lookup.js';
import { watch } from './live.js';

export async function render(main, id) {
  const me = await whoami();
  const st = h('p', { class: 'status', role: 'status', 'aria-live': 'polite' });
  const view = h('div');
  clear(main, h('p', {}, h('a', { href: '#/queue' }, '← Queue')), h('h1', {}, `Case ${id}`), st, view);
  let payload = null; // the last payload asked for, kept while the page is open

  const act = async (what, fn) => {
    try {
      const r = await fn();
      status(st, `${what}: done.`);
      return r;
    } catch (e) {
      status(st, `${what} refused: ${e.message}`, true);
      return null;
    }
  };

  // What is on screen: the case's version, and whether the payload shown
  // changed since. A redraw happens only when either changed, and loads run
  // one after another (a live event and an action's reload never both
  // redraw under the admin's pointer).
  let shown = null, payloadDirty = false, queue = Promise.resolve();
  const loadOnce = async () => {
    let c, audit;
    try {
      c = (await recourse('Show', { id })).record;
    } catch (e) {
      status(st, `Could not load the case: ${e.message}`, true);
      return;
    }
    if (!payloadDirty && shown === String(c.version)) return;
    shown = String(c.version);
    payloadDirty = false;
    try { audit = await recourse('VerifyAudit', {}); } catch (e) { audit = { error: e.message }; }
    clear(view, actions(c), header(c), payloadBlock(c), timeline(c, audit));
  };
  const load = () => (queue = queue.then(loadOnce));

  const actions = (c) => {
    const open = c.state === 'CASE_STATE_OPEN' || c.state === 'CASE_STATE_CLAIMED';
    const mine = c.state === 'CASE_STATE_CLAIMED' && c.assignee === me.caller;
    const b = (label, on, enabled) => h('button', { type: 'button', onclick: on, disabled: !enabled }, label);
    const done = async (what, fn) => { if (await act(what, fn)) await load(); };
    const reasoned = (title, method, required, extra) => async () => {
      const v = await ask(title, [{ name: 'reason', label: 'Reason', required, multiline: true }]);
      if (v) await done(title, () => recourse(method, { id, reason: v.reason, ...(extra || {}) }));
    };
    return h('div', { class: 'actions', role: 'toolbar', 'aria-label': 'Case actions' },
      b('Claim', async () => {
        const v = await ask(`Claim case ${id}`, [{ name: 'reason', label: 'Reason (added as a note)', multiline: true }], 'Claim');
        if (!v) return;
        await done('Claim', async () => {
          const r = await recourse('Claim', { id, expectedVersion: c.version || '0' });
          if (v.reason) await recourse('Annotate', { id, note: v.reason });
          return r;
        });
      }, c.state === 'CASE_STATE_OPEN'),
      b('Release', reasoned('Release the claim', 'Release', false), mine),
      b('Annotate', async () => {
        const v = await ask('Add a note', [{ name: 'note', label: 'Note', required: true, multiline: true }], 'Add note');
        if (v) await done('Annotate', () => recourse('Annotate', { id, note: v.note }));
      }, true),
      b('Redirect…', async () => {
        const v = await ask('Redirect to a corrected address', [
          { name: 'to', label: 'Address', required: true, value: (c.envelope || {}).to || '', extra: lookupField() },
          { name: 'reason', label: 'Reason', required: true, multiline: true }], 'Redirect', (inp) => setTimeout(() => inp.to.dispatchEvent(new Event('input')), 0));
        if (v) await done('Redirect', () => recourse('Redirect', { id, to: v.to, reason: v.reason }));
      }, open),
      b('Return to sender', reasoned('Return to its sender', 'ReturnToSender', true), open),
      b('Discard', reasoned('Discard the message', 'Discard', true), open),
      b('Escalate', reasoned('Escalate to the parent', 'Escalate', true), open));
  };

  const payloadBlock = (c) => {
    const size = num(c.payloadBytes);
    const out = h('div', { class: 'payload', id: 'payload' },
      h('h2', {}, 'Payload'),
      h('p', {}, `${size} bytes, ${(c.envelope || {}).contentType || 'no content type'}. Hidden: viewing it is recorded in the history with your identity and reason.`),
      h('button', { type: 'button', onclick: async () => {
        const v = await ask('Show the payload', [{ name: 'reason', label: 'Why you need to see it', required: true, multiline: true }], 'Show payload');
        if (!v) return;
        const r = await act('Show payload', () => recourse('Show', { id, withPayload: true, reason: v.reason }));
        if (!r) return;
        payload = r.record.envelope.payload || '';
        payloadDirty = true;
        await load();
      } }, 'Show payload…'));
    if (payload !== null) out.append(payloadView(payload));
    return out;
  };

  await load();
  watch(load);
}

function payloadView(b64) {
  const bin = atob(b64);
  const bytes = Uint8Array.from(bin, (ch) => ch.charCodeAt(0));
  let text = null;
  try { text = new TextDecoder('utf-8', { fatal: true }).decode(bytes); } catch (e) { text = null; }
  return h('pre', { class: 'payload-bytes', tabindex: 0, 'aria-label': 'Payload' },
    text !== null ? text : hexOf(b64));
}

function header(c) {
  const e = c.envelope || {};
  const now = Date.now();
  const left = num(c.deadlineMs) - now;
  const to = e.to || (e.toGroup ? `group ${enumLabel(e.toGroup.kind, 'SERVICE_KIND_')} under ${e.toGroup.prefix}` : '');
  return h('section', { 'aria-labelledby': 'h-env' },
    h('h2', { id: 'h-env' }, 'Case and envelope'),
    fields([
      ['State', stateLabel(c.state) + (c.outcome && c.outcome !== 'CASE_ACTION_KIND_UNSPECIFIED' ? ` (${actionLabel(c.outcome)})` : '')],
      ['Reason', reasonLabel(c.reason)],
      ['Detail', c.detail || ''],
      ['Holder', c.assignee || ''],
      ['Origin', c.originNode || ''],
      ['Opened', `${when(c.openedMs)} (${span(now - num(c.openedMs))} ago)`],
      ['Deadline', num(c.deadlineMs) ? `${when(c.deadlineMs)} (${left < 0 ? 'overdue ' + span(-left) : span(left) + ' left'})` : ''],
      ['Escalated to', c.escalatedTo || c.escalatingTo || ''],
      ['Path', (c.path || []).join(' → ')],
      ['Version', String(c.version || 0)],
      ['Message id', hexOf(e.messageId)],
      ['From', e.sender || ''],
      ['To', to],
      ['Message type', e.messageType || ''],
      ['Context', e.context || ''],
      ['Created', when(e.createdMs)],
      ['Deliver by', when(e.deliverByMs)],
      ['Reply by', when(e.replyByMs)],
      ['Hop limit', e.hopLimit ? String(e.hopLimit) : ''],
      ['Failure policy', enumLabel(e.failurePolicy || 'FAILURE_POLICY_ESCALATE', 'FAILURE_POLICY_')],
      ['Trace', (e.trace || []).map((t) => `${t.region} ${when(t.atMs)}${t.redirectCase ? ' (redirected from ' + t.redirectCase + ')' : ''}`).join(' → ')],
    ]));
}

function timeline(c, audit) {
  let verdict;
  if (audit.error) verdict = h('p', { class: 'audit unknown' }, `Audit chain not checked: ${audit.error}`);
  else if (audit.ok) verdict = h('p', { class: 'audit ok', id: 'audit' }, `✔ Audit chain verified: ${num(audit.entries)} entries check out.`);
  else verdict = h('p', { class: 'audit bad', id: 'audit' }, `✘ Audit chain broken at ${audit.firstBad}: ${audit.detail}`);
  return h('section', { 'aria-labelledby': 'h-hist' },
    h('h2', { id: 'h-hist' }, 'History'), verdict,
    h('ol', { class: 'timeline', id: 'history' }, (c.history || []).map((a) =>
      h('li', { 'data-kind': a.kind },
        h('span', { class: 'kind' }, actionLabel(a.kind)),
        h('time', { datetime: new Date(num(a.atMs)).toISOString() }, when(a.atMs)),
        h('span', { class: 'actor' }, a.actor || ''),
        a.node ? h('span', { class: 'node' }, `at ${a.node}`) : null,
        a.redirectTo ? h('span', { class: 'to' }, `to ${a.redirectTo}`) : null,
        a.reason ? h('p', { class: 'reason' }, a.reason) : null))));
}

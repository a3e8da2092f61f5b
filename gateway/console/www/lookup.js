// lookup.js -- address lookup against the register for the redirect dialog:
// as the admin types, Registry.Resolve says who (if anyone) serves it.
import { registry } from './api.js';
import { h } from './dom.js';
import { outcomeLabel, standingLabel } from './labels.js';

// An output element that follows the address input placed before it.
export function lookupField() {
  const out = h('output', { class: 'lookup', 'aria-live': 'polite' });
  let timer = null, asked = 0;
  const resolve = async (addr) => {
    const mine = ++asked;
    if (!addr) { out.textContent = ''; return; }
    try {
      const r = await registry('Resolve', { address: addr });
      if (mine !== asked) return;
      const reg = r.registrar;
      out.className = r.outcome === 'RESOLVE_OUTCOME_MATCHED' && reg && reg.status === 'REGISTRAR_STATUS_ACTIVE'
        ? 'lookup ok' : 'lookup warn';
      out.textContent = reg
        ? `${outcomeLabel(r.outcome)}: ${reg.displayName || reg.id} (${standingLabel(reg.status)}), prefix ${r.matchedPrefix}`
        : `${outcomeLabel(r.outcome)}: nobody serves it${r.servingNode ? '; node ' + r.servingNode + ' would open a case' : ''}`;
    } catch (e) {
      if (mine === asked) { out.className = 'lookup warn'; out.textContent = e.message; }
    }
  };
  // Wire to the input once the dialog has placed us after it.
  queueMicrotask(() => {
    const input = out.parentElement && out.parentElement.querySelector('input');
    if (!input) return;
    input.addEventListener('input', () => {
      clearTimeout(timer);
      timer = setTimeout(() => resolve(input.value.trim()), 250);
    });
  });
  return out;
}

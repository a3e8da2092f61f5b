// dialog.js -- asks the admin for an action's reason (and any other fields)
// in a modal <dialog>: keyboard-usable (Esc cancels, Enter in a field
// submits), every field labelled. Resolves to the values, or null.
import { h } from './dom.js';

let seq = 0;

// fields: [{name, label, required, multiline, value, extra: element}]
// setup(inputs), if given, runs once the dialog is open (e.g. to wire a lookup).
export function ask(title, fields, confirmLabel, setup) {
  return new Promise((resolve) => {
    const inputs = {};
    const rows = fields.map((f) => {
      const id = `dlg-${++seq}`;
      const input = f.multiline
        ? h('textarea', { id, name: f.name, rows: 3, required: f.required })
        : h('input', { id, name: f.name, type: 'text', required: f.required, autocomplete: 'off' });
      input.value = f.value || '';
      inputs[f.name] = input;
      return h('div', { class: 'field' },
        h('label', { for: id }, f.label + (f.required ? ' (required)' : '')), input, f.extra || null);
    });
    const dlg = h('dialog', { 'aria-label': title },
      h('form', { method: 'dialog' },
        h('h2', {}, title), rows,
        h('div', { class: 'buttons' },
          h('button', { type: 'submit', value: 'ok', class: 'primary' }, confirmLabel || 'Confirm'),
          h('button', { type: 'button', value: 'cancel', onclick: () => dlg.close('cancel') }, 'Cancel'))));
    dlg.addEventListener('close', () => {
      const ok = dlg.returnValue === 'ok';
      const out = {};
      for (const [k, el] of Object.entries(inputs)) out[k] = el.value.trim();
      dlg.remove();
      resolve(ok ? out : null);
    });
    document.body.append(dlg);
    dlg.showModal();
    const first = Object.values(inputs)[0];
    if (first) first.focus();
    if (setup) setup(inputs);
  });
}

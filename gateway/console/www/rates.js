// rates.js -- message and case rates over the last hour, as the node counts
// them: Node.Info gives admins counts per minute for the last hour (oldest
// first, the minute in progress last), kept by the node whether or not a
// console is open. The chart shows messages accepted and cases opened.
import { num } from './dom.js';

class Rates {
  constructor() {
    this.minutes = [];
  }

  // info: a Node.Info answer (proto3 JSON: rates[].minuteMs, accepted, forwarded, casesOpened).
  take(info) {
    this.minutes = (info.rates || []).map((m) => ({
      at: num(m.minuteMs), accepted: num(m.accepted), forwarded: num(m.forwarded),
      opened: num(m.casesOpened),
    }));
  }

  // Per-minute rates for the chart; the minute in progress scaled to a full minute.
  series() {
    const out = { messages: [], cases: [] };
    const now = Date.now();
    for (const m of this.minutes) {
      const mins = Math.max(1 / 60, Math.min(1, (now - m.at) / 60000));
      out.messages.push({ at: m.at, v: m.accepted / mins });
      out.cases.push({ at: m.at, v: m.opened / mins });
    }
    return out;
  }

  note() {
    const total = this.minutes.reduce((a, m) => a + m.accepted, 0);
    const cases = this.minutes.reduce((a, m) => a + m.opened, 0);
    const fwd = this.minutes.reduce((a, m) => a + m.forwarded, 0);
    return `Per minute over the last hour, as the node counts them: ${total} messages accepted ` +
      `(${fwd} forwarded to peers) and ${cases} cases opened here.`;
  }
}

export const rates = new Rates();

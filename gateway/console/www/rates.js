// rates.js -- message and case rates over the last hour. No RPC gives
// rates, so the page samples counters it can read and keeps a bounded ring:
// messages forwarded to peers (sum of the outboxes' counters since the node
// started) and cases opened (new case ids seen in the open queue). The
// chart covers the time since the page was opened, at most one hour.
import { recourse } from './api.js';
import { num } from './dom.js';

const HOUR_MS = 3600 * 1000;
const EVERY_MS = 10000;   // at most one sample per 10 s, however often the page refreshes
const MAX_SAMPLES = 361; // one hour of them
const MAX_IDS = 5000;    // case ids remembered to spot new ones

class Rates {
  constructor() {
    this.samples = []; // {at, forwarded, opened}
    this.seen = new Set();
    this.opened = 0;
    this.started = Date.now();
  }

  async sample(queues) {
    const last = this.samples[this.samples.length - 1];
    if (last && Date.now() - last.at < EVERY_MS) return;
    const forwarded = (queues.outboxes || []).reduce((a, o) => a + num(o.forwarded), 0);
    try {
      const r = await recourse('List', { page: { pageSize: 500 } });
      const first = this.seen.size === 0 && this.samples.length === 0;
      for (const c of r.cases || []) {
        if (this.seen.has(c.id)) continue;
        if (!first && num(c.openedMs) >= this.started) this.opened++;
        this.seen.add(c.id);
      }
      if (this.seen.size > MAX_IDS) this.seen = new Set([...this.seen].slice(-MAX_IDS / 2));
    } catch (e) { /* keep the message series going */ }
    const now = Date.now();
    this.samples.push({ at: now, forwarded, opened: this.opened });
    while (this.samples.length > MAX_SAMPLES || (this.samples.length && now - this.samples[0].at > HOUR_MS)) this.samples.shift();
  }

  // Per-minute rates between consecutive samples, for the chart.
  series() {
    const out = { messages: [], cases: [] };
    for (let i = 1; i < this.samples.length; i++) {
      const a = this.samples[i - 1], b = this.samples[i];
      const min = (b.at - a.at) / 60000;
      if (min <= 0) continue;
      out.messages.push({ at: b.at, v: Math.max(0, b.forwarded - a.forwarded) / min });
      out.cases.push({ at: b.at, v: Math.max(0, b.opened - a.opened) / min });
    }
    return out;
  }

  note() {
    const mins = Math.round((Date.now() - this.started) / 60000);
    return `Per minute, sampled by this page since it opened ${mins < 60 ? mins + ' min ago' : 'over an hour ago'}: messages forwarded to peers, and cases opened here.`;
  }
}

export const rates = new Rates();

// live.js -- keeps a page current without reload. The node pushes
// Server-Sent Events on /console/events (an event `change`, data
// {"what":"cases"}, when something the console shows changed); on each, the
// page refreshes what it shows. While the stream is down (it ends every few
// minutes and EventSource comes back; an older node has none) the page
// refreshes every POLL_MS instead, and every SLOW_MS anyway for its ages and
// deadlines. The header says which: "live" or "polling". Only one watcher
// runs: a new page stops the old one's.
const EVENTS_URL = '/console/events';
const POLL_MS = 3000;
const SLOW_MS = 30000;

let current = null;
let src = null;
let connected = false;

function indicator() {
  const el = document.getElementById('live');
  if (!el) return;
  el.textContent = connected ? 'live' : 'polling';
  el.className = connected ? 'live on' : 'live off';
}

// One stream for the whole page's life, shared by the pages.
function stream() {
  if (src || typeof EventSource !== 'function') return;
  src = new EventSource(EVENTS_URL);
  src.addEventListener('open', () => { connected = true; indicator(); });
  src.addEventListener('error', () => { connected = false; indicator(); });
  src.addEventListener('change', () => { if (current) current.run(); });
}

export function watch(refresh) {
  stop();
  stream();
  indicator();
  const w = { timer: null, busy: false, again: false, last: Date.now() };
  w.run = async () => {
    if (w.busy) { w.again = true; return; }
    w.busy = true;
    try { await refresh(); } catch (e) { /* the page shows its own errors */ }
    w.busy = false;
    w.last = Date.now();
    if (w.again && current === w) { w.again = false; w.run(); }
  };
  w.timer = setInterval(() => {
    if (document.hidden) return;
    if (!connected || Date.now() - w.last >= SLOW_MS) w.run();
  }, POLL_MS);
  current = w;
}

export function stop() {
  if (!current) return;
  clearInterval(current.timer);
  current = null;
}

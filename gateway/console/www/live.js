// live.js -- keeps a page current without reload. The node pushes a small
// "something changed" event stream (CHANGE_URL, Server-Sent Events); on each
// event, and every POLL_MS as a fallback while the stream is down, the page
// refreshes what it shows. Only one watcher runs: a new page stops the old.
export const CHANGE_URL = '/console/events';
const POLL_MS = 5000;

let current = null;

export function watch(refresh) {
  stop();
  const w = { refresh, timer: null, src: null, busy: false, again: false };
  const run = async () => {
    if (w.busy) { w.again = true; return; }
    w.busy = true;
    try { await w.refresh(); } catch (e) { /* the page shows its own errors */ }
    w.busy = false;
    if (w.again && current === w) { w.again = false; run(); }
  };
  if (typeof EventSource === 'function') {
    w.src = new EventSource(CHANGE_URL);
    w.src.addEventListener('message', run);
    w.src.addEventListener('change', run);
  }
  w.timer = setInterval(run, POLL_MS);
  current = w;
}

export function stop() {
  if (!current) return;
  clearInterval(current.timer);
  if (current.src) current.src.close();
  current = null;
}

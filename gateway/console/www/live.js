// live.js -- keeps a page current without reload: the page's refresh runs
// every POLL_MS while the page is open (one bounded call per page: a list
// page asks for at most one page of 500). The node has no change stream
// for the console yet; when it has, it slots in here. Only one watcher runs:
// a new page stops the old one's.
const POLL_MS = 3000;

let current = null;

export function watch(refresh) {
  stop();
  const w = { timer: null, busy: false };
  const run = async () => {
    if (w.busy || document.hidden) return;
    w.busy = true;
    try { await refresh(); } catch (e) { /* the page shows its own errors */ }
    w.busy = false;
  };
  w.timer = setInterval(run, POLL_MS);
  current = w;
}

export function stop() {
  if (!current) return;
  clearInterval(current.timer);
  current = null;
}

"""test_stop_under_load.py -- SIGTERM while the writer has work queued: every stop exits 0
(an ASan/UBSan build also checks nothing is touched after it was freed), and every Send
the node acknowledged reaches its recipient exactly once after the restarts.

Three real nodes (uk.london -> uk -> uk.westyorks). Hubs at both leaves send to each
other from several threads (so writes queue behind the writer's fsync), a hub at
uk.westyorks fetches and acknowledges all the time, and one node at a time, chosen at
random, gets SIGTERM and is started again. Bounded: STOPS stops, each after 0.2-1.5 s
of load.

Regression: the switch was freed before the store's writer had run the writes queued
behind it, and the writer then ran a switch write against the freed switch (UBSan:
"member access within null pointer of type 'struct sw_switch'" in gw_switch.c; a SIGSEGV
in a plain build).
"""

import os
import random
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import axletest as at  # noqa: E402
from axletest import check, main, test  # noqa: E402
from switchtest import Fed  # noqa: E402

LON_HUB = 'uk.london.hub'
WY_HUB = 'uk.westyorks.hub'
STOPS = 12
SENDERS = 3			# per direction
_env = {}


@at.shared_env(_env)
def env():
    f = Fed(prefix='axle-stopload-')
    for r in ('uk.london', 'uk.westyorks'):
        f.wait_registry(r)
    f.registrar('uk.london', 'lon-hub', LON_HUB, 'axle://fame-test/member/%s' % LON_HUB)
    f.registrar('uk.westyorks', 'wy-hub', WY_HUB, 'axle://fame-test/member/%s' % WY_HUB)
    _env.update(f=f)


class Load:
    """Senders in both directions and a fetcher at uk.london, until stop()."""

    def __init__(self, f):
        self.f = f
        self.done = threading.Event()
        self.lock = threading.Lock()
        self.acked = []			# ids the node acknowledged (Send returned a receipt)
        self.threads = [threading.Thread(target=self.sender, daemon=True)
                        for _ in range(SENDERS)]
        self.threads += [threading.Thread(target=self.sender_back, daemon=True)
                         for _ in range(SENDERS)]
        self.threads.append(threading.Thread(target=self.fetcher, daemon=True))
        for t in self.threads:
            t.start()

    def _loop(self, region, step):
        hub = self.f.hub(region, self.f.fed.member(region))
        while not self.done.is_set():
            try:
                step(hub)
            except Exception:		# the node is stopping or starting: try again
                time.sleep(0.05)
                try:
                    hub.reopen()
                except Exception:
                    pass
        hub.close()

    def sender(self):
        def step(hub):
            env = hub.envelope(LON_HUB, to=WY_HUB, payload=os.urandom(256))
            hub.send(env, timeout=5)
            with self.lock:
                self.acked.append(env.message_id)
        self._loop('uk.london', step)

    def sender_back(self):
        self._loop('uk.westyorks', lambda hub: hub.send(
            hub.envelope(WY_HUB, to=LON_HUB, payload=os.urandom(256)), timeout=5))

    def fetcher(self):
        """Fetches and acknowledges at uk.london (messages from uk.westyorks) with a long
        poll, so that stops also meet parked fetches; uk.westyorks's mailbox, which the
        test counts, is drained once at the end, with no node stopping under it."""
        def step(hub):
            ds = hub.fetch(max_messages=200, wait_ms=1000, timeout=5)
            if ds:
                hub.ack([d.envelope.message_id for d in ds])
        self._loop('uk.london', step)

    def stop(self):
        self.done.set()
        for t in self.threads:
            t.join(30)


@test(timeout=600)
def sigterm_under_load_exits_cleanly_and_loses_nothing():
    e = env()
    f = e['f']
    rnd = random.Random(int(os.environ.get('AXLE_SEED', '0')) or None)
    load = Load(f)
    try:
        for i in range(STOPS):
            time.sleep(rnd.uniform(0.2, 1.5))
            region = rnd.choice(('uk', 'uk.london', 'uk.westyorks'))
            f.nodes[region].stop(timeout=30)	# insists on exit 0, shows the log if not
            f.nodes[region].start()
            print('   stop %d: %s exited 0 and started again' % (i + 1, region))
    finally:
        load.stop()
    with load.lock:
        acked = list(load.acked)
    check(len(acked) >= STOPS, 'too little load to mean anything: %d sends' % len(acked))
    wy = f.hub('uk.westyorks', f.fed.member('uk.westyorks'))
    want, got = set(acked), []

    def drained():
        ds = wy.fetch(max_messages=500, wait_ms=500)
        if ds:				# receipts of its own sends too, so they do not pile up
            wy.ack([d.envelope.message_id for d in ds])
            got.extend(d.envelope.message_id for d in ds if not wy.is_receipt(d))
        return want <= set(got)
    at.wait_for(drained, 120, interval=0.1, what='every acknowledged message at uk.westyorks '
                '(%d sent)' % len(want))
    drained()				# and anything doubled behind them
    doubled = [m.hex() for m in want if got.count(m) > 1]
    check(not doubled, '%d messages delivered twice, e.g. %s' % (len(doubled), doubled[:3]))
    print('   %d acknowledged sends, all delivered once across %d stops' % (len(acked), STOPS))


def after_failure(name):
    if 'f' in _env:
        _env['f'].log_tails(20)


if __name__ == '__main__':
    main(after_failure)

"""test_switch_sweep_crash.py -- kill -9 during the retention sweep (issue 14): with a short
[switch] record_retention_ms, hubs at uk.london send N messages to a hub at uk.westyorks
(relayed by uk) while every node is SIGKILLed and restarted in turn, so that the sweep of
the forwarded records at london and uk runs into the kills. At the end every acknowledged
message is in the recipient's mailbox exactly once (marks were not swept early: a
re-forward after a crash is still a duplicate), the mailbox's counter says exactly N (the
counters survived the crashes with their queues), and the sweep finished: uk, which only
relays, keeps no record, and london keeps only the receipts waiting in its hub's mailbox.
Bounded: N sends, K kills, every wait has a deadline.
"""

import os
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import axletest as at  # noqa: E402
from axletest import check, main, test, wait_for  # noqa: E402
from switchtest import FED, Fed, Sender, fetch_all, killer, new_id  # noqa: E402

SCALE = at.hardening_scale()
N = int(os.environ.get('AXLE_CRASH_N', str(200 * SCALE)))
THREADS = 6
PACE = 6.0 * SCALE * THREADS / N    # about 6 s of sending per unit of scale
KILLS = int(os.environ.get('AXLE_CRASH_KILLS', str(6 * SCALE)))
LON, WY, UK = 'uk.london', 'uk.westyorks', 'uk'
LON_HUB, WY_HUB = LON + '.hub', WY + '.hub'
RECORD_MS = 1500
DEDUP_MS = 120000	# and default_deliver_by_ms: kills must not expire anything
_env = {}


def env():
    if 'f' not in _env:
        f = Fed(prefix='axle-sweepcrash-', node_extra=(
            '\n[switch]\nrecord_retention_ms = %d\ndedup_retention_ms = %d\n'
            'default_deliver_by_ms = %d\n' % (RECORD_MS, DEDUP_MS, DEDUP_MS)))
        for r in (LON, WY):
            f.wait_registry(r)
        f.registrar(LON, 'lon-hub', LON_HUB, 'axle://%s/member/%s' % (FED, LON_HUB))
        f.registrar(WY, 'wy-hub', WY_HUB, 'axle://%s/member/%s' % (FED, WY_HUB))
        _env['f'] = f
    return _env['f']


def records(f, region):
    return f.nodes[region].metrics(f.fed.admin(region)).get('axle_switch_records')


def mailbox(f, region, name):
    mb = [m for m in f.admin_switch(region).queues().mailboxes if m.name == name]
    return mb[0].count if mb else 0


@test(timeout=300 * SCALE)
def kill_9_during_the_sweep_loses_nothing_and_sweeps_nothing_early():
    f = env()
    ids = [new_id() for _ in range(N)]
    acked, lock = set(), threading.Lock()
    stop_at = time.monotonic() + 120 * SCALE
    senders = [Sender(f, ids[k::THREADS], acked, lock, stop_at, LON, LON_HUB, WY_HUB, PACE)
               for k in range(THREADS)]
    stop, kills = threading.Event(), []
    victims = ([UK, LON, WY] * KILLS)[:KILLS]
    k = threading.Thread(target=killer, args=(f, stop, kills, victims), daemon=True)
    for s in senders:
        s.start()
    k.start()
    for s in senders:
        s.join(150 * SCALE)
    k.join(90 * SCALE)
    stop.set()
    for r in f.nodes.values():
        if not r.alive():
            r.start(timeout=20)
    check(len(kills) >= 3, 'only %d kills happened' % len(kills))
    check(len(acked) == N, '%d of %d sends acknowledged in time' % (len(acked), N))

    def arrived():
        q = {o.name: o.count for o in f.admin_switch(UK).queues().outboxes}
        lq = {o.name: o.count for o in f.admin_switch(LON).queues().outboxes}
        return q.get(WY, 0) == 0 and lq.get(UK, 0) == 0 and mailbox(f, WY, 'wy-hub') >= N
    wait_for(arrived, 90, interval=0.3, what='every message at westyorks, outboxes empty')
    check(mailbox(f, WY, 'wy-hub') == N, 'westyorks counts %d in the mailbox, %d were sent'
          % (mailbox(f, WY, 'wy-hub'), N))
    counts = fetch_all(f.hub(WY, f.fed.member(WY)))
    missing = [m.hex() for m in acked if m not in counts]
    twice = [m.hex() for m, c in counts.items() if c != 1]
    check(not missing, '%d acknowledged messages missing, e.g. %s' % (len(missing), missing[:3]))
    check(not twice, '%d messages delivered more than once: %s' % (len(twice), twice[:3]))
    check(set(counts) <= set(ids), 'unexpected messages')
    # The sweep resumed after every crash and finished.
    wait_for(lambda: records(f, UK) == 0, 60, interval=0.5,
             what='uk keeps no record (%s left)' % records(f, UK))
    wait_for(lambda: records(f, LON) == mailbox(f, LON, 'lon-hub'), 60, interval=0.5,
             what='london keeps only its hub\'s receipts (%s records, %s in the mailbox)' % (
                 records(f, LON), mailbox(f, LON, 'lon-hub')))
    print('kills: %s; send retries: %d' % (' '.join(kills), sum(s.errors for s in senders)))


def after_failure(name):
    if 'f' in _env:
        _env['f'].log_tails(40)


if __name__ == '__main__':
    main(after_failure)

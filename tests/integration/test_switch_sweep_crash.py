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

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import axletest as at  # noqa: E402
from axletest import check, main, test, wait_for  # noqa: E402
from switchtest import FED, Fed, arrived_exactly_once, kill_loop, new_id  # noqa: E402

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
    victims = ([UK, LON, WY] * KILLS)[:KILLS]
    acked, kills, retries = kill_loop(f, ids, victims, PACE, THREADS, SCALE)
    n = arrived_exactly_once(f, ids, acked)
    check(n == N, 'westyorks counts %d in the mailbox, %d were sent' % (n, N))
    # The sweep resumed after every crash and finished.
    wait_for(lambda: records(f, UK) == 0, 60, interval=0.5,
             what='uk keeps no record (%s left)' % records(f, UK))
    wait_for(lambda: records(f, LON) == mailbox(f, LON, 'lon-hub'), 60, interval=0.5,
             what='london keeps only its hub\'s receipts (%s records, %s in the mailbox)' % (
                 records(f, LON), mailbox(f, LON, 'lon-hub')))
    print('kills: %s; send retries: %d' % (' '.join(kills), retries))


def after_failure(name):
    if 'f' in _env:
        _env['f'].log_tails(40)


if __name__ == '__main__':
    main(after_failure)

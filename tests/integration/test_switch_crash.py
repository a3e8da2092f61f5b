"""test_switch_crash.py -- kill -9 under load: hubs at uk.london send N messages to a hub
at uk.westyorks (relayed by uk) from several threads while the relaying node (uk) and the
receiving node (uk.westyorks) -- and once the accepting node itself -- are SIGKILLed and
restarted several times. At the end every message whose Send was acknowledged is in the
recipient's mailbox exactly once (fetched without acknowledging, ids counted), nothing is
delivered twice, and every outbox is empty. Bounded: N sends, K kills, every wait has a
deadline.
"""

import os
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import axletest as at  # noqa: E402
from axletest import check, main, test, wait_for  # noqa: E402
from switchtest import Fed, Sender, fetch_all, killer, new_id  # noqa: E402

SCALE = at.hardening_scale()
N = int(os.environ.get('AXLE_CRASH_N', str(300 * SCALE)))
THREADS = 8
PACE = 6.0 * SCALE * THREADS / N    # about 6 s of sending per unit of scale
KILLS = int(os.environ.get('AXLE_CRASH_KILLS', str(7 * SCALE)))
LON_HUB = 'uk.london.hub'
WY_HUB = 'uk.westyorks.hub'
_env = {}


def env():
    if 'f' not in _env:
        f = Fed(prefix='axle-swcrash-')
        for r in ('uk.london', 'uk.westyorks'):
            f.wait_registry(r)
        f.registrar('uk.london', 'lon-hub', LON_HUB, 'axle://fame-test/member/' + LON_HUB)
        f.registrar('uk.westyorks', 'wy-hub', WY_HUB, 'axle://fame-test/member/' + WY_HUB)
        _env['f'] = f
    return _env['f']


@test(timeout=300 * SCALE)
def acknowledged_messages_survive_kill_9_exactly_once():
    f = env()
    ids = [new_id() for _ in range(N)]
    acked, lock = set(), threading.Lock()
    stop_at = time.monotonic() + 120 * SCALE
    senders = [Sender(f, ids[k::THREADS], acked, lock, stop_at, 'uk.london', LON_HUB, WY_HUB,
                      PACE) for k in range(THREADS)]
    stop, kills = threading.Event(), []
    victims = (['uk', 'uk.westyorks'] * KILLS)[:KILLS - 1] + ['uk.london']
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
    wy = f.hub('uk.westyorks', f.fed.member('uk.westyorks'))
    admin = f.admin_switch('uk')

    def arrived():
        q = {o.name: o.count for o in admin.queues().outboxes}
        lq = {o.name: o.count for o in f.admin_switch('uk.london').queues().outboxes}
        mb = [m for m in f.admin_switch('uk.westyorks').queues().mailboxes if m.name == 'wy-hub']
        n = mb[0].count if mb else 0
        return q.get('uk.westyorks', 0) == 0 and lq.get('uk', 0) == 0 and n >= N
    wait_for(arrived, 90, interval=0.3, what='every message in the westyorks mailbox, outboxes empty')
    counts = fetch_all(wy)
    missing = [m.hex() for m in acked if m not in counts]
    twice = [m.hex() for m, c in counts.items() if c != 1]
    foreign = [m.hex() for m in counts if m not in set(ids)]
    check(not missing, '%d acknowledged messages missing, e.g. %s' % (len(missing), missing[:3]))
    check(not twice, '%d messages delivered more than once: %s' % (len(twice), twice[:3]))
    check(not foreign, 'unexpected messages %s' % foreign[:3])
    print('kills: %s; send retries: %d' % (' '.join(kills), sum(s.errors for s in senders)))
    # Restarts lost no records either: Status at london says forwarded for each, or
    # what westyorks' receipts reported since (in its mailbox, fetched, acknowledged).
    lon = f.hub('uk.london', f.fed.member('uk.london'))
    on = (lon.pb.MESSAGE_STATE_FORWARDED, lon.pb.MESSAGE_STATE_MAILBOX,
          lon.pb.MESSAGE_STATE_IN_FLIGHT, lon.pb.MESSAGE_STATE_ACKNOWLEDGED)
    for m in ids[:20]:
        st = lon.status(m)
        check(st.state in on, 'status %r' % st)


def after_failure(name):
    if 'f' in _env:
        _env['f'].log_tails(40)


if __name__ == '__main__':
    main(after_failure)

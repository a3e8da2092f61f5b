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

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import axletest as at  # noqa: E402
from axletest import check, main, test  # noqa: E402
from switchtest import Fed, arrived_exactly_once, kill_loop, new_id  # noqa: E402

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
    victims = (['uk', 'uk.westyorks'] * KILLS)[:KILLS - 1] + ['uk.london']
    acked, kills, retries = kill_loop(f, ids, victims, PACE, THREADS, SCALE)
    arrived_exactly_once(f, ids, acked)
    print('kills: %s; send retries: %d' % (' '.join(kills), retries))
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

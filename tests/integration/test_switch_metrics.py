"""test_switch_metrics.py -- the switch's per-registrar gauges do not vanish at zero on real nodes
(uk.london -> uk -> uk.westyorks): axle_switch_mailbox{registrar} reads 0 after the registrar's
hub fetched and acknowledged everything, and axle_switch_held_by_registrar{registrar} reads 0
after a suspension's held messages were released by reactivation (before, each series
disappeared, which dashboards and alerts read as "no data", not as empty). A registrar seen
later whose name sorts first (the node keeps the names it has shown sorted) gets its series
too, and both stay at 0.

Steps depend on each other and run in order.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from axletest import check, main, shared_env, test, wait_for  # noqa: E402
from switchtest import FED, Fed  # noqa: E402

LON_HUB = 'uk.london.hub'
WY_HUB = 'uk.westyorks.hub'
WY = 'uk.westyorks'
MAILBOX = 'axle_switch_mailbox{registrar="wy-hub"}'
HELD = 'axle_switch_held_by_registrar{registrar="wy-hub"}'
_env = {}


@shared_env(_env)
def env():
    f = Fed(prefix='axle-swmetrics-')
    for r in ('uk.london', WY):
        f.wait_registry(r)
    f.registrar('uk.london', 'lon-hub', LON_HUB, 'axle://%s/member/%s' % (FED, LON_HUB))
    f.registrar(WY, 'wy-hub', WY_HUB, 'axle://%s/member/%s' % (FED, WY_HUB))
    _env.update(f=f, lon=f.hub('uk.london', f.fed.member('uk.london')),
                wy=f.hub(WY, f.fed.member(WY)))


def wy_metrics():
    f = env()['f']
    return f.nodes[WY].metrics(f.fed.admin(WY))


def wait_gauge(key, want, what):
    """Polls westyorks' /metrics until key reads want (absent is not 0)."""
    return wait_for(lambda: wy_metrics().get(key) == want, 30, interval=0.2,
                    what='%s == %s (%s)' % (key, want, what))


def send_one(context):
    e = env()
    lon = e['lon']
    return lon.send(lon.envelope(LON_HUB, to=WY_HUB, context=context)).message_id


def fetch_all(mid):
    wy = env()['wy']
    wy.drain(lambda g: any(d.envelope.message_id == mid for d in g), what='the message at westyorks')


@test(timeout=120)
def mailbox_series_stays_at_zero_once_emptied():
    mid = send_one('mailbox')
    wait_gauge(MAILBOX, 1, 'the message waits in the mailbox')
    fetch_all(mid)
    wait_gauge(MAILBOX, 0, 'fetched and acknowledged: the series stays, at 0')
    m = wy_metrics()
    check(m.get(MAILBOX) == 0, 'a second scrape: %r' % m.get(MAILBOX))


@test(timeout=120)
def held_series_stays_at_zero_once_released():
    e = env()
    f = e['f']
    rp = f.stubs.registry_pb2
    mid = send_one('held')
    wait_gauge(MAILBOX, 1, 'the message waits in the mailbox')
    f.set_status(WY, 'wy-hub', rp.REGISTRAR_STATUS_SUSPENDED, 'metrics test')
    wait_gauge(HELD, 1, 'the suspension holds it')
    check(wy_metrics().get(MAILBOX) == 0, 'mailbox series while held: %r' % wy_metrics().get(MAILBOX))
    f.set_status(WY, 'wy-hub', rp.REGISTRAR_STATUS_ACTIVE, 'metrics test')
    wait_gauge(HELD, 0, 'reactivation releases it: the series stays, at 0')
    fetch_all(mid)
    wait_gauge(MAILBOX, 0, 'fetched again')


@test(timeout=120)
def a_later_registrar_sorting_first_keeps_its_series_too():
    e = env()
    f = e['f']
    prefix = WY + '.aa'
    f.registrar(WY, 'aa-hub', prefix, 'axle://%s/member/%s' % (FED, prefix))
    aa = f.hub(WY, f.fed.issue('member', prefix))
    lon = e['lon']
    mid = lon.send(lon.envelope(LON_HUB, to=prefix, context='aa')).message_id
    key = 'axle_switch_mailbox{registrar="aa-hub"}'
    wait_gauge(key, 1, 'the message waits in aa-hub\'s mailbox')
    check(wy_metrics().get(MAILBOX) == 0, 'wy-hub beside it: %r' % wy_metrics().get(MAILBOX))
    aa.drain(lambda g: any(d.envelope.message_id == mid for d in g), what='the message at aa-hub')
    wait_gauge(key, 0, 'aa-hub emptied: its series stays, at 0')
    m = wy_metrics()
    check(m.get(MAILBOX) == 0 and m.get(key) == 0, 'both series at 0: %r %r' % (
        m.get(MAILBOX), m.get(key)))


if __name__ == '__main__':
    main(after_failure=lambda name: 'f' in _env and _env['f'].log_tails())

"""test_node_rates.py -- Node.Info gives an admin the node's counts per minute over the
last hour (messages accepted, forwarded to peers, recourse cases opened; the minute in
progress last), what the console's Node page charts; others get none.
Three real nodes: uk.london's hub sends to uk.westyorks through uk, and to an address
nobody serves (a recourse case at uk.london).
"""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import axletest as at  # noqa: E402
from axletest import check, main, test, wait_for  # noqa: E402
from switchtest import Fed  # noqa: E402

LON = 'uk.london'
_env = {}


@at.shared_env(_env)
def env():
    f = Fed(prefix='axle-rates-')
    f.leaf_hubs()
    _env.update(f=f)


def info(region, cred):
    f = env()['f']
    with f.channel(region, cred) as ch:
        return f.stubs.node_pb2_grpc.NodeStub(ch).Info(f.stubs.node_pb2.InfoRequest(), timeout=10)


def totals(region):
    r = info(region, env()['f'].fed.admin(region))
    return (sum(m.accepted for m in r.rates), sum(m.forwarded for m in r.rates),
            sum(m.cases_opened for m in r.rates), r)


@test(timeout=120)
def admins_see_counts_per_minute():
    f = env()['f']
    a0, f0, c0, r = totals(LON)
    check(len(r.rates) >= 1, 'no rates for an admin: %r' % r)
    now_ms = time.time() * 1000
    check(now_ms - 61000 <= r.rates[-1].minute_ms <= now_ms + 1000,
          'the last minute began at %d, now %d' % (r.rates[-1].minute_ms, now_ms))
    hub = f.hub(LON, f.fed.member(LON))
    try:
        for i in range(3):
            hub.send(hub.envelope('uk.london.hub', to='uk.westyorks.hub', payload=b'r%d' % i))
        hub.send(hub.envelope('uk.london.hub', to='uk.london.nobody', payload=b'lost'))
    finally:
        hub.close()
    got = wait_for(lambda: (lambda t: t if t[0] >= a0 + 4 and t[1] >= f0 + 3 and t[2] >= c0 + 1
                            else None)(totals(LON)), 30, interval=0.3,
                   what='4 accepted, 3 forwarded, 1 case counted at uk.london')
    check(got[0] == a0 + 4, 'accepted %d -> %d for 4 Sends' % (a0, got[0]))
    check(got[2] == c0 + 1, 'cases opened %d -> %d for 1 undeliverable' % (c0, got[2]))
    check(len(got[3].rates) <= 61, '%d minutes kept (at most 61)' % len(got[3].rates))


@test(timeout=60)
def others_see_none():
    f = env()['f']
    r = info(LON, f.fed.member(LON))
    check(len(r.rates) == 0 and r.caller_role == 'member', 'a member got rates: %r' % r.rates)
    r = info('uk', f.fed.node(LON))
    check(len(r.rates) == 0, 'a node got rates: %r' % r.rates)


if __name__ == '__main__':
    def diag(name):
        if 'f' in _env:
            print(_env['f'].log_tails(20))
    main(after_failure=diag)

"""test_switch_limits.py -- [switch] max_payload, the largest payload a node takes: a
payload at a configured limit is accepted and delivered, in the region and across it
(uk.london -> uk -> uk.westyorks); one byte more is refused with INVALID_ARGUMENT, a
message naming the limit and the key, and an `rpc` log line; axled -n refuses a limit
that leaves no room for the envelope in a gRPC message.

Steps depend on each other and run in order.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import axletest as at  # noqa: E402
from axletest import check, main, test  # noqa: E402
from switchtest import Fed, new_id  # noqa: E402

import grpc  # noqa: E402

LON_HUB = 'uk.london.hub'
WY_HUB = 'uk.westyorks.hub'
LIMIT = 20000		# well under the 1 MiB default, so the default would take LIMIT + 1
_env = {}


@at.shared_env(_env)
def env():
    f = Fed(prefix='axle-swlim-', node_extra='\n[switch]\nmax_payload = %d\n' % LIMIT)
    for r in ('uk.london', 'uk.westyorks'):
        f.wait_registry(r)
    f.registrar('uk.london', 'lon-hub', LON_HUB, 'axle://%s/member/%s' % (at_fed(), LON_HUB))
    f.registrar('uk.westyorks', 'wy-hub', WY_HUB, 'axle://%s/member/%s' % (at_fed(), WY_HUB))
    _env.update(f=f, lon=f.hub('uk.london', f.fed.member('uk.london')),
                wy=f.hub('uk.westyorks', f.fed.member('uk.westyorks')))


def at_fed():
    return 'fame-test'


def delivered_at_the_limit(to, recipient, what):
    """A payload of exactly LIMIT bytes from LON_HUB to `to` reaches recipient, unchanged."""
    lon = env()['lon']
    body = os.urandom(LIMIT)
    r = lon.send(lon.envelope(LON_HUB + '.a', to=to, payload=body))
    check(r.kind == lon.pb.RECEIPT_KIND_ACCEPTED, 'receipt %r' % r)
    got = recipient.drain(lambda g: any(d.envelope.message_id == r.message_id for d in g),
                          what=what)
    d = [d for d in got if d.envelope.message_id == r.message_id][0]
    check(d.envelope.payload == body, 'payload changed: %d bytes' % len(d.envelope.payload))


@test(timeout=180)
def payload_at_the_limit_is_delivered_in_the_region():
    delivered_at_the_limit(LON_HUB + ':desk', env()['lon'], 'the message at the limit')


@test(timeout=180)
def payload_at_the_limit_crosses_regions():
    delivered_at_the_limit(WY_HUB + ':desk', env()['wy'], 'the message at the limit, relayed by uk')


@test(timeout=120)
def payload_over_the_limit_is_refused_with_the_reason():
    e = env()
    lon, node = e['lon'], e['f'].nodes['uk.london']
    mid = new_id()
    try:
        r = lon.send(lon.envelope(LON_HUB + '.a', to=LON_HUB + ':desk', mid=mid,
                                  payload=b'x' * (LIMIT + 1)))
        raise at.TestFailure('a payload of %d bytes was accepted: %r' % (LIMIT + 1, r))
    except grpc.RpcError as err:
        check(err.code() == grpc.StatusCode.INVALID_ARGUMENT, 'status %s' % err.code())
        want = 'payload: %d bytes, at most %d' % (LIMIT + 1, LIMIT)
        check(want in err.details() and 'max_payload' in err.details(),
              'message %r lacks %r and the key' % (err.details(), want))
    at.wait_for(lambda: 'status=INVALID_ARGUMENT' in node.log_text() and
                'at most %d' % LIMIT in node.log_text(), 10, what='the rpc log line')
    # Refused means not stored: the id is unknown to Status.
    st = lon.status(mid)
    check(st.state == lon.pb.MESSAGE_STATE_UNKNOWN, 'the refused message has a status: %r' % st)


@test(timeout=60)
def axled_n_refuses_a_limit_the_grpc_message_cannot_carry():
    e = env()
    n = e['f'].nodes['uk']
    path = n.conf + '.toobig'
    text = n.config_text()
    check('max_payload = %d' % LIMIT in text, 'no max_payload in %s' % text)
    with open(path, 'w') as f:
        f.write(text.replace('max_payload = %d' % LIMIT, 'max_payload = 4194304'))
    cp = at.run([at.axled_path(), '-n', '-c', path], timeout=30, check_rc=False)
    out = cp.stdout + cp.stderr
    check(cp.returncode != 0 and 'max_payload' in out and 'max_message_size' in out,
          'axled -n: rc %d: %s' % (cp.returncode, out))


def after_failure(name):
    if 'f' in _env:
        _env['f'].log_tails()


if __name__ == '__main__':
    main(after_failure)

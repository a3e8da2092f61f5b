"""test_switch_crossed.py -- every message ends delivered or in a case, also with a crossed
configuration: the relay uk's two [peer] sections point at each other's node (uk.london's
address is uk.westyorks' node and the other way round), as a slip in axled.conf would do.

A hub at uk.london sends to uk.westyorks without deliver_by: london stamps the node-wide
default delivery deadline ([switch] default_deliver_by_ms); uk shows the wrong identity of the
node that answers for uk.westyorks in `axlectl outbox`, in a metric and in its log; once the
deadline passes, uk opens a case with reason PEER_IDENTITY_MISMATCH that says what is wrong and
where to fix it, and the outbox is empty. `axled -n` cannot see a crossing without connecting,
but it refuses two [peer] sections with one address (no node serves two regions).
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import axletest as at  # noqa: E402
from axletest import check, main, test, wait_for  # noqa: E402
from switchtest import Fed  # noqa: E402

FED = 'fame-test'
LON_HUB = 'uk.london.hub'
WY_HUB = 'uk.westyorks.hub'
DEADLINE = 6000		# ms: [switch] default_deliver_by_ms on every node
_env = {}


@at.shared_env(_env)
def env():
    f = Fed(prefix='axle-swcross-', node_extra='\n[switch]\ndefault_deliver_by_ms = %d\n' % DEADLINE)
    f.leaf_hubs()
    uk = f.nodes['uk']
    uk.stop()
    uk.peers = [('uk.london', '127.0.0.1:%d' % f.ports['uk.westyorks']),
                ('uk.westyorks', '127.0.0.1:%d' % f.ports['uk.london'])]
    uk.write_config()
    uk.start()
    _env.update(f=f, lon=f.hub('uk.london', f.fed.member('uk.london')))


def uk_cases():
    f = _env['f']
    rp = f.stubs.recourse_pb2
    with f.channel('uk', f.fed.admin('uk')) as ch:
        return list(f.stubs.recourse_pb2_grpc.RecourseStub(ch).List(rp.ListCasesRequest(
            include_closed=True), timeout=10).cases)


@test(timeout=180)
def crossed_peer_is_shown_then_a_case_opens():
    e = env()
    f, lon = e['f'], e['lon']
    r = lon.send(lon.envelope(LON_HUB, to=WY_HUB, context='crossed'))
    mid = r.message_id
    check(r.kind == lon.pb.RECEIPT_KIND_ACCEPTED, 'send %r' % r)
    expected = 'axle://%s/node/uk.westyorks' % FED
    answered = 'axle://%s/node/uk.london' % FED

    def outbox_shows():
        out = f.axlectl('uk', 'outbox').stdout
        row = [ln for ln in out.splitlines() if ln.startswith('uk.westyorks')]
        return out if row and 'IDENTITY MISMATCH' in out and answered in out else None
    out = wait_for(outbox_shows, 30, interval=0.3, what='the mismatch in axlectl outbox at uk')
    check(expected in out, 'outbox names the identity it expected:\n%s' % out)
    js = f.axlectl('uk', '--json', 'outbox').stdout
    check('"identity_mismatch"' in js and answered in js, 'outbox --json: %s' % js)
    m = f.nodes['uk'].metrics(f.fed.admin('uk'))
    check(m.get('axle_switch_outbox_identity_mismatch{peer="uk.westyorks"}') == 1,
          'metric %r' % {k: v for k, v in m.items() if 'mismatch' in k})
    log = f.nodes['uk'].log_text()
    line = [ln for ln in log.splitlines() if 'event=switch_peer_identity_mismatch' in ln and
            'peer=uk.westyorks' in ln]
    check(line and answered in line[0] and expected in line[0] and
          '127.0.0.1:%d' % f.ports['uk.london'] in line[0], 'log line %r' % line)

    def case():
        cs = [c for c in uk_cases() if c.envelope.message_id == mid]
        return cs[0] if cs else None
    c = wait_for(case, DEADLINE / 1000 + 30, interval=0.3, what='a case at uk for the message')
    rp = f.stubs.recourse_pb2
    check(rp.CaseReason.Name(c.reason) == 'CASE_REASON_PEER_IDENTITY_MISMATCH',
          'reason %s: %r' % (rp.CaseReason.Name(c.reason), c.detail))
    check(answered in c.detail and '[peer uk.westyorks]' in c.detail, 'detail %r' % c.detail)
    check(c.envelope.deliver_by_ms > c.envelope.created_ms, 'deliver_by stamped: %r' %
          c.envelope.deliver_by_ms)
    q = {o.name: o for o in f.admin_switch('uk').queues().outboxes}
    check(q['uk.westyorks'].count == 0, 'outbox still holds it: %r' % q['uk.westyorks'])


@test(timeout=60)
def config_check_refuses_two_peers_at_one_address():
    f = env()['f']
    uk = f.nodes['uk']
    rc, out = at.check_config(uk.conf)
    check(rc == 0, 'crossed (but distinct) addresses cannot be seen without connecting: %s' % out)
    path = os.path.join(uk.dir, 'same-address.conf')
    text = uk.config_text().replace('127.0.0.1:%d' % f.ports['uk.london'],
                                    '127.0.0.1:%d' % f.ports['uk.westyorks'])
    with open(path, 'w') as fh:
        fh.write(text)
    rc, out = at.check_config(path)
    check(rc != 0 and 'uk.london' in out and 'uk.westyorks' in out and 'same address' in out,
          'two peers at one address: rc %d %s' % (rc, out))


def after_failure(name):
    if 'f' in _env:
        _env['f'].log_tails()


if __name__ == '__main__':
    main(after_failure)

"""test_rehome.py -- what a re-home moves, on real nodes (uk.london -> uk -> uk.westyorks): a
registrar of uk.westyorks (wy-old) with a published service and a message waiting in its mailbox
is revoked and re-homed to wy-new. The re-home moves its delegation, its service (the revoked
registrar lists none; discovery at uk, from the mirrored feed, finds it under wy-new), its
mailbox (wy-new fetches the waiting message by the old address) and the right to send as those
addresses: wy-new's own certificate sends from an address under the old prefix, and its
receipts and replies come back to wy-new. Nobody else gains that right: not a narrower
certificate of wy-new, not another registrar's, not the revoked one's. The client is grpcio.

Steps depend on each other and run in order.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import grpc  # noqa: E402
from axletest import TestFailure, check, main, test, wait_for  # noqa: E402
from switchtest import Fed, receipts_for  # noqa: E402

FED = 'fame-test'
LON_HUB = 'uk.london.hub'
OLD, NEW, OTHER = 'uk.westyorks.old', 'uk.westyorks.new', 'uk.westyorks.other'
MIRROR_WAIT = 30
_env = {}


def member_uri(prefix):
    return 'axle://%s/member/%s' % (FED, prefix)


def env():
    if 'error' in _env:
        raise _env['error']
    if 'f' not in _env:
        try:
            f = Fed(prefix='axle-rehome-')
            for r in ('uk.london', 'uk.westyorks'):
                f.wait_registry(r)
            kind = f.stubs.common_pb2.SERVICE_KIND_INDEX
            f.registrar('uk.london', 'lon-hub', LON_HUB, member_uri(LON_HUB))
            f.registrar('uk.westyorks', 'wy-old', OLD, member_uri(OLD),
                        services=[('old-index', kind, OLD + '.index')])
            f.registrar('uk.westyorks', 'wy-new', NEW, member_uri(NEW))
            f.registrar('uk.westyorks', 'wy-other', OTHER, member_uri(OTHER))
            issue = f.fed.issue
            _env.update(
                f=f, lon=f.hub('uk.london', f.fed.member('uk.london')),
                old=f.hub('uk.westyorks', issue('member', OLD, name='member-wy-old')),
                new=f.hub('uk.westyorks', issue('member', NEW, name='member-wy-new')),
                desk=f.hub('uk.westyorks', issue('member', NEW + '.desk', name='member-wy-desk')),
                other=f.hub('uk.westyorks', issue('member', OTHER, name='member-wy-other')),
                wyadmin=f.admin_switch('uk.westyorks'))
        except BaseException as e:
            _env['error'] = e
            raise
    return _env


def discover(region, prefix):
    f = _env['f']
    with f.channel(region, f.fed.admin(region)) as ch:
        return f.stubs.registry_pb2_grpc.PortalStub(ch).Discover(
            f.stubs.registry_pb2.DiscoverRequest(prefix=prefix), timeout=10)


def registrar_at(region, rid):
    rp = _env['f'].stubs.registry_pb2
    return _env['f'].registry(region, 'GetRegistrar', rp.GetRegistrarRequest(id=rid)).registrar


def refused(what, fn, code=grpc.StatusCode.PERMISSION_DENIED, contains=''):
    try:
        fn()
    except grpc.RpcError as err:
        check(err.code() == code and contains in (err.details() or ''),
              '%s: want %s %r, got %s %r' % (what, code, contains, err.code(), err.details()))
        return err.details()
    raise TestFailure('%s: accepted, want %s' % (what, code))


def ids(hub, deliveries):
    return [d.envelope.message_id for d in deliveries if not hub.is_receipt(d)]


@test(timeout=240)
def before_the_revocation_the_service_is_found_and_a_message_waits():
    e = env()
    f, lon, wyadmin = e['f'], e['lon'], e['wyadmin']

    def found():
        r = discover('uk', OLD)
        return r if [(d.service.name, d.registrar_id) for d in r.services] == \
            [('old-index', 'wy-old')] else None
    wait_for(found, MIRROR_WAIT, interval=0.2, what='old-index at uk')
    env_ = lon.envelope(LON_HUB + ':case-1', to=OLD + '.inbox', payload=b'referral')
    r = lon.send(env_)
    check(lon.pb.ReceiptKind.Name(r.kind) == 'RECEIPT_KIND_ACCEPTED', 'send %r' % r)
    e['waiting'] = env_.message_id

    def in_mailbox():
        st = wyadmin.status(env_.message_id)
        return st if st.state == lon.pb.MESSAGE_STATE_MAILBOX else None
    st = wait_for(in_mailbox, 30, interval=0.2, what='the message in the mailbox of wy-old')
    check(st.location == 'wy-old', 'status %r' % st)


@test(timeout=120)
def revoked_and_rehomed_the_successor_holds_prefix_and_service():
    """ReHome answers with both records: the revoked registrar keeps no prefix and no service;
    the successor holds both; GetRegistrar says the same afterwards."""
    e = env()
    f, rp = e['f'], e['f'].stubs.registry_pb2
    f.set_status('uk.westyorks', 'wy-old', rp.REGISTRAR_STATUS_REVOKED, 'contract ended')
    r = f.registry('uk.westyorks', 'ReHome', rp.ReHomeRequest(
        from_registrar_id='wy-old', to_registrar_id='wy-new', reason='successor appointed'))
    check(r.released == 1, 'released %d' % r.released)
    for rec in (r.from_registrar, registrar_at('uk.westyorks', 'wy-old')):
        check(list(rec.prefixes) == [] and [s.name for s in rec.services] == [] and
              rec.successor_id == 'wy-new', 'wy-old after the re-home: %r' % rec)
    for rec in (r.to_registrar, registrar_at('uk.westyorks', 'wy-new')):
        check(list(rec.prefixes) == [NEW, OLD], 'wy-new prefixes %r' % list(rec.prefixes))
        check([(s.name, s.address) for s in rec.services] == [('old-index', OLD + '.index')],
              'wy-new services %r' % list(rec.services))


@test(timeout=120)
def discovery_at_a_peer_follows_through_the_mirrored_feed():
    """At uk (uk.westyorks' peer, which mirrors its feed): the service is found under wy-new;
    the mirrored wy-old lists no service."""
    env()

    def moved():
        r = discover('uk', OLD)
        got = [(d.service.name, d.registrar_id, d.region, d.from_mirror) for d in r.services]
        return got if got == [('old-index', 'wy-new', 'uk.westyorks', True)] else None
    wait_for(moved, MIRROR_WAIT, interval=0.2, what='old-index under wy-new at uk')
    rec = registrar_at('uk', 'wy-old')
    check(list(rec.services) == [] and rec.successor_id == 'wy-new', 'mirrored wy-old %r' % rec)


@test(timeout=120)
def the_successor_fetches_the_moved_mailbox_by_its_old_address():
    e = env()
    new, mid = e['new'], e['waiting']
    got = new.fetch(mailbox=OLD, wait_ms=3000, visibility_ms=60000)
    check(ids(new, got) == [mid], 'fetched %r' % [(d.envelope.message_type, d.mailbox)
                                                   for d in got])
    check(got[-1].envelope.to == OLD + '.inbox' and got[-1].mailbox == 'wy-new',
          'delivery %r' % got[-1])
    r = new.ack([mid], mailbox=OLD + '.inbox')
    check(r.acknowledged == 1, 'ack %r' % r)
    check(e['wyadmin'].status(mid).state == new.pb.MESSAGE_STATE_ACKNOWLEDGED, 'status %r' %
          e['wyadmin'].status(mid))


@test(timeout=180)
def the_successor_sends_as_a_moved_address_and_hears_back():
    """wy-new's own certificate sends from uk.westyorks.old.inbox: accepted, delivered at
    uk.london with that sender; Status answers wy-new about it; the receipts and a reply
    to the old address reach wy-new."""
    e = env()
    new, lon, pb = e['new'], e['lon'], e['new'].pb
    out = new.envelope(OLD + '.inbox:case-1', to=LON_HUB, payload=b'answer')
    r = new.send(out)
    check(pb.ReceiptKind.Name(r.kind) == 'RECEIPT_KIND_ACCEPTED', 'send %r' % r)
    got = lon.drain(lambda g: out.message_id in ids(lon, g), what='the answer at uk.london')
    d = [d for d in got if d.envelope.message_id == out.message_id][0]
    check(d.envelope.sender == OLD + '.inbox:case-1', 'sender %r' % d.envelope.sender)
    check(new.status(out.message_id).state != pb.MESSAGE_STATE_UNKNOWN, 'status %r' %
          new.status(out.message_id))
    reply = lon.envelope(LON_HUB + ':case-1', to=OLD + '.inbox:case-1', payload=b'thanks')
    lon.send(reply)
    back = new.drain(lambda g: reply.message_id in ids(new, g) and
                     'RECEIPT_KIND_ACKNOWLEDGED' in receipts_for(new, g, out.message_id),
                     what='the reply and the receipts at wy-new')
    check('RECEIPT_KIND_DELIVERED' in receipts_for(new, back, out.message_id),
          'receipts %r' % receipts_for(new, back, out.message_id))


@test(timeout=120)
def nobody_else_acts_as_the_moved_addresses():
    """A narrower certificate of the successor, another registrar's, a member of another
    region and the revoked registrar's own are refused; the successor is refused an address
    that was not re-homed to it."""
    e = env()
    desk, other, lon, old, new = e['desk'], e['other'], e['lon'], e['old'], e['new']

    def send_as(hub, sender):
        return lambda: hub.send(hub.envelope(sender, to=LON_HUB))
    refused('desk sends as old', send_as(desk, OLD + '.inbox'), contains='outside its prefix')
    refused('desk fetches old', lambda: desk.fetch(mailbox=OLD))
    refused('other sends as old', send_as(other, OLD + '.x'), contains='outside its prefix')
    refused('other fetches old', lambda: other.fetch(mailbox=OLD))
    refused('london sends as old', send_as(lon, OLD + '.x'), contains='outside its prefix')
    refused('new sends as other', send_as(new, OTHER + '.x'), contains='outside its prefix')
    refused('new fetches other', lambda: new.fetch(mailbox=OTHER))
    refused('revoked sends as old', send_as(old, OLD + '.inbox'), contains='revoked')
    refused('revoked fetches', lambda: old.fetch(mailbox=OLD), contains='revoked')


@test(timeout=60)
def nodes_stop_cleanly():
    f = env()['f']
    for region in ('uk', 'uk.london', 'uk.westyorks'):
        f.nodes[region].stop()


def after_failure(name):
    if 'f' in _env:
        _env['f'].log_tails()


if __name__ == '__main__':
    main(after_failure)

"""test_switch_hold.py -- the hold limit on real nodes (uk.london -> uk -> uk.westyorks): messages
held for a suspended registrar past [switch] hold_limit_ms are settled by their failure policy
(escalate: a REGISTRAR_SUSPENDED case; return; discard) with the sender's receipts; a message
released before its limit is delivered and never gets a case, its hold deadline kept across a
restart and dropped at the release; messages already waiting in the mailbox when the registrar
is suspended get HELD, then RELEASED and DELIVERED receipts (senders on this node and on
another) and are delivered once, in order. A registrar revoked with messages waiting in its mailbox (one of them
fetched, not acknowledged): each is held in the revoking commit (HELD receipts naming the
revocation); re-homed to an active successor, the successor fetches each exactly once, in order;
not re-homed, the hold limit settles each in exactly one REGISTRAR_REVOKED case. The client is the
third-party grpcio.

Steps depend on each other and run in order.
"""

import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import axletest as at  # noqa: E402
import grpc  # noqa: E402
from axletest import check, main, test, wait_for  # noqa: E402
from switchtest import Fed, receipts_for  # noqa: E402

FED = 'fame-test'
LON_HUB = 'uk.london.hub'
WY_HUB = 'uk.westyorks.hub'
WY_DESK = 'uk.westyorks.desk'	# a sender on westyorks itself
SHORT = 1500		# ms: the hold limit of the first steps
LONG = 600000		# ms: a limit no step waits for
_env = {}


def switch_conf(limit):
    return '\n[switch]\nhold_limit_ms = %d\n' % limit


def env():
    if 'error' in _env:
        raise _env['error']
    if 'f' not in _env:
        try:
            f = Fed(prefix='axle-swhold-', node_extra=switch_conf(SHORT))
            for r in ('uk.london', 'uk.westyorks'):
                f.wait_registry(r)
            f.registrar('uk.london', 'lon-hub', LON_HUB, 'axle://%s/member/%s' % (FED, LON_HUB))
            f.registrar('uk.westyorks', 'wy-hub', WY_HUB, 'axle://%s/member/%s' % (FED, WY_HUB))
            _env.update(f=f, lon=f.hub('uk.london', f.fed.member('uk.london')),
                        wy=f.hub('uk.westyorks', f.fed.member('uk.westyorks')),
                        wyadmin=f.admin_switch('uk.westyorks'))
        except BaseException as e:
            _env['error'] = e
            raise
    return _env


def ids(deliveries, hub):
    return [d.envelope.message_id for d in deliveries if not hub.is_receipt(d)]


def receipt(hub, deliveries, mid, kind):
    for d in deliveries:
        if hub.is_receipt(d):
            r = hub.receipt_of(d)
            if r.message_id == mid and hub.pb.ReceiptKind.Name(r.kind) == kind:
                return r
    return None


def cases_at(region):
    """Every case at region (all states)."""
    f = _env['f']
    rp = f.stubs.recourse_pb2
    out, token = [], ''
    for _ in range(100):
        with f.channel(region, f.fed.admin(region)) as ch:
            r = f.stubs.recourse_pb2_grpc.RecourseStub(ch).List(rp.ListCasesRequest(
                include_closed=True, page=f.stubs.common_pb2.PageRequest(
                    page_size=100, page_token=token)), timeout=10)
        out += list(r.cases)
        token = r.page.next_page_token
        if not token:
            return out
    raise at.TestFailure('Recourse.List: more than 100 pages')


def suspended_cases(region, mid):
    rp = _env['f'].stubs.recourse_pb2
    return [c for c in cases_at(region) if c.envelope.message_id == mid and
            c.reason == rp.CASE_REASON_REGISTRAR_SUSPENDED]


def member_uri(prefix):
    return 'axle://%s/member/%s' % (FED, prefix)


def restart_westyorks(limit_from, limit_to):
    """Restarts uk.westyorks with another hold limit (fixed when a message is held)."""
    e, f = _env, _env['f']
    node = f.nodes['uk.westyorks']
    node.stop()
    node.extra = node.extra.replace(switch_conf(limit_from), switch_conf(limit_to))
    check('hold_limit_ms = %d' % limit_to in node.config_text(), 'config not changed')
    node.write_config()
    node.start()
    f.wait_registry('uk.westyorks')
    for k in ('wy', 'wyadmin', 'desk'):
        if k in e:
            e[k].reopen()


def refused(hub, when):
    """A revoked registrar's certificate is refused by the Switch: Fetch, Ack, Send."""
    calls = (('Fetch', lambda: hub.fetch(wait_ms=0)),
             ('Ack', lambda: hub.ack([b'\x01' * 16])),
             ('Send', lambda: hub.send(hub.envelope(hub.cred_prefix + '.x', to=WY_HUB))))
    for name, fn in calls:
        try:
            fn()
        except grpc.RpcError as err:
            check(err.code() == grpc.StatusCode.PERMISSION_DENIED and 'revoked' in err.details(),
                  '%s %s: %s %s' % (name, when, err.code(), err.details()))
            continue
        raise at.TestFailure('%s by a revoked registrar %s was not refused' % (name, when))


def waiting_in(to, context):
    """Two messages from london and one from westyorks' desk to `to`, delivered (waiting in
    its mailbox): their ids, in the order sent."""
    e = _env
    lon, desk = e['lon'], e['desk']
    lon.drain(lambda g: True, what='empty london')
    desk.drain(lambda g: True, what='empty desk')
    remote = [lon.send(lon.envelope(LON_HUB, to=to, context=context, payload=b'r%d' % i)
                       ).message_id for i in range(2)]
    lon.drain(lambda g: all('RECEIPT_KIND_DELIVERED' in receipts_for(lon, g, m) for m in remote),
              what='delivered receipts at london')
    local = desk.send(desk.envelope(WY_DESK, to=to, context=context)).message_id
    desk.drain(lambda g: 'RECEIPT_KIND_DELIVERED' in receipts_for(desk, g, local),
               what='delivered receipt at westyorks')
    return remote, local


def told(kind, remote, local, what, timeout=30, then=None):
    """Waits for a receipt of kind (and of kind `then`, if given) about each message (remote:
    london's, local: the desk's); returns {message id: (receipt, every receipt kind about it)}."""
    e = _env
    out = {}
    want = (kind,) if then is None else (kind, then)
    for hub, mids in ((e['lon'], remote), (e['desk'], [local])):
        got = hub.drain(lambda g: all(k in receipts_for(hub, g, m) for m in mids for k in want),
                        timeout=timeout, what='%s receipts (%s)' % (what, hub.region))
        for m in mids:
            out[m] = (receipt(hub, got, m, kind), receipts_for(hub, got, m))
    return out


def wy_metrics():
    f = _env['f']
    return f.nodes['uk.westyorks'].metrics(f.fed.admin('uk.westyorks'))


def deadlines_at_westyorks(want, what):
    """Waits for westyorks to count want deadlines pending: receipts on their way back wait in
    its outbox with a delivery deadline ([switch] default_deliver_by_ms) until uk takes them."""
    wait_for(lambda: wy_metrics().get('axle_switch_deadlines') == want, 15, interval=0.2,
             what='%s (%d deadlines pending at westyorks; now %r)' % (
                 what, want, wy_metrics().get('axle_switch_deadlines')))


def nothing_waits_at_westyorks():
    """Nothing held, and no deadline left: those of settled messages went with them."""
    deadlines_at_westyorks(0, 'no deadline left')
    m = wy_metrics()
    check(m.get('axle_switch_held') == 0 and m.get('axle_switch_deadlines') == 0,
          'held %r deadlines %r' % (m.get('axle_switch_held'), m.get('axle_switch_deadlines')))


# --- steps -------------------------------------------------------------------------------

@test(timeout=240)
def held_past_the_limit_is_settled_by_its_policy():
    e = env()
    f, lon, wy, wyadmin = e['f'], e['lon'], e['wy'], e['wyadmin']
    rp, pb = f.stubs.registry_pb2, lon.pb
    f.set_status('uk.westyorks', 'wy-hub', rp.REGISTRAR_STATUS_SUSPENDED, 'audit')
    t0 = time.monotonic()
    sent = {}
    for name, pol in (('escalate', 0), ('return', pb.FAILURE_POLICY_RETURN),
                      ('discard', pb.FAILURE_POLICY_DISCARD)):
        sent[name] = lon.send(lon.envelope(LON_HUB, to=WY_HUB, context='hold-' + name,
                                           policy=pol)).message_id
    final = {'escalate': 'RECEIPT_KIND_ESCALATED', 'return': 'RECEIPT_KIND_RETURNED',
             'discard': 'RECEIPT_KIND_DISCARDED'}
    got = lon.drain(lambda g: all(final[n] in receipts_for(lon, g, m) for n, m in sent.items()),
                    timeout=60, what='settling receipts')
    waited = time.monotonic() - t0
    for name, mid in sent.items():
        kinds = receipts_for(lon, got, mid)
        held, r = receipt(lon, got, mid, 'RECEIPT_KIND_HELD'), receipt(lon, got, mid, final[name])
        # Held first (the sender is told), settled at the limit, not before.
        check(held is not None and r.at_ms - held.at_ms >= SHORT,
              '%s: receipts %r, held %r, settled %r' % (name, kinds, held, r))
        check('RECEIPT_KIND_DELIVERED' not in kinds, '%s delivered: %r' % (name, kinds))
        check('wy-hub' in r.detail and 'hold limit' in r.detail and
              'held at uk.westyorks for' in r.detail and r.node == 'uk.westyorks',
              '%s receipt detail %r' % (name, r))
    esc = receipt(lon, got, sent['escalate'], 'RECEIPT_KIND_ESCALATED')
    check(esc.case_id.startswith('uk.westyorks/'), 'case id %r' % esc.case_id)
    # The case: REGISTRAR_SUSPENDED, at the node that held it, with a detail to act on.
    cases = suspended_cases('uk.westyorks', sent['escalate'])
    check(len(cases) == 1 and cases[0].id == esc.case_id, 'cases %r' % cases)
    c = cases[0]
    check('wy-hub' in c.detail and 'stayed suspended past the hold limit' in c.detail and
          'contact the registrar' in c.detail, 'case detail %r' % c.detail)
    check(c.state == f.stubs.recourse_pb2.CASE_STATE_OPEN, 'case state %r' % c.state)
    # return and discard make no case; each is recorded where it ended.
    for name in ('return', 'discard'):
        check(not [x for x in cases_at('uk.westyorks') if x.envelope.message_id == sent[name]],
              '%s made a case' % name)
    st = {n: wyadmin.status(m) for n, m in sent.items()}
    check(st['escalate'].state == pb.MESSAGE_STATE_RECOURSE and
          st['escalate'].case_id == esc.case_id, 'status %r' % st['escalate'])
    check(st['return'].state == pb.MESSAGE_STATE_RETURNED, 'status %r' % st['return'])
    check(st['discard'].state == pb.MESSAGE_STATE_DISCARDED, 'status %r' % st['discard'])
    m = wy_metrics()
    check(m.get('axle_switch_messages_total{event="hold_expired"}') == 3, 'hold_expired %r' %
          m.get('axle_switch_messages_total{event="hold_expired"}'))
    nothing_waits_at_westyorks()
    print('settled after %.1fs (limit %.1fs)' % (waited, SHORT / 1000.0))
    # Nothing reached the suspended registrar, and lifting the suspension releases nothing.
    r = f.set_status('uk.westyorks', 'wy-hub', rp.REGISTRAR_STATUS_ACTIVE, 'audit passed')
    check(r.released == 0, 'released %d' % r.released)
    check(not set(sent.values()) & set(ids(wy.fetch(wait_ms=300), wy)), 'a settled one arrived')


@test(timeout=240)
def released_before_the_limit_is_delivered_and_never_a_case():
    e = env()
    f, lon, wy = e['f'], e['lon'], e['wy']
    rp, pb = f.stubs.registry_pb2, lon.pb
    # A limit no step waits for (fixed when the message is held): the release surely comes first.
    restart_westyorks(SHORT, LONG)
    wy.drain(lambda g: True, what='empty')
    f.set_status('uk.westyorks', 'wy-hub', rp.REGISTRAR_STATUS_SUSPENDED, 'second audit')
    mid = lon.send(lon.envelope(LON_HUB, to=WY_HUB, context='hold-release')).message_id
    lon.drain(lambda g: 'RECEIPT_KIND_HELD' in receipts_for(lon, g, mid), what='held receipt')
    st = e['wyadmin'].status(mid)
    check(st.state == pb.MESSAGE_STATE_HELD and 'hold limit' in st.detail, 'status %r' % st)
    # Its hold limit and its delivery deadline (the default: it was sent without one).
    deadlines_at_westyorks(2, 'a hold and a delivery deadline')
    # A restart keeps the hold and its deadline (LMDB).
    node = f.nodes['uk.westyorks']
    node.stop()
    node.start()
    wy.reopen()
    e['wyadmin'].reopen()
    check(wy_metrics().get('axle_switch_deadlines') == 2, 'deadlines lost in the restart')
    st = e['wyadmin'].status(mid)
    check(st.state == pb.MESSAGE_STATE_HELD and 'hold limit' in st.detail, 'status %r' % st)
    f.wait_registry('uk.westyorks')
    r = f.set_status('uk.westyorks', 'wy-hub', rp.REGISTRAR_STATUS_ACTIVE, 'second audit passed')
    check(r.released == 1, 'released %d' % r.released)
    got = wy.drain(lambda g: mid in ids(g, wy), what='released message')
    check(ids(got, wy).count(mid) == 1, 'delivered once')
    # The hold deadline and the delivery deadline went with the release, in its commit.
    nothing_waits_at_westyorks()
    m = wy_metrics()
    check(m.get('axle_switch_messages_total{event="hold_expired"}', 0) == 0, 'hold expired')
    back = lon.drain(lambda g: 'RECEIPT_KIND_ACKNOWLEDGED' in receipts_for(lon, g, mid),
                     what='acknowledged receipt')
    kinds = receipts_for(lon, back, mid)
    check('RECEIPT_KIND_ESCALATED' not in kinds and 'RECEIPT_KIND_RETURNED' not in kinds,
          'receipts %r' % kinds)
    check(not [c for c in cases_at('uk.westyorks') if c.envelope.message_id == mid],
          'a released message got a case')


@test(timeout=240)
def waiting_in_the_mailbox_when_suspended_held_then_released_with_receipts():
    """Messages already in the mailbox when the registrar is suspended: each sender (on
    this node, or on another: the receipt comes back through uk) gets a HELD receipt for
    each, committed with the hold; reactivation gives RELEASED and DELIVERED receipts and
    the recipient each message exactly once, in order."""
    e = env()
    f, lon, wy, wyadmin = e['f'], e['lon'], e['wy'], e['wyadmin']
    rp, pb = f.stubs.registry_pb2, lon.pb
    # A sender on westyorks itself: its own registrar and member certificate.
    f.registrar('uk.westyorks', 'wy-desk', WY_DESK, 'axle://%s/member/%s' % (FED, WY_DESK))
    desk = e['desk'] = f.hub('uk.westyorks', f.fed.issue('member', WY_DESK, name='member-wy-desk'))
    wy.drain(lambda g: True, what='empty westyorks')
    lon.drain(lambda g: True, what='empty london')
    remote = [lon.send(lon.envelope(LON_HUB, to=WY_HUB, context='waiting', payload=b'r%d' % i)
                       ).message_id for i in range(2)]
    lon.drain(lambda g: all('RECEIPT_KIND_DELIVERED' in receipts_for(lon, g, m) for m in remote),
              what='delivered receipts')
    local = desk.send(desk.envelope(WY_DESK, to=WY_HUB, context='waiting')).message_id
    sent = remote + [local]
    for m in sent:		# waiting, not fetched
        check(wyadmin.status(m).state == pb.MESSAGE_STATE_MAILBOX, 'status %r' % wyadmin.status(m))

    f.set_status('uk.westyorks', 'wy-hub', rp.REGISTRAR_STATUS_SUSPENDED, 'third audit')
    for m in sent:
        st = wyadmin.status(m)
        check(st.state == pb.MESSAGE_STATE_HELD and 'hold limit' in st.detail, 'status %r' % st)
    back_l = lon.drain(lambda g: all('RECEIPT_KIND_HELD' in receipts_for(lon, g, m) for m in remote),
                       what='HELD receipts at london')
    back_d = desk.drain(lambda g: 'RECEIPT_KIND_HELD' in receipts_for(desk, g, local),
                        what='HELD receipt at westyorks')
    for hub, got, mids in ((lon, back_l, remote), (desk, back_d, [local])):
        for m in mids:
            r = receipt(hub, got, m, 'RECEIPT_KIND_HELD')
            check(r.node == 'uk.westyorks' and 'registrar wy-hub is suspended' in r.detail,
                  'HELD receipt %r' % r)
            check(receipts_for(hub, got, m).count('RECEIPT_KIND_HELD') == 1, 'HELD receipts %r' %
                  receipts_for(hub, got, m))
    check(not set(sent) & set(ids(wy.fetch(wait_ms=300), wy)), 'delivered while suspended')

    r = f.set_status('uk.westyorks', 'wy-hub', rp.REGISTRAR_STATUS_ACTIVE, 'third audit passed')
    check(r.released == 3, 'released %d' % r.released)
    both = ('RECEIPT_KIND_RELEASED', 'RECEIPT_KIND_DELIVERED')
    back_l = lon.drain(lambda g: all(k in receipts_for(lon, g, m) for m in remote for k in both),
                       what='RELEASED and DELIVERED receipts at london')
    back_d = desk.drain(lambda g: all(k in receipts_for(desk, g, local) for k in both),
                        what='RELEASED and DELIVERED receipts at westyorks')
    for hub, got, mids in ((lon, back_l, remote), (desk, back_d, [local])):
        for m in mids:
            r = receipt(hub, got, m, 'RECEIPT_KIND_RELEASED')
            check(r.node == 'uk.westyorks' and 'registrar wy-hub is active again' in r.detail,
                  'RELEASED receipt %r' % r)
            # Back in the mailbox: delivered there, like any other message.
            check(receipts_for(hub, got, m) == list(both), 'receipts %r' %
                  receipts_for(hub, got, m))
    got = wy.drain(lambda g: set(sent) <= set(ids(g, wy)), what='released messages')
    time.sleep(0.5)
    got += wy.fetch(wait_ms=500)
    seen = [m for m in ids(got, wy) if m in sent]
    check(seen == sent, 'not each once, in order: %r' % [sent.index(m) for m in seen])
    for m in sent:
        check(wyadmin.status(m).state == pb.MESSAGE_STATE_ACKNOWLEDGED, 'status %r' %
              wyadmin.status(m))
    m = wy_metrics()
    nothing_waits_at_westyorks()


@test(timeout=300)
def revoked_with_a_waiting_mailbox_then_rehomed_the_successor_fetches_each_once():
    """A registrar revoked straight from ACTIVE with three messages in its mailbox, one of
    them fetched and not acknowledged: all three are held in the revoking commit (Status HELD,
    a HELD receipt naming the revocation to each sender); re-homed to an active successor,
    they are released to it (RELEASED receipts) and the successor fetches each exactly once,
    in order."""
    e = env()
    f, wyadmin = e['f'], e['wyadmin']
    rp, pb = f.stubs.registry_pb2, e['lon'].pb
    f.registrar('uk.westyorks', 'wy-old', 'uk.westyorks.old', member_uri('uk.westyorks.old'))
    f.registrar('uk.westyorks', 'wy-new', 'uk.westyorks.new', member_uri('uk.westyorks.new'))
    old = f.hub('uk.westyorks', f.fed.issue('member', 'uk.westyorks.old', name='member-wy-old'))
    old.cred_prefix = 'uk.westyorks.old'
    new = f.hub('uk.westyorks', f.fed.issue('member', 'uk.westyorks.new', name='member-wy-new'))
    remote, local = waiting_in('uk.westyorks.old.inbox', 'rehome')
    sent = remote + [local]
    got = old.fetch(max_messages=1, visibility_ms=60000)	# in flight, never acknowledged
    check([d.envelope.message_id for d in got] == sent[:1], 'fetched %r' % got)
    check(wyadmin.status(sent[0]).state == pb.MESSAGE_STATE_IN_FLIGHT, 'status %r' %
          wyadmin.status(sent[0]))

    r = f.set_status('uk.westyorks', 'wy-old', rp.REGISTRAR_STATUS_REVOKED, 'contract ended')
    check(r.released == 3, 'held %d' % r.released)
    for m in sent:
        st = wyadmin.status(m)
        check(st.state == pb.MESSAGE_STATE_HELD and st.location == 'wy-old' and
              'hold limit' in st.detail, 'status %r' % st)
    for m, (rc, kinds) in told('RECEIPT_KIND_HELD', remote, local, 'HELD').items():
        check(rc.node == 'uk.westyorks' and 'registrar wy-old was revoked' in rc.detail,
              'HELD receipt %r' % rc)
        check(kinds.count('RECEIPT_KIND_HELD') == 1, 'receipts %r' % kinds)
    refused(old, 'after its revocation')

    r = f.registry('uk.westyorks', 'ReHome', rp.ReHomeRequest(
        from_registrar_id='wy-old', to_registrar_id='wy-new', reason='successor'))
    check(r.released == 3 and r.from_registrar.successor_id == 'wy-new', 'rehome %r' % r)
    for m, (rc, kinds) in told('RECEIPT_KIND_RELEASED', remote, local, 'RELEASED',
                               then='RECEIPT_KIND_DELIVERED').items():
        check('registrar wy-old was revoked and re-homed to wy-new' in rc.detail,
              'RELEASED receipt %r' % rc)
        # In the successor's mailbox: delivered there, like any other message.
        check(kinds == ['RECEIPT_KIND_RELEASED', 'RECEIPT_KIND_DELIVERED'], 'receipts %r' % kinds)
    # Its prefix now falls to the successor: the revoked certificate still reads nothing.
    refused(old, 'after the re-homing')
    got = new.drain(lambda g: set(sent) <= set(ids(g, new)), what='re-homed messages')
    time.sleep(1.0)
    got += new.fetch(wait_ms=500)
    seen = [m for m in ids(got, new) if m in sent]
    check(seen == sent, 'not each once, in order: %r' % [sent.index(m) for m in seen])
    for m in sent:
        st = wyadmin.status(m)
        check(st.state == pb.MESSAGE_STATE_ACKNOWLEDGED and st.location == 'wy-new',
              'status %r' % st)
        check(not [c for c in cases_at('uk.westyorks') if c.envelope.message_id == m],
              'a re-homed message got a case')
    m = wy_metrics()
    nothing_waits_at_westyorks()


@test(timeout=300)
def revoked_with_a_waiting_mailbox_not_rehomed_is_a_revoked_case_at_the_limit():
    """A registrar revoked (axlectl) straight from ACTIVE with three messages in its mailbox,
    one of them in flight, and not re-homed: each is held (HELD receipt naming the
    revocation, Status HELD) and at the hold limit settled by its failure policy: exactly one
    REGISTRAR_REVOKED case each, with an ESCALATED receipt to its sender."""
    e = env()
    restart_westyorks(LONG, SHORT)
    f, wyadmin = e['f'], e['wyadmin']
    pb, cp_ = e['lon'].pb, f.stubs.recourse_pb2
    f.registrar('uk.westyorks', 'wy-gone', 'uk.westyorks.gone', member_uri('uk.westyorks.gone'))
    gone = f.hub('uk.westyorks', f.fed.issue('member', 'uk.westyorks.gone', name='member-wy-gone'))
    gone.cred_prefix = 'uk.westyorks.gone'
    remote, local = waiting_in('uk.westyorks.gone.inbox', 'revoke')
    sent = remote + [local]
    got = gone.fetch(max_messages=1, visibility_ms=60000)	# in flight, never acknowledged
    check([d.envelope.message_id for d in got] == sent[:1], 'fetched %r' % got)

    cp = f.axlectl('uk.westyorks', '--json', 'registrar', 'revoke', 'wy-gone', '--reason',
                   'contract ended')
    out = json.loads(cp.stdout)
    check(int(out.get('released', 0)) == 3, 'revoke output %r' % cp.stdout)
    refused(gone, 'after its revocation')
    for m in sent:
        st = wyadmin.status(m)
        check(st.state == pb.MESSAGE_STATE_HELD and st.location == 'wy-gone' and
              'hold limit' in st.detail, 'status %r' % st)
    held = told('RECEIPT_KIND_HELD', remote, local, 'HELD')
    for m, (rc, kinds) in held.items():
        check(rc.node == 'uk.westyorks' and 'registrar wy-gone was revoked' in rc.detail,
              'HELD receipt %r' % rc)
        check(kinds.count('RECEIPT_KIND_HELD') == 1, 'receipts %r' % kinds)

    settled = told('RECEIPT_KIND_ESCALATED', remote, local, 'ESCALATED', timeout=60)
    for m, (rc, kinds) in settled.items():
        check(rc.at_ms - held[m][0].at_ms >= SHORT, 'settled before the limit: %r %r' %
              (held[m][0], rc))
        check('registrar wy-gone was revoked and not re-homed past the hold limit' in rc.detail
              and rc.case_id.startswith('uk.westyorks/'), 'ESCALATED receipt %r' % rc)
        check(kinds.count('RECEIPT_KIND_ESCALATED') == 1 and 'RECEIPT_KIND_RELEASED' not in kinds,
              'receipts %r' % kinds)
    # Exactly once: a while later still one case per message, nothing more told.
    time.sleep(SHORT / 1000.0 + 1.5)
    cases = cases_at('uk.westyorks')
    for m in sent:
        mine = [c for c in cases if c.envelope.message_id == m]
        check(len(mine) == 1 and mine[0].reason == cp_.CASE_REASON_REGISTRAR_REVOKED and
              mine[0].id == settled[m][0].case_id and mine[0].state == cp_.CASE_STATE_OPEN,
              'cases %r' % mine)
        check('wy-gone' in mine[0].detail and 'contact the registrar' in mine[0].detail,
              'case detail %r' % mine[0].detail)
        st = wyadmin.status(m)
        check(st.state == pb.MESSAGE_STATE_RECOURSE and st.case_id == mine[0].id,
              'status %r' % st)
    for hub, mids in ((e['lon'], remote), (e['desk'], [local])):
        more = hub.fetch(wait_ms=500)
        for m in mids:
            check(receipts_for(hub, more, m) == [], 'told again: %r' % receipts_for(hub, more, m))
    m = wy_metrics()
    check(m.get('axle_switch_messages_total{event="hold_expired"}') == 3, 'hold_expired %r' %
          m.get('axle_switch_messages_total{event="hold_expired"}'))
    nothing_waits_at_westyorks()


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

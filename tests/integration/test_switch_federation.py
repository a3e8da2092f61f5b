"""test_switch_federation.py -- the switch across three real nodes (uk.london -> uk ->
uk.westyorks): hubs exchange messages with receipts, index fan-out to every index service
under a prefix, a peer down then back (everything arrives exactly once), a suspended
registrar's messages held then released in order, a reply deadline expiring into a receipt
and a recourse case, failure policies, and axlectl. The client is the third-party grpcio.

Steps depend on each other and run in order.
"""

import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import axletest as at  # noqa: E402
from axletest import check, main, test, wait_for  # noqa: E402
from switchtest import INDEX_PURPOSE, Fed, new_id, receipts_for  # noqa: E402

import grpc  # noqa: E402

LON_HUB = 'uk.london.hub'		# the dev federation's member certs
WY_HUB = 'uk.westyorks.hub'
_env = {}


@at.shared_env(_env)
def env():
    f = Fed()
    for r in ('uk.london', 'uk.westyorks'):
        f.wait_registry(r)
    kind = f.stubs.common_pb2.SERVICE_KIND_INDEX
    f.registrar('uk.london', 'lon-hub', LON_HUB, 'axle://%s/member/%s' % (at_fed(), LON_HUB))
    f.registrar('uk.westyorks', 'wy-hub', WY_HUB, 'axle://%s/member/%s' % (at_fed(), WY_HUB))
    idx = {}
    for n in ('idx1', 'idx2'):
        prefix = 'uk.westyorks.%s' % n
        f.registrar('uk.westyorks', 'wy-' + n, prefix, 'axle://%s/member/%s' % (at_fed(), prefix),
                    services=[('%s-index' % n, kind, prefix + '.index')])
        idx[n] = f.fed.issue('member', prefix, name='member-' + n)
    _env.update(f=f, lon=f.hub('uk.london', f.fed.member('uk.london')),
                wy=f.hub('uk.westyorks', f.fed.member('uk.westyorks')),
                idx={n: f.hub('uk.westyorks', c) for n, c in idx.items()})


def at_fed():
    return 'fame-test'


def ids(deliveries, hub, receipts=False):
    return [d.envelope.message_id for d in deliveries if hub.is_receipt(d) == receipts]


# --- steps -------------------------------------------------------------------------------

@test(timeout=180)
def local_send_fetch_ack_with_receipts():
    e = env()
    lon = e['lon']
    mid = new_id()
    r = lon.send(lon.envelope(LON_HUB + '.caseworker', to=LON_HUB + ':desk-1', context='c-local'))
    check(r.kind == lon.pb.RECEIPT_KIND_ACCEPTED and r.message_id != b'', 'receipt %r' % r)
    mid = r.message_id
    got = lon.drain(lambda g: mid in ids(g, lon) and
                    'RECEIPT_KIND_ACKNOWLEDGED' in receipts_for(lon, g, mid), what='local message')
    msg = [d for d in got if d.envelope.message_id == mid][0]
    check(msg.envelope.payload == b'hello' and msg.attempt == 1, 'delivery %r' % msg)
    check([h.region for h in msg.envelope.trace] == ['uk.london'], 'trace %r' % msg.envelope.trace)
    kinds = receipts_for(lon, got, mid)
    check(kinds[:3] == ['RECEIPT_KIND_DELIVERED', 'RECEIPT_KIND_FETCHED',
                        'RECEIPT_KIND_ACKNOWLEDGED'], 'receipts %r' % kinds)
    st = lon.status(mid)
    check(st.state == lon.pb.MESSAGE_STATE_ACKNOWLEDGED and st.location == 'lon-hub', 'status %r' % st)
    # Receipts never get receipts: after draining, nothing further arrives.
    check(lon.fetch(wait_ms=300) == [], 'receipts made more receipts')


@test(timeout=120)
def narrower_member_cannot_read_the_registrar_mailbox():
    # A certificate for part of lon-hub's delegation must not read the
    # mailbox that holds everything addressed under all of it.
    e = env()
    lon = e['lon']
    mid = lon.send(lon.envelope(LON_HUB + '.caseworker', to=LON_HUB + ':desk-2')).message_id
    desk = e['f'].hub('uk.london', e['f'].fed.issue('member', LON_HUB + '.desk', name='member-desk'))
    try:
        for what, call in (('Fetch', lambda: desk.fetch(wait_ms=0)),
                           ('Ack', lambda: desk.ack([mid])),
                           ('Queues', desk.queues)):
            try:
                got = call()
            except grpc.RpcError as err:
                check(err.code() == grpc.StatusCode.PERMISSION_DENIED and
                      'lon-hub' in err.details() and LON_HUB in err.details(),
                      '%s by a narrower member: %s %r' % (what, err.code(), err.details()))
            else:
                raise at.TestFailure('%s by member %s.desk succeeded: %r' % (what, LON_HUB, got))
    finally:
        desk.close()
    lon.drain(lambda g: mid in ids(g, lon), what='the message the narrower member could not read')


@test(timeout=180)
def cross_region_through_the_relay():
    e = env()
    lon, wy = e['lon'], e['wy']
    sent = []
    for i in range(5):
        r = lon.send(lon.envelope(LON_HUB, to=WY_HUB, context='c-x', payload=b'm%d' % i))
        sent.append(r.message_id)
    got = wy.drain(lambda g: set(sent) <= set(ids(g, wy)), what='messages at westyorks')
    mine = [d for d in got if d.envelope.message_id in sent]
    check([d.envelope.message_id for d in mine] == sent, 'order or duplicates: %r' % mine)
    check([h.region for h in mine[0].envelope.trace] == ['uk.london', 'uk', 'uk.westyorks'],
          'trace %r' % [h.region for h in mine[0].envelope.trace])
    check(mine[0].envelope.payload == b'm0', 'payload changed')
    # Delivered and acknowledged receipts travel back through uk to the sender's mailbox.
    back = lon.drain(lambda g: all('RECEIPT_KIND_ACKNOWLEDGED' in receipts_for(lon, g, m)
                                   for m in sent), what='receipts back in london')
    for m in sent:
        kinds = receipts_for(lon, back, m)
        check('RECEIPT_KIND_DELIVERED' in kinds and 'RECEIPT_KIND_FETCHED' in kinds, 'kinds %r' % kinds)
        r = [lon.receipt_of(d) for d in back if lon.is_receipt(d) and lon.receipt_of(d).message_id == m][0]
        check(r.node == 'uk.westyorks', 'receipt node %r' % r.node)
    # The sender's node keeps what the receipts it passed on report: acknowledged there.
    st = lon.status(sent[0])
    check(st.state == lon.pb.MESSAGE_STATE_ACKNOWLEDGED and st.location == 'uk.westyorks' and
          st.node == 'uk.westyorks', 'status at london %r' % st)
    # A member may not ask about others' messages: to westyorks' hub, london's is unknown.
    other = e['idx']['idx1'].status(sent[0])
    check(other.state == lon.pb.MESSAGE_STATE_UNKNOWN, 'foreign status %r' % other)


@test(timeout=180)
def index_fan_out_to_every_index_service():
    e = env()
    lon, f = e['lon'], e['f']
    group = lon.pb.ServiceGroup(kind=f.stubs.common_pb2.SERVICE_KIND_INDEX, prefix='uk.westyorks',
                                message_type='index.query')
    r = lon.send(lon.envelope(LON_HUB, group=group, mtype='index.query', context='idx-1',
                              purpose=INDEX_PURPOSE))
    check(r.kind == lon.pb.RECEIPT_KIND_ACCEPTED, 'receipt %r' % r)
    copies = {}
    for n, hub in e['idx'].items():
        got = hub.drain(lambda g: len(ids(g, hub)) >= 1, what='copy at %s' % n)
        mine = [d for d in got if not hub.is_receipt(d)]
        check(len(mine) == 1, '%s got %d copies' % (n, len(mine)))
        check(mine[0].envelope.to == 'uk.westyorks.%s.index' % n, 'to %r' % mine[0].envelope.to)
        check(mine[0].envelope.context == 'idx-1', 'context lost')
        copies[n] = mine[0].envelope.message_id
    check(len(set(copies.values())) == 2 and r.message_id not in copies.values(),
          'each copy has its own id: %r' % copies)
    # Each copy has its own receipts, back at the sender.
    back = lon.drain(lambda g: all('RECEIPT_KIND_DELIVERED' in receipts_for(lon, g, m)
                                   for m in copies.values()), what='copy receipts')
    check(back, 'no receipts')
    # Nobody else got one (wy-hub publishes no index service).
    check(ids(e['wy'].fetch(wait_ms=200), e['wy']) == [], 'wy-hub got a copy')


@test(timeout=180)
def index_fan_out_across_the_tree_reaches_the_senders_region_too():
    """A group under uk, sent at uk.london, is expanded at uk (the register that is
    authoritative for uk); the copy for uk.london's own index service goes back down to
    uk.london. Regression: that copy carried the group's trace, which names uk.london, and
    opened a ROUTING_LOOP case there instead of being delivered."""
    e = env()
    lon, f = e['lon'], e['f']
    kind = f.stubs.common_pb2.SERVICE_KIND_INDEX
    prefix = 'uk.london.idx'
    f.registrar('uk.london', 'lon-idx', prefix, 'axle://%s/member/%s' % (at_fed(), prefix),
                services=[('lon-index', kind, prefix + '.index')])
    f.wait_resolves('uk', prefix + '.index', 'lon-idx')		# uk expands from its mirror
    lidx = f.hub('uk.london', f.fed.issue('member', prefix, name='member-lon-idx'))
    group = lon.pb.ServiceGroup(kind=kind, prefix='uk', message_type='index.query')
    r = lon.send(lon.envelope(LON_HUB, group=group, mtype='index.query', context='idx-tree',
                              purpose=INDEX_PURPOSE))
    check(r.kind == lon.pb.RECEIPT_KIND_ACCEPTED, 'receipt %r' % r)
    got = lidx.drain(lambda g: len(ids(g, lidx)) >= 1, what='the copy at uk.london.idx')
    mine = [d.envelope for d in got if not lidx.is_receipt(d)]
    check(len(mine) == 1 and mine[0].to == prefix + '.index' and
          mine[0].original_id == r.message_id, 'uk.london.idx got %r' % mine)
    for n, hub in e['idx'].items():
        theirs = [d.envelope for d in hub.drain(lambda g: len(ids(g, hub)) >= 1,
                                                what='copy at %s' % n)
                  if not hub.is_receipt(d) and d.envelope.context == 'idx-tree']
        check(len(theirs) == 1, '%s got %d copies' % (n, len(theirs)))
    for region in ('uk', 'uk.london'):
        cp = f.axlectl(region, '--json', 'cases', 'list', '--all')
        loops = [c['id'] for c in json.loads(cp.stdout).get('cases', [])
                 if 'LOOP' in json.dumps(c).upper()]
        check(not loops, 'routing-loop cases at %s: %s' % (region, loops))


@test(timeout=120)
def unknown_address_goes_to_recourse_or_back():
    e = env()
    lon = e['lon']
    r = lon.send(lon.envelope(LON_HUB, to='uk.london.nobody.here'))
    check(r.case_id.startswith('uk.london/'), 'case id %r (%s)' % (r.case_id, r.detail))
    st = lon.status(r.message_id)
    check(st.state == lon.pb.MESSAGE_STATE_RECOURSE and st.case_id == r.case_id, 'status %r' % st)
    got = lon.drain(lambda g: 'RECEIPT_KIND_ESCALATED' in receipts_for(lon, g, r.message_id),
                    what='escalated receipt')
    # Policy return: back to the sender with the reason; discard: audited, told.
    r2 = lon.send(lon.envelope(LON_HUB, to='uk.london.nobody', policy=lon.pb.FAILURE_POLICY_RETURN))
    r3 = lon.send(lon.envelope(LON_HUB, to='uk.london.nobody', policy=lon.pb.FAILURE_POLICY_DISCARD))
    got = lon.drain(lambda g: 'RECEIPT_KIND_RETURNED' in receipts_for(lon, g, r2.message_id) and
                    'RECEIPT_KIND_DISCARDED' in receipts_for(lon, g, r3.message_id), what='policies')
    check(lon.status(r2.message_id).state == lon.pb.MESSAGE_STATE_RETURNED, 'returned state')
    check(lon.status(r3.message_id).state == lon.pb.MESSAGE_STATE_DISCARDED, 'discarded state')
    # Sending from outside one's prefix is refused before anything is stored.
    try:
        lon.send(lon.envelope('uk.westyorks.hub', to=LON_HUB))
        raise at.TestFailure('sender outside the prefix was accepted')
    except grpc.RpcError as err:
        check(err.code() == grpc.StatusCode.PERMISSION_DENIED, 'code %r' % err.code())


@test(timeout=120)
def duplicate_send_is_idempotent():
    e = env()
    lon, wy = e['lon'], e['wy']
    env_ = lon.envelope(LON_HUB, to=WY_HUB, context='dup')
    r1 = lon.send(env_)
    r2 = lon.send(env_)
    check(r1.message_id == r2.message_id and 'duplicate' in r2.detail, 'second send %r' % r2)
    got = wy.drain(lambda g: r1.message_id in ids(g, wy), what='dup message')
    time.sleep(0.5)
    got += wy.fetch(wait_ms=500)
    check(ids(got, wy).count(r1.message_id) == 1, 'delivered %d times' % ids(got, wy).count(r1.message_id))


@test(timeout=120)
def duplicate_send_tells_where_the_first_went():
    """A retried Send (same id, same sender) is answered as things stand: the recourse case
    that holds the message; another sender reusing the id learns nothing of it."""
    e = env()
    lon = e['lon']
    env_ = lon.envelope(LON_HUB, to='uk.london.nobody.there', context='dup-case')
    r1 = lon.send(env_)
    check(r1.case_id.startswith('uk.london/'), 'first send %r' % r1)
    r2 = lon.send(env_)
    check(r2.kind == lon.pb.RECEIPT_KIND_ACCEPTED and r2.case_id == r1.case_id and
          r2.detail.startswith('duplicate:') and 'in recourse case %s' % r1.case_id in r2.detail,
          'second send %r' % r2)
    # Another sender's envelope under the same id is another message: refused, and the
    # refusal tells nothing of the first one (test_switch_guard.py has the id conflicts).
    other = lon.envelope(LON_HUB + '.desk', to='uk.london.nobody.there', mid=env_.message_id)
    try:
        r3 = lon.send(other)
        raise at.TestFailure('another sender: %r' % r3)
    except grpc.RpcError as err:
        check(err.code() == grpc.StatusCode.ALREADY_EXISTS and 'recourse' not in err.details() and
              r1.case_id not in err.details(), 'another sender %s %r' % (err.code(), err.details()))
    check(len([c for c in lon_cases() if c.envelope.message_id == env_.message_id]) == 1,
          'one case')
    lon.drain(lambda g: 'RECEIPT_KIND_ESCALATED' in receipts_for(lon, g, r1.message_id),
              what='escalated receipt')


def lon_cases():
    f = _env['f']
    rp = f.stubs.recourse_pb2
    with f.channel('uk.london', f.fed.admin('uk.london')) as ch:
        r = f.stubs.recourse_pb2_grpc.RecourseStub(ch).List(rp.ListCasesRequest(
            include_closed=True, page=f.stubs.common_pb2.PageRequest(page_size=1000)), timeout=10)
    return list(r.cases)


@test(timeout=180)
def peer_down_then_back_everything_once():
    e = env()
    f, lon, wy = e['f'], e['lon'], e['wy']
    wy.drain(lambda g: True, what='empty westyorks')
    lon.drain(lambda g: True, what='empty london')
    node = f.nodes['uk.westyorks']
    node.kill()
    sent = [lon.send(lon.envelope(LON_HUB, to=WY_HUB, payload=b'%d' % i, context='down')).message_id
            for i in range(30)]
    # They wait at uk, in its outbox for westyorks, and retries back off.
    admin = f.admin_switch('uk')

    def waiting():
        q = {o.name: o for o in admin.queues().outboxes}
        o = q.get('uk.westyorks')
        return o if o is not None and o.count == 30 and o.retry_attempt >= 1 else None
    o = wait_for(waiting, 30, interval=0.2, what='uk outbox for westyorks holding 30')
    check(o.last_error != '', 'no last error %r' % o)
    # Node.Info tells the operator the same: the peer is down, 30 wait for it.
    _, info = f.nodes['uk'].info(f.fed.admin('uk'))
    peer = [p for p in info.peers if p.region == 'uk.westyorks'][0]
    check(peer.outbox == 30 and peer.state == 'down', 'Node.Info peer %r' % peer)
    node.start()
    wy.reopen()
    got = wy.drain(lambda g: set(sent) <= set(ids(g, wy)), timeout=60, what='messages after restart')
    time.sleep(0.5)
    got += wy.fetch(wait_ms=500)
    seen = ids(got, wy)
    check(all(seen.count(m) == 1 for m in sent), 'not exactly once: %r' % [seen.count(m) for m in sent])
    check([m for m in seen if m in sent] == sent, 'order changed')
    wait_for(lambda: [o for o in admin.queues().outboxes if o.name == 'uk.westyorks'][0].count == 0,
             10, what='uk outbox empty')


@test(timeout=180)
def suspended_registrar_held_then_released_in_order():
    e = env()
    f, lon, wy = e['f'], e['lon'], e['wy']
    rp = f.stubs.registry_pb2
    wy.drain(lambda g: True, what='empty')
    f.set_status('uk.westyorks', 'wy-hub', rp.REGISTRAR_STATUS_SUSPENDED, 'audit')
    sent = [lon.send(lon.envelope(LON_HUB, to=WY_HUB, payload=b'%d' % i, context='held')).message_id
            for i in range(8)]
    wyadmin = f.admin_switch('uk.westyorks')
    wait_for(lambda: sum(q.count for q in wyadmin.queues().held if q.name == 'wy-hub') == 8, 30,
             interval=0.2, what='8 held for wy-hub')
    st = wyadmin.status(sent[0])
    check(st.state == lon.pb.MESSAGE_STATE_HELD, 'status %r' % st)
    back = lon.drain(lambda g: all('RECEIPT_KIND_HELD' in receipts_for(lon, g, m) for m in sent),
                     what='held receipts')
    check(back, 'no held receipts')
    check(ids(wy.fetch(wait_ms=200), wy) == [], 'delivered while suspended')
    r = f.set_status('uk.westyorks', 'wy-hub', rp.REGISTRAR_STATUS_ACTIVE, 'audit passed')
    # Released in the same commit as the status change, and counted.
    check(r.released == 8, 'SetStatus released %d, expected 8' % r.released)
    got = wy.drain(lambda g: set(sent) <= set(ids(g, wy)), what='released')
    check([m for m in ids(got, wy) if m in sent] == sent, 'order after release')
    # Each sender is told of the release too, in the order of the release.
    back = lon.drain(lambda g: all('RECEIPT_KIND_RELEASED' in receipts_for(lon, g, m) for m in sent),
                     what='released receipts')
    rel = [lon.receipt_of(d).message_id for d in back if lon.is_receipt(d) and
           lon.receipt_of(d).kind == lon.pb.RECEIPT_KIND_RELEASED]
    check([m for m in rel if m in sent] == sent, 'released receipts %r' % [
        sent.index(m) for m in rel if m in sent])


@test(timeout=120)
def reply_deadline_expiry_makes_a_receipt_and_a_case():
    e = env()
    lon, wy = e['lon'], e['wy']
    now = int(time.time() * 1000)
    late = lon.send(lon.envelope(LON_HUB, to=WY_HUB, context='pilot-42', reply_by_ms=now + 1500))
    answered = lon.send(lon.envelope(LON_HUB, to=WY_HUB, context='pilot-43', reply_by_ms=now + 4000))
    wy.drain(lambda g: {late.message_id, answered.message_id} <= set(ids(g, wy)), what='both')
    wy.send(wy.envelope(WY_HUB, to=LON_HUB, context='pilot-43', payload=b'reply'))
    got = lon.drain(lambda g: 'RECEIPT_KIND_REPLY_OVERDUE' in receipts_for(lon, g, late.message_id),
                    timeout=30, what='reply overdue receipt')
    r = [lon.receipt_of(d) for d in got if lon.is_receipt(d) and
         lon.receipt_of(d).kind == lon.pb.RECEIPT_KIND_REPLY_OVERDUE][0]
    check(r.case_id.startswith('uk.london/') and 'pilot-42' in r.detail, 'overdue receipt %r' % r)
    # The answered one never becomes overdue (poll past its deadline).
    deadline = time.monotonic() + 6
    while time.monotonic() < deadline:
        got += lon.fetch(wait_ms=300)
        if lon.is_receipt and int(time.time() * 1000) > now + 5000:
            break
    check('RECEIPT_KIND_REPLY_OVERDUE' not in receipts_for(lon, got, answered.message_id),
          'answered message reported overdue')
    check(any(d.envelope.context == 'pilot-43' and not lon.is_receipt(d) for d in got),
          'the reply did not arrive')


@test(timeout=120)
def reject_follows_the_failure_policy():
    e = env()
    lon, wy = e['lon'], e['wy']
    wy.drain(lambda g: True, what='empty')
    r = lon.send(lon.envelope(LON_HUB, to=WY_HUB, context='rej', policy=lon.pb.FAILURE_POLICY_RETURN))
    got = wy.drain(lambda g: r.message_id in ids(g, wy), ack=False, what='to reject')
    rr = wy.reject(r.message_id, 'schema unknown')
    check(rr.receipt.kind == lon.pb.RECEIPT_KIND_RETURNED, 'reject receipt %r' % rr)
    back = lon.drain(lambda g: 'RECEIPT_KIND_RETURNED' in receipts_for(lon, g, r.message_id),
                     what='returned receipt')
    check('RECEIPT_KIND_REJECTED' in receipts_for(lon, back, r.message_id), 'no rejected receipt')
    check(got, 'nothing fetched')


@test(timeout=120)
def axlectl_send_fetch_status_outbox():
    e = env()
    f = e['f']
    hub = f.fed.member('uk.london')
    cp = f.axlectl('uk.london', '--json', 'send', '--to', WY_HUB, '--from', LON_HUB,
                   '--type', 'note.v1', '--context', 'ctl', cred=hub)
    out = json.loads(cp.stdout)
    mid = out['receipt']['message_id']
    check(out['receipt']['kind'] == 'ACCEPTED', 'send %r' % out)
    wyhub = f.fed.member('uk.westyorks')

    def fetched():
        cp = f.axlectl('uk.westyorks', '--json', 'fetch', '--max', '10', '--wait-ms', '500', cred=wyhub)
        return [d for d in json.loads(cp.stdout) if d['envelope']['context'] == 'ctl']
    got = wait_for(fetched, 30, interval=0.2, what='axlectl fetch')
    hexid = got[0]['envelope']['message_id']
    check(hexid == mid, 'fetched id %r, sent %r (both hex)' % (hexid, mid))
    f.axlectl('uk.westyorks', 'ack', hexid, cred=wyhub)
    # The sender's node follows it: acknowledged at westyorks, as its receipts say.
    def acknowledged():
        cp = f.axlectl('uk.london', 'status', hexid, cred=hub)
        rows = dict(line.split(None, 1) for line in cp.stdout.splitlines() if ' ' in line)
        return rows if rows.get('state') == 'acknowledged' else None
    rows = wait_for(acknowledged, 30, interval=0.2, what='axlectl status: acknowledged')
    check(rows.get('node') == 'uk.westyorks' and rows.get('location') == 'uk.westyorks',
          'status rows %r' % rows)
    cp = f.axlectl('uk', 'outbox')
    check('uk.westyorks' in cp.stdout and 'uk.london' in cp.stdout, 'outbox: %r' % cp.stdout)
    cp = f.axlectl('uk.london', '--json', 'mailbox', cred=hub)
    check('mailboxes' in json.loads(cp.stdout) or True, 'mailbox json')
    check(mid, 'no id')


@test
def metrics_count_switch_events():
    e = env()
    m = e['f'].nodes['uk.london'].metrics(e['f'].fed.admin('uk.london'))
    check(m.get('axle_switch_messages_total{event="accepted"}', 0) >= 10, 'accepted %r' % m)
    check('axle_switch_outbox{peer="uk"}' in m, 'outbox gauge missing')
    check(m.get('axle_switch_messages_total{event="escalated"}', 0) >= 1, 'escalated')


@test(timeout=120)
def nodes_stop_cleanly_with_parked_fetches():
    """SIGTERM with a Fetch long-poll parked and messages in outboxes: exit 0 (an ASan
    build also checks for leaks here), and a restart finds everything in place."""
    e = env()
    f, lon, wy = e['f'], e['lon'], e['wy']
    import threading
    parked = threading.Thread(target=lambda: _quiet(lambda: wy.fetch(wait_ms=20000, timeout=30)),
                              daemon=True)
    parked.start()
    f.nodes['uk'].kill()
    r = lon.send(lon.envelope(LON_HUB, to=WY_HUB, context='stop'))
    time.sleep(0.3)
    for region in ('uk.westyorks', 'uk.london'):
        f.nodes[region].stop()
    parked.join(30)
    for region in ('uk', 'uk.london', 'uk.westyorks'):
        f.nodes[region].start()
    lon.reopen()
    wy.reopen()
    got = wy.drain(lambda g: r.message_id in ids(g, wy), what='message after restarts')
    check(ids(got, wy).count(r.message_id) == 1, 'once')
    for region in REGIONS_ALL:
        f.nodes[region].stop()


REGIONS_ALL = ('uk', 'uk.london', 'uk.westyorks')


def _quiet(fn):
    try:
        fn()
    except grpc.RpcError:
        pass


def after_failure(name):
    if 'f' in _env:
        _env['f'].log_tails()


if __name__ == '__main__':
    main(after_failure)

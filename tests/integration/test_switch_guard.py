"""test_switch_guard.py -- message ids and group sends on real nodes (uk.london -> uk ->
uk.westyorks), with the third-party grpcio as client.

Message ids: a retried Send of the same envelope is answered as before (ACCEPTED, "duplicate:");
the same id with other content is refused with ALREADY_EXISTS naming the conflict, and the first
message is the only one delivered. Node to node: a peer forwarding the same envelope again gets
DUPLICATE, a different envelope under a used id is REFUSED (not to be retried), and the node that
forwarded it settles it by its failure policy: its sender gets the ESCALATED receipt naming the
conflict.

Group sends: the Send answer lists each copy (id and address); each copy's receipts name the
group message (original_id); a copy held for a suspended registrar and released is reported
DELIVERED when it reaches the mailbox; `axlectl send --to-group` prints the copies.

Steps depend on each other and run in order.
"""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import axletest as at  # noqa: E402
import grpc  # noqa: E402
from axletest import check, main, test, wait_for  # noqa: E402
from switchtest import INDEX_PURPOSE, Fed, new_id, receipts_for  # noqa: E402

FED = 'fame-test'
LON_HUB = 'uk.london.hub'
WY_HUB = 'uk.westyorks.hub'
IDX = ('idx1', 'idx2')		# index services under uk.london, one registrar each
_env = {}


@at.shared_env(_env)
def env():
    f = Fed(prefix='axle-swguard-')
    f.leaf_hubs()
    kind = f.stubs.common_pb2.SERVICE_KIND_INDEX
    idx = {}
    for n in IDX:
        prefix = 'uk.london.%s' % n
        f.registrar('uk.london', 'lon-' + n, prefix, 'axle://%s/member/%s' % (FED, prefix),
                    services=[('%s-index' % n, kind, prefix + '.index')])
        idx[n] = f.fed.issue('member', prefix, name='member-' + n)
    _env.update(f=f, lon=f.hub('uk.london', f.fed.member('uk.london')),
                wy=f.hub('uk.westyorks', f.fed.member('uk.westyorks')),
                idxcred=idx, idx={n: f.hub('uk.london', c) for n, c in idx.items()})


def ids(deliveries, hub):
    return [d.envelope.message_id for d in deliveries if not hub.is_receipt(d)]


def receipts(hub, deliveries, mid):
    return [hub.receipt_of(d) for d in deliveries
            if hub.is_receipt(d) and hub.receipt_of(d).message_id == mid]


def refused(call, code):
    try:
        got = call()
    except grpc.RpcError as err:
        check(err.code() == code, 'expected %s, got %s %r' % (code, err.code(), err.details()))
        return err.details()
    raise at.TestFailure('expected %s, got an answer: %r' % (code, got))


# --- message ids ------------------------------------------------------------------------

@test(timeout=120)
def identical_retry_is_answered_as_a_duplicate():
    e = env()
    lon, wy = e['lon'], e['wy']
    env_ = lon.envelope(LON_HUB, to=WY_HUB, context='retry', payload=b'first')
    r1 = lon.send(env_)
    r2 = lon.send(env_)
    check(r2.kind == lon.pb.RECEIPT_KIND_ACCEPTED and r2.detail.startswith('duplicate:'),
          'identical retry %r' % r2)
    # The same envelope with its addresses in another case is the same envelope.
    upper = lon.envelope(LON_HUB.upper(), to=WY_HUB.upper(), context='retry', payload=b'first',
                         mid=env_.message_id)
    r3 = lon.send(upper)
    check(r3.detail.startswith('duplicate:'), 'case-folded retry %r' % r3)
    got = wy.drain(lambda g: r1.message_id in ids(g, wy), what='the retried message')
    time.sleep(0.3)
    got += wy.fetch(wait_ms=300)
    check(ids(got, wy).count(r1.message_id) == 1, 'delivered %d times' %
          ids(got, wy).count(r1.message_id))


@test(timeout=120)
def same_id_other_content_is_refused():
    e = env()
    lon, wy = e['lon'], e['wy']
    first = lon.envelope(LON_HUB, to=WY_HUB, context='conflict', payload=b'the referral')
    mid = lon.send(first).message_id
    hexid = mid.hex()
    for what, other in (
            ('payload', lon.envelope(LON_HUB, to=WY_HUB, context='conflict', payload=b'other',
                                     mid=mid)),
            ('recipient', lon.envelope(LON_HUB, to=WY_HUB + '.desk', context='conflict',
                                       payload=b'the referral', mid=mid)),
            ('message type', lon.envelope(LON_HUB, to=WY_HUB, context='conflict', mtype='x.v2',
                                          payload=b'the referral', mid=mid))):
        why = refused(lambda: lon.send(other), grpc.StatusCode.ALREADY_EXISTS)
        check(hexid in why and 'different' in why and 'new message id' in why,
              '%s changed: %r' % (what, why))
    # Another sender reusing the id is refused too, and learns nothing of the first message.
    other = lon.envelope(LON_HUB + '.desk', to=WY_HUB, context='conflict', payload=b'x', mid=mid)
    why = refused(lambda: lon.send(other), grpc.StatusCode.ALREADY_EXISTS)
    check(hexid in why and 'westyorks' not in why and 'forwarded' not in why.lower(),
          'another sender %r' % why)
    got = wy.drain(lambda g: mid in ids(g, wy), what='the first message')
    time.sleep(0.3)
    got += wy.fetch(wait_ms=300)
    mine = [d for d in got if d.envelope.message_id == mid]
    check(len(mine) == 1 and mine[0].envelope.payload == b'the referral',
          'delivered %r' % [(d.envelope.payload, d.envelope.to) for d in mine])
    f = e['f']
    m = f.nodes['uk.london'].metrics(f.fed.admin('uk.london'))
    check(m.get('axle_switch_messages_total{event="conflict"}', 0) >= 4,
          'conflict counter %r' % m.get('axle_switch_messages_total{event="conflict"}'))
    check('event=switch_id_conflict' in f.nodes['uk.london'].log_text(), 'no log line')


def forward_as_uk(envs):
    """Calls Axle.Forward on uk.westyorks with uk's node certificate, as uk's outbox does."""
    f = _env['f']
    with f.channel('uk.westyorks', f.fed.node('uk')) as ch:
        stub = f.stubs.axle_pb2_grpc.AxleStub(ch)
        return stub.Forward(f.stubs.axle_pb2.ForwardRequest(envelopes=envs), timeout=10).results


def from_uk(lon, mid, payload):
    env_ = lon.envelope(LON_HUB, to=WY_HUB, context='fwd', payload=payload, mid=mid)
    env_.created_ms = int(time.time() * 1000)
    env_.hop_limit = 16
    env_.trace.add(region='uk.london', at_ms=env_.created_ms)
    env_.trace.add(region='uk', at_ms=env_.created_ms)
    return env_


@test(timeout=120)
def forward_of_a_used_id_with_other_content_is_refused():
    e = env()
    lon, wy = e['lon'], e['wy']
    ap = e['f'].stubs.axle_pb2
    mid = new_id()
    a = from_uk(lon, mid, b'version a')
    r = forward_as_uk([a])
    check(r[0].outcome == ap.FORWARD_OUTCOME_COMMITTED, 'first forward %r' % r)
    r = forward_as_uk([a])
    check(r[0].outcome == ap.FORWARD_OUTCOME_DUPLICATE, 'identical forward %r' % r)
    r = forward_as_uk([from_uk(lon, mid, b'version b')])
    check(r[0].outcome == ap.FORWARD_OUTCOME_REFUSED and not r[0].retry and
          mid.hex() in r[0].reason and 'different' in r[0].reason, 'other content %r' % r)
    got = wy.drain(lambda g: mid in ids(g, wy), what='the forwarded message')
    time.sleep(0.3)
    got += wy.fetch(wait_ms=300)
    mine = [d.envelope.payload for d in got if d.envelope.message_id == mid]
    check(mine == [b'version a'], 'delivered %r' % mine)


@test(timeout=180)
def conflict_at_the_next_node_reaches_the_sender():
    """uk.westyorks already holds id X (another message); london's hub sends X: london and uk
    accept it (new to them), westyorks refuses it, and uk settles it by its failure policy: a
    case, and the ESCALATED receipt back at the sender naming the conflict."""
    e = env()
    lon = e['lon']
    mid = new_id()
    r = forward_as_uk([from_uk(lon, mid, b'already there')])
    check(r[0].outcome == e['f'].stubs.axle_pb2.FORWARD_OUTCOME_COMMITTED, 'setup %r' % r)
    r = lon.send(lon.envelope(LON_HUB, to=WY_HUB, context='fwd', payload=b'new content', mid=mid))
    check(r.kind == lon.pb.RECEIPT_KIND_ACCEPTED and not r.detail.startswith('duplicate'),
          'london took it: %r' % r)
    got = lon.drain(lambda g: any(x.kind == lon.pb.RECEIPT_KIND_ESCALATED
                                  for x in receipts(lon, g, mid)), what='the ESCALATED receipt')
    esc = [x for x in receipts(lon, got, mid) if x.kind == lon.pb.RECEIPT_KIND_ESCALATED][0]
    check(esc.node == 'uk' and esc.case_id.startswith('uk/') and 'different' in esc.detail and
          'uk.westyorks' in esc.detail, 'receipt %r' % esc)
    f = e['f']
    rp = f.stubs.recourse_pb2
    with f.channel('uk', f.fed.admin('uk')) as ch:
        c = f.stubs.recourse_pb2_grpc.RecourseStub(ch).Show(
            rp.ShowCaseRequest(id=esc.case_id), timeout=10)
    case = c.record
    check(rp.CaseReason.Name(case.reason) == 'CASE_REASON_MESSAGE_ID_CONFLICT',
          'case reason %s' % rp.CaseReason.Name(case.reason))


# --- group sends --------------------------------------------------------------------------

def group(lon):
    f = _env['f']
    return lon.pb.ServiceGroup(kind=f.stubs.common_pb2.SERVICE_KIND_INDEX, prefix='uk.london',
                               message_type='index.query')


def send_group(lon, context):
    stub = lon.stub
    return stub.Send(lon.envelope(LON_HUB, group=group(lon), mtype='index.query',
                                  context=context, purpose=INDEX_PURPOSE), timeout=10)


@test(timeout=180)
def group_send_lists_its_copies_and_receipts_name_the_original():
    e = env()
    lon = e['lon']
    resp = send_group(lon, 'grp-1')
    gid = resp.receipt.message_id
    copies = {c.to: c.message_id for c in resp.copies}
    check(sorted(copies) == ['uk.london.%s.index' % n for n in IDX], 'copies %r' % resp.copies)
    check(gid not in copies.values() and len(set(copies.values())) == 2, 'ids %r' % copies)
    check('2 copies' in resp.receipt.detail, 'detail %r' % resp.receipt.detail)
    for n in IDX:
        hub = e['idx'][n]
        got = hub.drain(lambda g: copies['uk.london.%s.index' % n] in ids(g, hub),
                        what='copy at %s' % n)
        mine = [d for d in got if not hub.is_receipt(d)]
        check([d.envelope.message_id for d in mine] == [copies['uk.london.%s.index' % n]],
              '%s got %r' % (n, mine))
        check(mine[0].envelope.original_id == gid, 'copy names its group message')
    back = lon.drain(lambda g: all('RECEIPT_KIND_ACKNOWLEDGED' in receipts_for(lon, g, m)
                                   for m in copies.values()), what='copy receipts')
    for m in copies.values():
        rs = receipts(lon, back, m)
        check(rs and all(x.original_id == gid for x in rs),
              'receipts of copy %s: %r' % (m.hex(), [(x.kind, x.original_id.hex()) for x in rs]))


@test(timeout=180)
def released_copy_is_reported_delivered():
    e = env()
    lon, f = e['lon'], e['f']
    rp = f.stubs.registry_pb2
    f.set_status('uk.london', 'lon-idx2', rp.REGISTRAR_STATUS_SUSPENDED, 'audit')
    resp = send_group(lon, 'grp-held')
    gid = resp.receipt.message_id
    copies = {c.to: c.message_id for c in resp.copies}
    held = copies['uk.london.idx2.index']
    got = lon.drain(lambda g: 'RECEIPT_KIND_HELD' in receipts_for(lon, g, held) and
                    'RECEIPT_KIND_DELIVERED' in receipts_for(lon, g, copies['uk.london.idx1.index']),
                    what='HELD receipt of the copy')
    check('RECEIPT_KIND_DELIVERED' not in receipts_for(lon, got, held), 'held copy delivered')
    f.set_status('uk.london', 'lon-idx2', rp.REGISTRAR_STATUS_ACTIVE, 'audit done')
    got += lon.drain(lambda g: 'RECEIPT_KIND_DELIVERED' in receipts_for(lon, g, held),
                     what='DELIVERED after the release')
    kinds = receipts_for(lon, got, held)
    check(kinds.index('RECEIPT_KIND_HELD') < kinds.index('RECEIPT_KIND_RELEASED') <
          kinds.index('RECEIPT_KIND_DELIVERED'), 'order %r' % kinds)
    check(all(x.original_id == gid for x in receipts(lon, got, held)), 'original ids')
    hub = e['idx']['idx2']
    got = hub.drain(lambda g: held in ids(g, hub), what='the released copy')
    check(ids(got, hub).count(held) == 1, 'fetched %r' % ids(got, hub))
    st = lon.status(held)
    check(st.state in (lon.pb.MESSAGE_STATE_ACKNOWLEDGED, lon.pb.MESSAGE_STATE_IN_FLIGHT),
          'status %r' % st)


@test(timeout=120)
def axlectl_send_to_group_prints_the_copies():
    e = env()
    f = e['f']
    out = f.axlectl('uk.london', 'send', '--to-group', 'index:uk.london', '--from', LON_HUB,
                    '--type', 'index.query', '--purpose', INDEX_PURPOSE,
                    cred=f.fed.member('uk.london')).stdout
    check('copies' in out and 'uk.london.idx1.index' in out and 'uk.london.idx2.index' in out,
          'axlectl send --to-group:\n%s' % out)
    lines = [ln for ln in out.splitlines() if '.index' in ln]
    check(len(lines) == 2 and all(len(ln.split()[0]) == 32 for ln in lines),
          'one line per copy, id first:\n%s' % out)


def after_failure(name):
    if 'f' in _env:
        _env['f'].log_tails()


if __name__ == '__main__':
    main(after_failure)

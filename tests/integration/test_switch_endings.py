"""test_switch_endings.py -- every way a message ends, seen by its sender, on three real
nodes (uk.london -> uk <- uk.westyorks; uk is the root of recourse).

A redirect is delivered wherever it goes: into the node that decided it, into the
message's own origin region, into a sibling region and into the root's own region. Every
terminal action (deliver, redirect, return, discard, expiry) ends with a receipt in the
sender's mailbox and a final Status at the sender's own node, which follows its message
through the receipts it receives. A return gives the sender its envelope back.

Each step sends its own messages: the steps share only the federation.
"""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import axletest as at  # noqa: E402
from axletest import check, main, test, wait_for  # noqa: E402
from switchtest import FED, Fed, receipts_for  # noqa: E402

LON, WY, UK = 'uk.london', 'uk.westyorks', 'uk'
LON_HUB, WY_HUB, UK_HUB = LON + '.hub', WY + '.hub', UK + '.hub'
HELD = WY + '.held'		# a registrar suspended for the expiry steps
HOLD_LIMIT_MS = 3000
WAIT = 30
_env = {}


@at.shared_env(_env)
def env():
    f = Fed(prefix='axle-end-', node_extra='\n[switch]\nhold_limit_ms = %d\n' % HOLD_LIMIT_MS)
    for r in (LON, WY, UK):
        f.wait_registry(r)
    for region, rid, prefix in ((LON, 'lon-hub', LON_HUB), (WY, 'wy-hub', WY_HUB),
                                (UK, 'uk-hub', UK_HUB), (WY, 'wy-held', HELD)):
        f.registrar(region, rid, prefix, 'axle://%s/member/%s' % (FED, prefix))
    rp = f.stubs.registry_pb2
    f.set_status(WY, 'wy-held', rp.REGISTRAR_STATUS_SUSPENDED, 'on leave')
    _env.update(f=f, lon=f.hub(LON, f.fed.member(LON)), wy=f.hub(WY, f.fed.member(WY)),
                uk=f.hub(UK, f.fed.member(UK)))

    # uk must resolve the leaves' hubs (mirrored registers) before redirects go there.
    def mirrored():
        for prefix, rid in ((LON_HUB, 'lon-hub'), (WY_HUB, 'wy-hub')):
            r = f.registry(UK, 'Resolve', rp.ResolveRequest(address=prefix), f.fed.member(UK))
            if r.registrar.id != rid:
                return False
        return True
    wait_for(mirrored, WAIT, interval=0.2, what='uk resolves the leaves\' hubs')


def rec(region, method, req):
    f = _env['f']
    with f.channel(region, f.fed.admin(region)) as ch:
        return getattr(f.stubs.recourse_pb2_grpc.RecourseStub(ch), method)(req, timeout=10)


def case_of(region, mid):
    rp = _env['f'].stubs.recourse_pb2
    r = rec(region, 'List', rp.ListCasesRequest(
        include_closed=True, page=_env['f'].stubs.common_pb2.PageRequest(page_size=1000)))
    for c in r.cases:
        if c.envelope.message_id == mid:
            return c
    return None


def send_unknown(note, policy=0):
    """From london's hub to an address nobody serves in london: a case at uk.london."""
    lon = _env['lon']
    r = lon.send(lon.envelope(LON_HUB + '.sender', to=LON + '.nobody.' + note.replace(' ', '-'),
                              context='end-' + note.replace(' ', '-'), payload=b'opaque ' + note.encode(),
                              policy=policy))
    check(r.case_id.startswith(LON + '/'), '%s: case id %r (%s)' % (note, r.case_id, r.detail))
    return r.message_id, r.case_id


def escalate_to_root(mid, cid):
    """uk.london's admin hands the case up; returns the root's open case."""
    rp = _env['f'].stubs.recourse_pb2
    rec(LON, 'Escalate', rp.EscalateCaseRequest(id=cid, reason='for the root'))

    def at_root():
        c = case_of(UK, mid)
        return c if c is not None and c.state == rp.CASE_STATE_OPEN else None
    return wait_for(at_root, WAIT, interval=0.2, what='case %s open at the root' % cid)


def redirect(region, cid, to):
    rp = _env['f'].stubs.recourse_pb2
    r = rec(region, 'Redirect', rp.RedirectCaseRequest(id=cid, to=to, reason='corrected address'))
    check(r.record.state == rp.CASE_STATE_RESOLVED, 'redirect at %s: %r' % (region, r.record.state))


def collect(hub, want, what):
    """Drains hub's mailbox until want(everything it ever delivered in this file); returns
    that whole list (the london hub is both a sender and a recipient: nothing is lost)."""
    log = _env.setdefault('log', {}).setdefault(hub.region, [])
    if want(log):
        return log
    log += hub.drain(lambda g: want(log + g), what=what)
    return log


def delivered_once(hub, mid, to):
    got = collect(hub, lambda g: any(d.envelope.message_id == mid for d in g),
                  'the redirected message at %s' % hub.region)
    mine = [d for d in got if d.envelope.message_id == mid]
    time.sleep(0.5)
    more = hub.fetch(wait_ms=300)
    if more:
        hub.ack([d.envelope.message_id for d in more])
        _env['log'][hub.region] += more
    mine += [d for d in more if d.envelope.message_id == mid]
    check(len(mine) == 1, 'delivered %d times' % len(mine))
    check(mine[0].envelope.to == to and mine[0].envelope.payload.startswith(b'opaque '),
          'delivered %r' % mine[0].envelope)


def sender_told(mid, kinds):
    """Waits for receipts of each kind in kinds (names) in london's hub mailbox; returns them."""
    lon = _env['lon']
    got = collect(lon, lambda g: all(k in receipts_for(lon, g, mid) for k in kinds),
                  'receipts %s at the sender' % (kinds,))
    return [lon.receipt_of(d) for d in got if lon.is_receipt(d) and
            lon.receipt_of(d).message_id == mid], got


def status_becomes(mid, state, what):
    """Status at the sender's own node reaches state (a MESSAGE_STATE_* name)."""
    lon = _env['lon']
    want = lon.pb.MessageState.Value(state)
    last = []

    def ok():
        st = lon.status(mid)
        last[:] = [st]
        return st if st.state == want else None
    try:
        return wait_for(ok, WAIT, interval=0.2, what=what)
    except at.TestFailure:
        raise at.TestFailure('%s: status at %s stays %s (%r)' % (
            what, LON, lon.pb.MessageState.Name(last[0].state), last[0].detail))


# --- deliver: Status follows a message into another region ---------------------------------

@test(timeout=120)
def status_follows_a_delivery_in_another_region():
    env()
    lon, wy = _env['lon'], _env['wy']
    mid = lon.send(lon.envelope(LON_HUB, to=WY_HUB, context='end-deliver')).message_id
    collect(wy, lambda g: any(d.envelope.message_id == mid for d in g), 'message at westyorks')
    sender_told(mid, ['RECEIPT_KIND_DELIVERED', 'RECEIPT_KIND_ACKNOWLEDGED'])
    st = status_becomes(mid, 'MESSAGE_STATE_ACKNOWLEDGED', 'acknowledged at westyorks')
    check(WY in st.location and WY in st.detail, 'status %r' % st)


@test(timeout=120)
def status_names_a_case_at_another_node():
    """Held at westyorks past the hold limit, policy escalate: a case there. The sender's
    node says where: in recourse, the case id, at westyorks."""
    env()
    lon = _env['lon']
    mid = lon.send(lon.envelope(LON_HUB, to=HELD, context='end-case')).message_id
    rs, _ = sender_told(mid, ['RECEIPT_KIND_HELD', 'RECEIPT_KIND_ESCALATED'])
    esc = [r for r in rs if r.kind == lon.pb.RECEIPT_KIND_ESCALATED][0]
    check(esc.case_id.startswith(WY + '/') and esc.node == WY, 'receipt %r' % esc)
    st = status_becomes(mid, 'MESSAGE_STATE_RECOURSE', 'in a case at westyorks')
    check(st.case_id == esc.case_id and st.location == esc.case_id and st.node == WY and
          'hold limit' in st.detail, 'status %r' % st)
    check(len(st.receipts) == 1 and st.receipts[0].kind == lon.pb.RECEIPT_KIND_ESCALATED and
          st.receipts[0].case_id == esc.case_id, 'receipts kept %r' % list(st.receipts))


# --- redirect: delivered wherever it goes ----------------------------------------------------

def redirected(note, at, hub, to):
    """A case about a message from london's hub, redirected by at's admin (escalated from
    uk.london to the root first if at is the root) to `to`, which hub fetches: delivered
    once there, the sender told, and Status at london acknowledged. Returns (receipts, status)."""
    env()
    mid, cid = send_unknown(note)
    if at == UK:
        escalate_to_root(mid, cid)
    redirect(at, cid, to)
    delivered_once(_env[hub], mid, to)
    rs, _ = sender_told(mid, ['RECEIPT_KIND_REDIRECTED', 'RECEIPT_KIND_DELIVERED',
                              'RECEIPT_KIND_ACKNOWLEDGED'])
    st = status_becomes(mid, 'MESSAGE_STATE_ACKNOWLEDGED', '%s: redirected at %s to %s, '
                        'acknowledged' % (note, at, to))
    check('recourse' not in st.detail, 'status %r' % st)
    return rs, st


@test(timeout=120)
def redirect_at_the_same_node():
    redirected('same node', LON, 'lon', LON_HUB + ':desk-same')


@test(timeout=120)
def redirect_at_the_root_into_the_origin_region():
    redirected('origin region', UK, 'lon', LON_HUB + ':desk-origin')


@test(timeout=120)
def redirect_at_the_root_into_a_sibling_region():
    rs, st = redirected('sibling region', UK, 'wy', WY_HUB + ':desk-sibling')
    check(any(r.node == WY for r in rs if r.kind == _env['lon'].pb.RECEIPT_KIND_DELIVERED),
          'receipts %r' % rs)
    check(WY in st.location and WY in st.detail, 'status %r' % st)


@test(timeout=120)
def redirect_at_the_root_into_its_own_region():
    rs, st = redirected('root region', UK, 'uk', UK_HUB + ':desk-root')
    check(UK in st.location, 'status %r' % st)


# --- return: the envelope comes back -------------------------------------------------------

def returned_message(got, mid):
    lon = _env['lon']
    back = [d for d in got if d.envelope.message_type == 'axle.returned' and
            d.envelope.returned.original_id == mid]
    check(len(back) == 1, 'returned messages for %s: %d' % (mid.hex(), len(back)))
    return back[0].envelope


@test(timeout=120)
def return_at_the_root_gives_the_envelope_back():
    env()
    lon = _env['lon']
    mid, cid = send_unknown('return root')
    escalate_to_root(mid, cid)
    rp = _env['f'].stubs.recourse_pb2
    rec(UK, 'ReturnToSender', rp.ReturnCaseRequest(id=cid, reason='nobody here by that name'))
    got = collect(lon, lambda g: 'RECEIPT_KIND_RETURNED' in receipts_for(lon, g, mid) and
                  any(d.envelope.message_type == 'axle.returned' and
                      d.envelope.returned.original_id == mid for d in g),
                  'the return at the sender')
    e = returned_message(got, mid)
    check(e.to == LON_HUB + '.sender' and e.payload == b'opaque return root' and
          e.returned.original_to == LON + '.nobody.return-root' and
          'nobody here by that name' in e.returned.reason and e.returned.node == UK and
          e.returned.case_id == cid, 'returned envelope %r' % e)
    r = [lon.receipt_of(d) for d in got if lon.is_receipt(d) and
         lon.receipt_of(d).message_id == mid and lon.receipt_of(d).kind == lon.pb.RECEIPT_KIND_RETURNED][0]
    check(r.detail.startswith('returned') and 'nobody here by that name' in r.detail, 'receipt %r' % r)
    st = status_becomes(mid, 'MESSAGE_STATE_RETURNED', 'returned at uk')
    check(UK in st.detail, 'status %r' % st)


@test(timeout=120)
def return_by_policy_past_the_hold_limit():
    """Held for a suspended registrar in another region past the hold limit, policy return:
    the envelope comes back, and the receipt reads as a return, not as case advice."""
    env()
    lon = _env['lon']
    mid = lon.send(lon.envelope(LON_HUB, to=HELD, context='end-hold', payload=b'opaque held',
                                policy=lon.pb.FAILURE_POLICY_RETURN)).message_id
    got = collect(lon, lambda g: 'RECEIPT_KIND_RETURNED' in receipts_for(lon, g, mid) and
                  any(d.envelope.message_type == 'axle.returned' and
                      d.envelope.returned.original_id == mid for d in g),
                  'the return past the hold limit')
    check('RECEIPT_KIND_HELD' in receipts_for(lon, got, mid), 'held receipt missing')
    e = returned_message(got, mid)
    check(e.payload == b'opaque held' and e.returned.node == WY and e.returned.original_to == HELD,
          'returned envelope %r' % e)
    r = [lon.receipt_of(d) for d in got if lon.is_receipt(d) and
         lon.receipt_of(d).message_id == mid and lon.receipt_of(d).kind == lon.pb.RECEIPT_KIND_RETURNED][0]
    check(r.detail.startswith('returned') and 'redirect or return' not in r.detail and
          'hold limit' in r.detail, 'receipt detail %r' % r.detail)
    status_becomes(mid, 'MESSAGE_STATE_RETURNED', 'returned at westyorks')


# --- discard -----------------------------------------------------------------------------------

@test(timeout=120)
def discard_at_the_same_node_tells_the_sender():
    env()
    mid, cid = send_unknown('discard here')
    rp = _env['f'].stubs.recourse_pb2
    rec(LON, 'Discard', rp.DiscardCaseRequest(id=cid, reason='test message, not needed'))
    rs, _ = sender_told(mid, ['RECEIPT_KIND_DISCARDED'])
    d = [r for r in rs if r.kind == _env['lon'].pb.RECEIPT_KIND_DISCARDED][0]
    check('test message, not needed' in d.detail and d.case_id == cid, 'receipt %r' % d)
    status_becomes(mid, 'MESSAGE_STATE_DISCARDED', 'discarded at london')


@test(timeout=120)
def discard_at_the_root_tells_the_sender():
    env()
    mid, cid = send_unknown('discard root')
    escalate_to_root(mid, cid)
    rp = _env['f'].stubs.recourse_pb2
    rec(UK, 'Discard', rp.DiscardCaseRequest(id=cid, reason='duplicate referral'))
    rs, _ = sender_told(mid, ['RECEIPT_KIND_DISCARDED'])
    d = [r for r in rs if r.kind == _env['lon'].pb.RECEIPT_KIND_DISCARDED][0]
    check('duplicate referral' in d.detail and d.node == UK, 'receipt %r' % d)
    st = status_becomes(mid, 'MESSAGE_STATE_DISCARDED', 'discarded at uk')
    check('duplicate referral' in st.detail, 'status %r' % st)


# --- expiry --------------------------------------------------------------------------------------

@test(timeout=120)
def expiry_in_another_region_ends_in_status():
    """Held at westyorks, its delivery deadline passes, policy discard: told, and Status."""
    env()
    lon = _env['lon']
    mid = lon.send(lon.envelope(LON_HUB, to=HELD, context='end-expiry',
                                deliver_by_ms=int(time.time() * 1000) + 1500,
                                policy=lon.pb.FAILURE_POLICY_DISCARD)).message_id
    rs, got = sender_told(mid, ['RECEIPT_KIND_DISCARDED'])
    d = [r for r in rs if r.kind == lon.pb.RECEIPT_KIND_DISCARDED][0]
    check('deadline' in d.detail, 'receipt %r' % d)
    st = status_becomes(mid, 'MESSAGE_STATE_DISCARDED', 'expired at westyorks')
    check('deadline' in st.detail, 'status %r' % st)


def after_failure(name):
    f = _env.get('f')
    if f is not None:
        f.log_tails(25)


if __name__ == '__main__':
    main(after_failure)

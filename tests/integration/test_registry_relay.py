"""test_registry_relay.py -- the register spread through a tree by relayed feeds.

A tree of real nodes over mTLS, each peered only with its parent and children:

    uk ---- uk.london
     \\---- uk.westyorks ---- uk.westyorks.leeds

uk.london's register reaches uk.westyorks.leeds three hops away (uk.london -> uk ->
uk.westyorks -> leeds), each hop serving the feed as the origin signed it; leeds resolves
and discovers London's services, and still does with uk.london stopped (and after a
restart of its own). A fake node (this process, holding the real certificate of
uk.fake, an axletest.FakeNode) relays uk.london's genuine feed with one entry altered to uk.victim, whose only
peer it is: uk.victim's mirror stops and names the relay. Steps run in order.
"""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import axletest as at  # noqa: E402
from axletest import (Node, Workspace, check, free_port, grpc_stubs, main,  # noqa: E402
                      make_federation, test, wait_for)

import grpc  # noqa: E402

FED = 'fame-test'
ROOT, LON, WY, LEEDS = 'uk', 'uk.london', 'uk.westyorks', 'uk.westyorks.leeds'
FAKE, VICTIM, VICTIM2, VICTIM3 = 'uk.fake', 'uk.victim', 'uk.victim2', 'uk.victim3'
SOCIAL = 'uk.london.lewisham.social-care'
WAIT = 30		# seconds: three hops of long polls on a loaded machine
EXTRA = '\n[registry]\nmirror_interval_ms = 100\n'
_env = {}


def fake_relay(cred, origins_fn, feed_fn):
    """uk.fake played by this process: Origins and Feed answered by the functions
    (a Feed function returning None: UNAVAILABLE), anything else UNIMPLEMENTED."""
    def answer(path, req):
        if path.endswith('/Origins'):
            return 0, origins_fn(req), None
        if path.endswith('/Feed'):
            out = feed_fn(req)
            return (0, out, None) if out is not None else (14, None, 'no such feed here')
        return 12, None, None
    return at.FakeNode(cred, answer)


@at.shared_env(_env)
def env():
    ws = Workspace(prefix='axle-relay-')
    fed = make_federation(ws, FED, [ROOT, LON, WY, LEEDS, FAKE, VICTIM, VICTIM2, VICTIM3])
    stubs = grpc_stubs(ws)
    ports = {r: free_port() for r in (ROOT, LON, WY, LEEDS, VICTIM, VICTIM2, VICTIM3)}
    tree = {ROOT: (LON, WY), LON: (ROOT,), WY: (ROOT, LEEDS), LEEDS: (WY,)}
    nodes = {}
    for r, peers in tree.items():
        nodes[r] = Node(ws, fed, r, port=ports[r], extra=EXTRA,
                        peers=[(p, '127.0.0.1:%d' % ports[p]) for p in peers],
                        log_level=os.environ.get('REG_LOG', 'debug'))
    hub = fed.issue('member', 'uk.london.lewisham.hub', name='lewisham-hub')
    _env.update(ws=ws, fed=fed, stubs=stubs, nodes=nodes, hub=hub, ports=ports)


def _read(path):
    with open(path, 'rb') as f:
        return f.read()


def channel(port, cred):
    e = env()
    creds = grpc.ssl_channel_credentials(root_certificates=_read(e['fed'].ca_pem),
                                         private_key=_read(cred.key),
                                         certificate_chain=_read(cred.chain))
    return grpc.secure_channel('localhost:%d' % port, creds)


def call(region, service, method, req, cred=None):
    e = env()
    with channel(e['ports'][region], cred or e['fed'].admin(region)) as ch:
        stub = getattr(getattr(e['stubs'], service[0] + '_pb2_grpc'), service[1] + 'Stub')(ch)
        return getattr(stub, method)(req, timeout=10)


def reg(region, method, req, cred=None):
    return call(region, ('registry', 'Registry'), method, req, cred)


def pb():
    return env()['stubs'].registry_pb2


def resolve(region, address):
    return reg(region, 'Resolve', pb().ResolveRequest(address=address),
               env()['fed'].member(region))


def origins(region):
    r = call(region, ('axle', 'Axle'), 'Origins', env()['stubs'].axle_pb2.OriginsRequest())
    return {o.region: o for o in r.origins}


def wait_resolves(region, address, registrar):
    def ok():
        try:
            r = resolve(region, address)
        except grpc.RpcError:
            return None
        return r if r.registrar.id == registrar else None
    return wait_for(ok, WAIT, interval=0.2, what='%s resolves to %s at %s'
                    % (address, registrar, region))


# --- steps ----------------------------------------------------------------------------

@test(timeout=180)
def leaf_resolves_and_discovers_three_hops_away():
    e, p = env(), pb()
    # The root's register too (an empty feed has nothing to relay).
    reg(ROOT, 'Delegate', p.DelegateRequest(
        registrar_id='gds', prefix='uk.gds', display_name='GDS',
        cert_identity='axle://%s/member/uk.gds.hub' % FED))
    reg(LON, 'Delegate', p.DelegateRequest(
        registrar_id='lewisham', prefix='uk.london.lewisham', display_name='Lewisham',
        cert_identity='axle://%s/member/uk.london.lewisham.hub' % FED))
    reg(LON, 'PublishService', p.PublishServiceRequest(
        registrar_id='lewisham', service=p.Service(
            name='lewisham-switch', kind=e['stubs'].common_pb2.SERVICE_KIND_SWITCH,
            message_types=['case.referral'], address='uk.london.lewisham.switch',
            description='Lewisham social care switch')), cred=e['hub'])
    for region in (WY, LEEDS):
        r = wait_resolves(region, SOCIAL, 'lewisham')
        check(r.outcome == p.RESOLVE_OUTCOME_MATCHED and r.from_mirror
              and r.serving_node == LON and r.matched_prefix == 'uk.london.lewisham',
              '%s: %r' % (region, r))

    def found():
        r = call(LEEDS, ('registry', 'Portal'), 'Discover', p.DiscoverRequest(
            kind=e['stubs'].common_pb2.SERVICE_KIND_SWITCH, prefix='uk.london'),
            cred=e['fed'].member(LEEDS))
        return r if [d.service.name for d in r.services] == ['lewisham-switch'] else None
    d = wait_for(found, WAIT, interval=0.2, what='Discover at leeds').services[0]
    check(d.region == LON and d.from_mirror, 'discovered %r' % d)
    # An unknown London address names London's region, not the root.
    r = resolve(LEEDS, 'uk.london.southwark.x')
    check(r.outcome == p.RESOLVE_OUTCOME_REGION and r.closest_encloser == LON
          and r.serving_node == LON, 'region outcome at leeds: %r' % r)
    # Where leeds has each feed from, and how far away its origin is.
    o = origins(LEEDS)
    check(o[LON].via == WY and o[LON].hops == 3 and o[LON].seq >= 2 and not o[LON].broken,
          'uk.london at leeds: %r' % o[LON])
    check(o[WY].via == WY and o[WY].hops == 1, 'uk.westyorks at leeds: %r' % o[WY])
    wait_resolves(LEEDS, 'uk.gds.x', 'gds')
    o = origins(LEEDS)
    check(o[ROOT].via == WY and o[ROOT].hops == 2, 'uk at leeds: %r' % o[ROOT])


@test(timeout=180)
def a_change_reaches_the_leaf():
    e, p = env(), pb()
    reg(LON, 'Delegate', p.DelegateRequest(
        registrar_id='camden', prefix='uk.london.camden', display_name='Camden',
        cert_identity='axle://%s/member/uk.london.camden.hub' % FED))
    wait_resolves(LEEDS, 'uk.london.camden.x', 'camden')
    # And upwards and across: leeds's register at uk.london.
    reg(LEEDS, 'Delegate', p.DelegateRequest(
        registrar_id='leeds-cc', prefix='uk.westyorks.leeds.cc', display_name='Leeds CC',
        cert_identity='axle://%s/member/uk.westyorks.leeds.cc.hub' % FED))
    wait_resolves(LON, 'uk.westyorks.leeds.cc.x', 'leeds-cc')
    o = origins(LON)[LEEDS]
    check(o.via == ROOT and o.hops == 3, 'leeds at uk.london: %r' % o)


@test(timeout=180)
def leaf_resolves_while_origin_down():
    e, p = env(), pb()
    e['nodes'][LON].stop()
    r = resolve(LEEDS, SOCIAL)
    check(r.registrar.id == 'lewisham' and r.from_mirror, 'origin down: %r' % r)
    # The leaf restarts meanwhile: what it mirrored still answers.
    e['nodes'][LEEDS].stop()
    e['nodes'][LEEDS].start()
    r = resolve(LEEDS, SOCIAL)
    check(r.registrar.id == 'lewisham' and r.outcome == p.RESOLVE_OUTCOME_MATCHED
          and r.serving_node == LON, 'origin down, leaf restarted: %r' % r)
    # Its relay keeps serving it as signed: the leaf finds where to pull it again.
    wait_for(lambda: origins(LEEDS).get(LON) and origins(LEEDS)[LON].via == WY, WAIT,
             interval=0.2, what='leeds pulls uk.london via uk.westyorks again')
    e['nodes'][LON].start()
    reg(LON, 'Delegate', p.DelegateRequest(
        registrar_id='hackney', prefix='uk.london.hackney', display_name='Hackney',
        cert_identity='axle://%s/member/uk.london.hackney.hub' % FED))
    wait_resolves(LEEDS, 'uk.london.hackney.x', 'hackney')


def _feed_from_root(req_bytes, tamper):
    """uk.london's genuine feed, as uk relays it to any node (asked as uk.fake)."""
    e = env()
    a = e['stubs'].axle_pb2
    req = a.FeedRequest.FromString(req_bytes)
    if req.region not in (LON, ROOT):
        return None		# uk.fake's own feed: it has none to give
    req.wait_ms = 0
    with channel(e['ports'][ROOT], e['fed'].node(FAKE)) as ch:
        resp = e['stubs'].axle_pb2_grpc.AxleStub(ch).Feed(req, timeout=10)
    if tamper:
        for ent in resp.entries:
            if ent.registrar.id == 'lewisham':
                ent.registrar.display_name = 'Lewisham (redirected)'
                break
    return resp.SerializeToString()


@test(timeout=180)
def tampering_relay_is_detected_and_named():
    e = env()
    a = e['stubs'].axle_pb2

    def offer(_req):
        return a.OriginsResponse(origins=[a.OriginHead(
            region=LON, seq=origins(ROOT)[LON].seq, hops=1, via=LON)]).SerializeToString()
    fake = fake_relay(e['fed'].node(FAKE), offer, lambda b: _feed_from_root(b, True))
    e['fake'] = fake
    e['nodes'][VICTIM] = Node(e['ws'], e['fed'], VICTIM, port=e['ports'][VICTIM],
                              extra=EXTRA, peers=[(FAKE, '127.0.0.1:%d' % fake.port)],
                              log_level='debug')

    def stopped():
        o = origins(VICTIM).get(LON)
        return o if o is not None and o.broken else None
    o = wait_for(stopped, WAIT, interval=0.2, what='uk.victim stops its mirror of uk.london')
    check('relay uk.fake' in o.reason and 'was modified' in o.reason and o.via == FAKE,
          'the mirror names the relay: %r' % o)
    check('/axle.v1.Axle/Feed' in fake.calls, 'the fake was asked for the feed: %r' % fake.calls)
    # Nothing of the altered feed was applied.
    r = resolve(VICTIM, SOCIAL)
    check(r.outcome != env()['stubs'].registry_pb2.RESOLVE_OUTCOME_MATCHED,
          'an altered entry was applied: %r' % r)
    check('relay uk.fake' in e['nodes'][VICTIM].log_text(), 'log names the relay')


class Withholder:
    """uk.fake relaying uk.london honestly (what uk relays), until frozen: then it
    keeps answering with the last head it served, genuine but old."""

    def __init__(self, root_too=False):
        self.frozen = False
        self.last = None
        self.root_too = root_too	# also relays uk's feed, honestly

    def offer(self, _req):
        a = env()['stubs'].axle_pb2
        o = origins(ROOT)[LON]
        if self.frozen:		# it says nothing newer either
            o = a.OriginHead(region=LON, seq=self.last.head.seq,
                             head_signed_ms=self.last.head.signed_ms)
        out = [a.OriginHead(region=LON, seq=o.seq, hops=0, head_signed_ms=o.head_signed_ms)]
        if self.root_too:
            r = origins(ROOT)[ROOT]
            out.append(a.OriginHead(region=ROOT, seq=r.seq, hops=0,
                                    head_signed_ms=r.head_signed_ms))
        return a.OriginsResponse(origins=out).SerializeToString()

    def feed(self, req_bytes):
        e = env()
        a = e['stubs'].axle_pb2
        req = a.FeedRequest.FromString(req_bytes)
        if req.region == ROOT and self.root_too:
            return _feed_from_root(req_bytes, False)
        if req.region != LON:
            return None
        if self.frozen and self.last is not None:
            return a.FeedResponse(head=self.last.head).SerializeToString()
        resp = a.FeedResponse.FromString(_feed_from_root(req_bytes, False))
        if not resp.entries and resp.HasField('head'):
            self.last = resp
        return resp.SerializeToString()


@test(timeout=180)
def withholding_relay_is_named():
    e, p = env(), pb()
    w = Withholder()
    fake = fake_relay(e['fed'].node(FAKE), w.offer, w.feed)
    e['nodes'][VICTIM2] = Node(
        e['ws'], e['fed'], VICTIM2, port=e['ports'][VICTIM2], log_level='debug',
        extra=EXTRA + 'relay_stale_ms = 1000\n',
        peers=[(FAKE, '127.0.0.1:%d' % fake.port), (ROOT, '127.0.0.1:%d' % e['ports'][ROOT])])
    seq = origins(ROOT)[LON].seq

    def via_fake_at_head():
        o = origins(VICTIM2).get(LON)
        return o if o is not None and o.via == FAKE and o.seq == seq and w.last else None
    wait_for(via_fake_at_head, WAIT, interval=0.2, what='uk.victim2 mirrors uk.london via uk.fake')
    w.frozen = True
    time.sleep(1.5)		# past relay_stale_ms: what uk.fake serves is now old
    reg(LON, 'Delegate', p.DelegateRequest(
        registrar_id='islington', prefix='uk.london.islington', display_name='Islington',
        cert_identity='axle://%s/member/uk.london.islington.hub' % FED))

    def named():
        o = origins(VICTIM2).get(LON)
        return o if o is not None and 'relay uk.fake withheld' in o.reason else None
    o = wait_for(named, WAIT, interval=0.2, what='uk.victim2 names uk.fake for withholding')
    check(o.via == ROOT and not o.broken, 'pulled from uk now: %r' % o)
    wait_resolves(VICTIM2, 'uk.london.islington.x', 'islington')
    check('event=mirror_relay_stale' in e['nodes'][VICTIM2].log_text(), 'logged')
    time.sleep(6)		# another round of offers: uk.fake is not taken back
    check(origins(VICTIM2)[LON].via == ROOT, 'went back to the withholding relay')


@test(timeout=180)
def withholding_relay_is_named_in_a_tree():
    """uk.victim3's only peer is uk.fake: one path, as in a tree. The root's admin
    publishes uk.london's node in the register; when what uk.fake serves grows older
    than relay_stale_ms, uk.victim3 asks uk.london itself (an axle on demand, pinned to
    its identity), pulls the later entry from it and names uk.fake."""
    e, p = env(), pb()
    reg(ROOT, 'PublishNode', p.PublishNodeRequest(
        region=LON, endpoint='127.0.0.1:%d' % e['ports'][LON]))
    root_seq = origins(ROOT)[ROOT].seq
    w = Withholder(root_too=True)
    fake = fake_relay(e['fed'].node(FAKE), w.offer, w.feed)
    e['nodes'][VICTIM3] = Node(
        e['ws'], e['fed'], VICTIM3, port=e['ports'][VICTIM3], log_level='debug',
        extra=EXTRA + 'relay_stale_ms = 1000\n', peers=[(FAKE, '127.0.0.1:%d' % fake.port)])
    seq = origins(ROOT)[LON].seq

    def ready():
        o = origins(VICTIM3)
        lon, root = o.get(LON), o.get(ROOT)
        return (lon is not None and lon.via == FAKE and lon.seq == seq and w.last and
                root is not None and root.seq >= root_seq)
    wait_for(ready, 2 * WAIT, interval=0.2, what='uk.victim3 mirrors uk and uk.london via uk.fake')
    check('event=peer_published peer=%s' % LON in e['nodes'][VICTIM3].log_text(),
          'uk.victim3 did not learn uk.london\'s node from the register')
    w.frozen = True
    time.sleep(1.5)		# past relay_stale_ms: what uk.fake serves is now old
    reg(LON, 'Delegate', p.DelegateRequest(
        registrar_id='barnet', prefix='uk.london.barnet', display_name='Barnet',
        cert_identity='axle://%s/member/uk.london.barnet.hub' % FED))

    def named():
        o = origins(VICTIM3).get(LON)
        return o if o is not None and 'relay uk.fake withheld' in o.reason else None
    o = wait_for(named, WAIT, interval=0.2, what='uk.victim3 names uk.fake for withholding')
    check(o.via == LON and not o.broken, 'pulled from the origin now: %r' % o)
    wait_resolves(VICTIM3, 'uk.london.barnet.x', 'barnet')
    check('event=peer_open peer=%s' % LON in e['nodes'][VICTIM3].log_text(),
          'no axle on demand to the origin')


def _after_failure(name):
    for r, n in _env.get('nodes', {}).items():
        print('--- %s log tail ---\n%s' % (r, n.log_tail(30)))


if __name__ == '__main__':
    main(_after_failure)

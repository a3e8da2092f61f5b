"""test_threats.py -- threats of docs/security.md against real nodes: a peer forwarding
traffic whose route does not pass through the callee; a message forwarded twice when the
answer to a Forward is lost (the connection cut, or the sending node killed -9 between the
peer's commit and its own) and delivered once; payloads never in logs, metrics or recourse
text; hostile values (envelope fields, reasons, notes, a peer's error message) unable to
forge a log line.

Two nodes peer directly, both at log level debug: uk.london (L) and uk.westyorks (W). L
reaches W through a TCP relay in this process (TLS passes through it untouched) that can
swallow W's answers or cut the connection. L also peers with uk.scotland, played by this
process with that region's node certificate: it answers every call UNAVAILABLE with a
hostile grpc-message. Steps share the nodes and run in order.
"""

import base64
import os
import re
import socket
import sys
import threading
import time
import urllib.parse
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import axletest as at  # noqa: E402
from axletest import (GRPC_OK, GRPC_PERMISSION_DENIED, Node, Workspace, check,  # noqa: E402
                      free_port, grpc_stubs, main, make_federation, test, wait_for)
from switchtest import FED, Fed, new_id  # noqa: E402

import grpc  # noqa: E402

LON, WY, SCOT = 'uk.london', 'uk.westyorks', 'uk.scotland'
LON_HUB, WY_HUB = LON + '.hub', WY + '.hub'
FORWARD = '/axle.v1.Axle/Forward'
# What the fake uk.scotland node says: a whole forged log line after a newline.
PEER_LIE = ('peer down\nts=2030-01-01T00:00:00.000Z level=error event=forged_by_peer '
            'injected_key=1 note="x"')
_env = {}


# --- a relay that can swallow answers, and a hostile peer ------------------------------

class Relay:
    """TCP relay 127.0.0.1:port -> 127.0.0.1:target. With `swallow` set, bytes from
    the target are dropped (a lost answer); cut() closes every relayed connection."""

    def __init__(self, target):
        self.target = target
        self.swallow = threading.Event()
        self.lock = threading.Lock()
        self.socks = []
        self.lsock = socket.socket()
        self.lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.lsock.bind((at.HOST, 0))
        self.lsock.listen(16)
        self.lsock.settimeout(0.2)
        self.port = self.lsock.getsockname()[1]
        self.stopped = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while not self.stopped:
            try:
                a, _ = self.lsock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            try:
                b = socket.create_connection((at.HOST, self.target), timeout=5)
            except OSError:
                a.close()
                continue
            a.settimeout(None)
            b.settimeout(None)
            with self.lock:
                self.socks += [a, b]
            threading.Thread(target=self._pipe, args=(a, b, False), daemon=True).start()
            threading.Thread(target=self._pipe, args=(b, a, True), daemon=True).start()

    def _pipe(self, src, dst, answers):
        try:
            while True:
                d = src.recv(65536)
                if not d:
                    break
                if answers and self.swallow.is_set():
                    continue
                dst.sendall(d)
        except OSError:
            pass
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def cut(self):
        with self.lock:
            socks, self.socks = self.socks, []
        for s in socks:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()


class LyingPeer(at.FakeNode):
    """A fake node with a node's certificate; every call ends UNAVAILABLE with
    grpc-message PEER_LIE (percent-encoded as gRPC says)."""

    def __init__(self, cred):
        msg = urllib.parse.quote(PEER_LIE, safe=' !"#$&\'()*+,-./:;<=>?@[\\]^_`{|}~')
        super().__init__(cred, lambda path, req: (14, None, msg))


# --- the federation ------------------------------------------------------------------

class Pair(Fed):
    """switchtest.Fed's helpers over two directly peered nodes (see the module doc)."""

    def __init__(self):		# not Fed.__init__: another topology
        self.ws = Workspace(prefix='axle-threats-')
        self.fed = make_federation(self.ws, FED, [LON, WY, SCOT])
        self.stubs = grpc_stubs(self.ws)
        self.ports = {LON: free_port(), WY: free_port()}
        self.relay = Relay(self.ports[WY])
        self.liar = LyingPeer(self.fed.node(SCOT))
        extra = '\n[registry]\nmirror_interval_ms = 200\n'
        self.nodes = {
            WY: Node(self.ws, self.fed, WY, port=self.ports[WY], log_level='debug',
                     peers=[(LON, '127.0.0.1:%d' % self.ports[LON])], extra=extra),
            LON: Node(self.ws, self.fed, LON, port=self.ports[LON], log_level='debug',
                      peers=[(WY, '127.0.0.1:%d' % self.relay.port),
                             (SCOT, '127.0.0.1:%d' % self.liar.port)], extra=extra),
        }

    def recourse(self, region, method, req):
        with self.channel(region, self.fed.admin(region)) as ch:
            return getattr(self.stubs.recourse_pb2_grpc.RecourseStub(ch), method)(req, timeout=10)


@at.shared_env(_env)
def env():
    f = Pair()
    for r in (LON, WY):
        f.wait_registry(r)
    f.registrar(LON, 'lon-hub', LON_HUB, 'axle://%s/member/%s' % (FED, LON_HUB))
    f.registrar(WY, 'wy-hub', WY_HUB, 'axle://%s/member/%s' % (FED, WY_HUB))
    _env.update(f=f, lon=f.hub(LON, f.fed.member(LON)), wy=f.hub(WY, f.fed.member(WY)),
                lon_admin=f.admin_switch(LON), wy_admin=f.admin_switch(WY))


def ids(deliveries, hub):
    return [d.envelope.message_id for d in deliveries if not hub.is_receipt(d)]


def state(hub, mid):
    return hub.pb.MessageState.Name(hub.status(mid).state)


# Handed on by L: FORWARDED, or what W's receipts report since (L keeps the latest).
HANDED_ON = ('MESSAGE_STATE_FORWARDED', 'MESSAGE_STATE_MAILBOX', 'MESSAGE_STATE_IN_FLIGHT',
             'MESSAGE_STATE_ACKNOWLEDGED')


def metric(node, cred, key):
    return node.metrics(cred).get(key, 0)


ACCEPTED = 'axle_switch_messages_total{event="accepted"}'
ESCALATED = 'axle_switch_messages_total{event="escalated"}'
DUPLICATE = 'axle_switch_messages_total{event="duplicate"}'


def envelope(pb, sender, to=None, trace=(), group=None, payload=b'p'):
    now = int(time.time() * 1000)
    e = pb.Envelope(message_id=new_id(), sender=sender, message_type='note.v1',
                    context='threats', created_ms=now, content_type='text/plain',
                    payload=payload, trace=[pb.TraceHop(region=r, at_ms=now) for r in trace])
    if group is not None:
        e.to_group.CopyFrom(group)
    else:
        e.to = to
    return e


def forward(client, stubs, envs):
    """One Axle.Forward on an open H2Client. Returns (status, message, results)."""
    req = stubs.axle_pb2.ForwardRequest(envelopes=envs)
    r = client.grpc_unary(FORWARD, req.SerializeToString(), timeout=15)
    results = []
    if r.grpc_status == GRPC_OK:
        check(len(r.messages) == 1, 'Forward answered %d messages: %r' % (len(r.messages), r))
        results = list(stubs.axle_pb2.ForwardResponse.FromString(r.messages[0]).results)
    return r.grpc_status, r.grpc_message, results


def outcome(stubs, res):
    return stubs.axle_pb2.ForwardOutcome.Name(res.outcome)


def nothing_of(e, mids, what):
    """No record of any of mids at W: no state, no case, never in the mailbox."""
    for m in mids:
        st = state(e['wy_admin'], m)
        check(st == 'MESSAGE_STATE_UNKNOWN', '%s: W has a record of %s: %s' % (what, m.hex(), st))
    rp = e['f'].stubs.recourse_pb2
    cases = e['f'].recourse(WY, 'List', rp.ListCasesRequest(include_closed=True)).cases
    hit = [c.id for c in cases if c.envelope.message_id in mids]
    check(not hit, '%s: W opened cases %s' % (what, hit))


# --- 1. forwarding traffic whose route does not pass through the callee -------------

@test(timeout=180)
def forward_off_route_refused_per_envelope():
    """A legitimate peer (L's node identity) forwards to W envelopes whose route does not
    pass through W: a recipient in a third region or in the caller's own (W would bounce
    it back), a group prefix outside W, a trace whose last hop is not the caller. Each is
    REFUSED (not retried) with its reason and leaves no trace at W; in the same batch and
    on the same connection a legitimate envelope is committed and delivered once."""
    e = env()
    f, wy = e['f'], e['wy']
    pb, st = f.stubs.envelope_pb2, f.stubs
    W = f.nodes[WY]
    wycred = f.fed.admin(WY)
    wy.drain(lambda g: True, what='an empty W mailbox')
    acc0, esc0 = metric(W, wycred, ACCEPTED), metric(W, wycred, ESCALATED)
    kind = f.stubs.common_pb2.SERVICE_KIND_INDEX
    outside = "is outside this node's region uk.westyorks: its route does not pass through"
    last_hop = 'trace: the forwarding node uk.london must be its last hop'
    bad = [
        ('recipient in a third region', envelope(pb, LON_HUB, 'uk.scotland.hub', [LON]),
         'to: uk.scotland.hub ' + outside),
        ("recipient in the caller's own region", envelope(pb, LON_HUB, LON_HUB + ':desk', [LON]),
         'to: uk.london.hub ' + outside),
        ('recipient above the callee', envelope(pb, LON_HUB, 'uk.hub', [LON]),
         'to: uk.hub ' + outside),
        ('group prefix elsewhere', envelope(pb, LON_HUB, trace=[LON],
                                            group=pb.ServiceGroup(kind=kind, prefix='uk.london')),
         'to_group.prefix: uk.london ' + outside),
        ('group prefix above the callee', envelope(pb, LON_HUB, trace=[LON],
                                                   group=pb.ServiceGroup(kind=kind, prefix='uk')),
         'to_group.prefix: uk ' + outside),
        ('last hop another node', envelope(pb, 'uk.scotland.hub', WY_HUB, [SCOT]), last_hop),
        ('caller not last', envelope(pb, LON_HUB, WY_HUB, [LON, SCOT]), last_hop),
        ('no trace', envelope(pb, LON_HUB, WY_HUB, []), last_hop),
    ]
    c = W.connect(f.fed.node(LON))
    try:
        status, msg, res = forward(c, st, [b[1] for b in bad])
        check(status == GRPC_OK, 'Forward of off-route envelopes: status %s %r' % (status, msg))
        check(len(res) == len(bad), '%d results for %d envelopes' % (len(res), len(bad)))
        for (what, env_, want), r in zip(bad, res):
            check(r.message_id == env_.message_id, '%s: result names another message' % what)
            check(outcome(st, r) == 'FORWARD_OUTCOME_REFUSED' and not r.retry,
                  '%s: %s retry=%s %r' % (what, outcome(st, r), r.retry, r.reason))
            check(r.reason.startswith(want), '%s: reason %r, want %r...' % (what, r.reason, want))
        # A batch mixing them with a legitimate envelope: only that one is taken.
        good = envelope(pb, LON_HUB, WY_HUB, [LON], payload=b'good')
        b1, b2 = envelope(pb, LON_HUB, 'uk.scotland.hub', [LON]), envelope(pb, LON_HUB, WY_HUB, [SCOT])
        status, msg, res = forward(c, st, [b1, good, b2])
        check(status == GRPC_OK, 'mixed batch: %s %r' % (status, msg))
        check([outcome(st, r) for r in res] == ['FORWARD_OUTCOME_REFUSED', 'FORWARD_OUTCOME_COMMITTED',
                                                'FORWARD_OUTCOME_REFUSED'],
              'mixed batch outcomes %r' % [(outcome(st, r), r.reason) for r in res])
        refused = [b[1].message_id for b in bad] + [b1.message_id, b2.message_id]
        nothing_of(e, refused, 'refused envelopes')
        # The refusal is logged for the operator, once per call.
        lines = [l for l in W.log_text().splitlines() if 'event=switch_forward_refused' in l]
        check(any('peer=uk.london refused=%d envelopes=%d ' % (len(bad), len(bad)) in l
                  for l in lines) and any('refused=2 envelopes=3 first_id=%s ' % b1.message_id.hex()
                                          in l for l in lines), 'refusal log lines %r' % lines)
        # Still the same connection: a legitimate Forward is committed, a repeat is a duplicate.
        again = envelope(pb, LON_HUB, WY_HUB, [LON], payload=b'again')
        status, msg, res = forward(c, st, [again])
        check(status == GRPC_OK and [outcome(st, r) for r in res] == ['FORWARD_OUTCOME_COMMITTED'],
              'legitimate Forward after the refusals: %s %r %r' % (status, msg, res))
        status, msg, res = forward(c, st, [again])
        check(status == GRPC_OK and [outcome(st, r) for r in res] == ['FORWARD_OUTCOME_DUPLICATE'],
              'the same envelope again: %s %r %r' % (status, msg, res))
        check(not c.eof and c.goaway is None, 'the connection did not stay open')
    finally:
        c.close()
    got = wy.drain(lambda g: {good.message_id, again.message_id} <= set(ids(g, wy)),
                   what='the legitimate envelopes at W')
    time.sleep(0.3)
    got += wy.fetch(wait_ms=300)
    seen = ids(got, wy)
    check(sorted(seen) == sorted([good.message_id, again.message_id]),
          'W delivered %r' % [m.hex() for m in seen])
    check([d.envelope.payload for d in got if d.envelope.message_id == good.message_id] == [b'good'],
          'payload of the legitimate envelope')
    check(metric(W, wycred, ACCEPTED) - acc0 == 2, 'W accepted %d, want 2'
          % (metric(W, wycred, ACCEPTED) - acc0))
    check(metric(W, wycred, ESCALATED) == esc0, 'W opened cases for refused envelopes')


@test(timeout=120)
def forward_from_non_peer_member_or_admin_denied():
    """A node of the federation that W does not peer with, and a member and an admin,
    call Axle.Forward on W with a well-formed envelope: PERMISSION_DENIED, nothing kept."""
    e = env()
    f = e['f']
    pb, st = f.stubs.envelope_pb2, f.stubs
    W = f.nodes[WY]
    callers = [
        ('node uk.scotland (not a peer)', f.fed.node(SCOT), SCOT,
         'node uk.scotland is not a peer of node uk.westyorks'),
        ('member uk.westyorks.hub', f.fed.member(WY), LON, 'only peer nodes may call this'),
        ('admin of uk.westyorks', f.fed.admin(WY), LON, 'only peer nodes may call this'),
        ('admin of uk.london', f.fed.admin(LON), LON, 'only peer nodes may call this'),
    ]
    mids = []
    for what, cred, hop, want in callers:
        env_ = envelope(pb, hop + '.hub', WY_HUB, [hop])
        mids.append(env_.message_id)
        c = W.connect(cred)
        try:
            status, msg, res = forward(c, st, [env_])
        finally:
            c.close()
        check(status == GRPC_PERMISSION_DENIED and want in msg,
              '%s: status %s %r, want PERMISSION_DENIED %r' % (what, status, msg, want))
    nothing_of(e, mids, 'denied callers')
    check(e['wy'].fetch(wait_ms=300) == [], 'W delivered something from a denied caller')


# --- 2. duplicate delivery by retry --------------------------------------------------

def lose_answers_until_w_commits(e, payload):
    """L's hub sends to W while the relay swallows W's answers: returns the message id
    once W committed it and L, which never heard so, still holds it in its outbox."""
    f, lon = e['f'], e['lon']
    # A live connection from L to W first: the swallowing must not stall a handshake.
    warm = lon.send(lon.envelope(LON_HUB, to=WY_HUB, payload=b'warm', context='warm')).message_id
    wait_for(lambda: state(e['lon_admin'], warm) in HANDED_ON, 30, interval=0.1,
             what='a warm-up message forwarded')
    f.relay.swallow.set()
    mid = lon.send(lon.envelope(LON_HUB, to=WY_HUB, payload=payload, context='lost-answer')).message_id
    wait_for(lambda: state(e['wy_admin'], mid) == 'MESSAGE_STATE_MAILBOX', 30, interval=0.1,
             what='W to commit the message whose answer is lost')
    time.sleep(0.3)		# L's Forward call stays unanswered
    check(state(e['lon_admin'], mid) == 'MESSAGE_STATE_OUTBOX',
          'L no longer holds it: %s' % state(e['lon_admin'], mid))
    return mid


def delivered_once(e, mid, payload):
    wy = e['wy']
    got = wy.drain(lambda g: mid in ids(g, wy), what='the message at W')
    time.sleep(0.5)
    got += wy.fetch(wait_ms=500)
    check(ids(got, wy).count(mid) == 1, 'delivered %d times' % ids(got, wy).count(mid))
    check([d.envelope.payload for d in got if d.envelope.message_id == mid] == [payload], 'payload')


def forwarded_and_outbox_empty(e, mid):
    wait_for(lambda: state(e['lon_admin'], mid) in HANDED_ON, 30, interval=0.1,
             what='L to drop the message once W said DUPLICATE')
    wait_for(lambda: [o.count for o in e['lon_admin'].queues().outboxes if o.name == WY] == [0], 20,
             interval=0.1, what="L's outbox for W empty")


@test(timeout=180)
def reforward_after_lost_answer_delivered_once():
    """W commits a forwarded message but its answer never reaches L; the connection is
    cut; L forwards it again; W answers DUPLICATE and its hub gets the message once. Then
    the hub, unsure of its own Send, sends the same envelope again: a duplicate at L."""
    e = env()
    f, lon, wy = e['f'], e['lon'], e['wy']
    W, cred = f.nodes[WY], f.fed.admin(WY)
    wy.drain(lambda g: True, what='an empty W mailbox')
    dup0 = metric(W, cred, DUPLICATE)
    try:
        mid = lose_answers_until_w_commits(e, b'cut')
    finally:
        f.relay.swallow.clear()	# then cut: no connection is left half swallowed
        f.relay.cut()
    forwarded_and_outbox_empty(e, mid)
    check(metric(W, cred, DUPLICATE) > dup0, 'W counted no duplicate: was it forwarded again?')
    delivered_once(e, mid, b'cut')
    # The hub's own retry long after: the same message id is a duplicate at L.
    again = lon.envelope(LON_HUB, to=WY_HUB, payload=b'cut', context='lost-answer', mid=mid)
    r = lon.send(again)
    check(r.message_id == mid and 'duplicate' in r.detail, 'hub retry: %r' % r)
    check(ids(wy.fetch(wait_ms=700), wy) == [], 'the hub retry reached W')


@test(timeout=180)
def reforward_after_kill_9_between_commits_delivered_once():
    """As above, but L is killed -9 after W committed and before L heard so; W's hub has
    fetched and acknowledged it meanwhile. Restarted, L forwards it again from its durable
    outbox; W answers DUPLICATE (after the acknowledgement too) and nothing is delivered
    twice."""
    e = env()
    f, wy = e['f'], e['wy']
    W, cred = f.nodes[WY], f.fed.admin(WY)
    wy.drain(lambda g: True, what='an empty W mailbox')
    dup0 = metric(W, cred, DUPLICATE)
    try:
        mid = lose_answers_until_w_commits(e, b'kill')
        f.nodes[LON].kill()
    finally:
        f.relay.swallow.clear()	# then cut: no connection is left half swallowed
        f.relay.cut()
    delivered_once(e, mid, b'kill')	# fetched and acknowledged before L is back
    check(state(e['wy_admin'], mid) == 'MESSAGE_STATE_ACKNOWLEDGED', 'not acknowledged at W')
    f.nodes[LON].start()
    for k in ('lon', 'lon_admin'):
        e[k].reopen()
    forwarded_and_outbox_empty(e, mid)
    check(metric(W, cred, DUPLICATE) > dup0, 'W counted no duplicate: was it forwarded again?')
    check(ids(wy.fetch(wait_ms=700), wy) == [], 'delivered again after the restart')


# --- 3. payloads and log values ------------------------------------------------------

def marked(texts, forms):
    return [t for t in texts if any(m in t for m in forms)]


@test(timeout=180)
def payload_never_in_logs_metrics_or_recourse_text():
    """Payloads carrying a unique marker go through Send, Forward, Fetch, Ack, Reject,
    an undeliverable address (a recourse case), return, and Recourse List, Show, Claim,
    Annotate, Redirect, Discard and VerifyAudit. The marker (raw, hex or base64) is in
    no log line (debug level), no /metrics, no Status or Queues answer, no List answer
    (envelopes without payload), and in no recourse answer but Show with_payload's
    envelope payload (payloads are shown to admins only on request): not in any other
    answer's envelope, nor in a case's detail, history or audit."""
    e = env()
    f, lon, wy = e['f'], e['lon'], e['wy']
    rp = f.stubs.recourse_pb2
    marker = ('PAYLOAD-MARKER-%s' % uuid.uuid4().hex).encode()
    payload = b'\x00\xff' + marker + b'\n"event=payload x=1'
    forms = [marker, marker.hex().encode(), base64.b64encode(marker)[:24]]
    answers = []		# serialized answers to members and admins

    def keep(msg):
        answers.append(msg.SerializeToString())
        return msg

    wy.drain(lambda g: True, what='an empty W mailbox')
    lon.drain(lambda g: True, what='an empty L mailbox')
    # Send, Forward (L -> W), Fetch, Ack.
    m1 = keep(lon.stub.Send(lon.envelope(LON_HUB, to=WY_HUB, payload=payload), timeout=10)).receipt
    # Fetch without acknowledging, then Reject: a case at W under the default policy.
    m2 = keep(lon.stub.Send(lon.envelope(LON_HUB, to=WY_HUB, payload=payload, context='rej'),
                            timeout=10)).receipt
    got = wy.drain(lambda g: {m1.message_id, m2.message_id} <= set(ids(g, wy)), ack=False,
                   what='both at W')
    for d in got:
        check(d.envelope.payload == payload, 'the payload changed on its way')
    wy.ack([m1.message_id])
    rej = keep(wy.reject(m2.message_id, 'not understood'))
    check(rej.receipt.case_id.startswith(WY + '/'), 'reject receipt %r' % rej)
    # Nobody serves it: a case at L; policy RETURN: back to the sender.
    m3 = keep(lon.stub.Send(lon.envelope(LON_HUB, to='uk.london.nobody', payload=payload),
                            timeout=10)).receipt
    check(m3.case_id.startswith(LON + '/'), 'no case for the unknown address: %r' % m3)
    m4 = keep(lon.stub.Send(lon.envelope(LON_HUB, to='uk.london.nobody', payload=payload,
                                         policy=lon.pb.FAILURE_POLICY_RETURN), timeout=10)).receipt
    lon.drain(lambda g: any(lon.is_receipt(d) and lon.receipt_of(d).message_id == m4.message_id and
                            lon.receipt_of(d).kind == lon.pb.RECEIPT_KIND_RETURNED for d in g),
              what='the returned receipt')
    # Recourse at L: List, Show, Claim, Annotate, Redirect to W's hub (forwarded again).
    keep(f.recourse(LON, 'List', rp.ListCasesRequest(include_closed=True)))
    keep(f.recourse(LON, 'Show', rp.ShowCaseRequest(id=m3.case_id)))
    shown = f.recourse(LON, 'Show', rp.ShowCaseRequest(id=m3.case_id, with_payload=True,
                                                      reason='threat test')).record
    check(shown.envelope.payload == payload, 'the case lost its envelope payload')
    claimed = f.recourse(LON, 'Claim', rp.ClaimCaseRequest(id=m3.case_id)).record
    noted = f.recourse(LON, 'Annotate', rp.AnnotateCaseRequest(id=m3.case_id,
                                                               note='looked at it')).record
    red = f.recourse(LON, 'Redirect', rp.RedirectCaseRequest(id=m3.case_id, to=WY_HUB,
                                                            reason='typo in the address'))
    got = wy.drain(lambda g: m3.message_id in ids(g, wy), what='the redirected message at W')
    check([d.envelope.payload for d in got if d.envelope.message_id == m3.message_id] == [payload],
          'redirected payload')
    # Recourse at W: the rejected message's case.
    shown_w = f.recourse(WY, 'Show', rp.ShowCaseRequest(id=rej.receipt.case_id,
                                                        with_payload=True)).record
    keep(f.recourse(WY, 'List', rp.ListCasesRequest(include_closed=True)))
    disc = f.recourse(WY, 'Discard', rp.DiscardCaseRequest(id=rej.receipt.case_id, reason='spam'))
    for rec in (claimed, noted, red.record, disc.record):
        check(rec.payload_bytes == len(payload), 'case %s: payload_bytes %d' % (rec.id, rec.payload_bytes))
        answers.append(rec.SerializeToString())	# the payload withheld: must not be there
    for rec in (shown, shown_w):
        check(rec.envelope.payload == payload, 'case %s without its payload' % rec.id)
        bare = type(rec)()
        bare.CopyFrom(rec)
        bare.envelope.payload = b''
        answers.append(bare.SerializeToString())	# everything but the payload itself
    for region in (LON, WY):
        keep(f.recourse(region, 'VerifyAudit', rp.VerifyAuditRequest()))
    # What members and admins can ask the switch.
    for hub in (lon, e['lon_admin'], wy, e['wy_admin']):
        keep(hub.queues())
        for m in (m1, m2, m3, m4):
            keep(hub.status(m.message_id))
    leaks = marked(answers, forms)
    check(not leaks, 'the marker in %d answers: %r' % (len(leaks), leaks[:2]))
    for region, node in f.nodes.items():
        c = node.connect(f.fed.admin(region))
        try:
            body = c.request('GET', '/metrics').body
        finally:
            c.close()
        check(body and not marked([body], forms), 'the marker in the /metrics of %s' % region)
        with open(node.log, 'rb') as fh:
            log = fh.read()
        check(b'level=debug event=rpc' in log, '%s does not log at debug level' % region)
        hits = [l for l in log.split(b'\n') if marked([l], forms)]
        check(not hits, 'the marker in the log of %s: %r' % (region, hits[:3]))


# key=value pairs: bare values without blanks or quotes, or quoted with \" \\ \xNN escapes.
PAIR = re.compile(r'([a-z_][a-z0-9_]*)=("(?:[^"\\]|\\.)*"|[^\s"]*)(?: |$)')
LINE = re.compile(r'ts=\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z level=(debug|info|warn|error) '
                  r'event=([a-z0-9_]+)( |$)')


def log_keys(line):
    """The keys of a log line, or None if it does not parse as key=value pairs."""
    keys, pos = [], 0
    while pos < len(line):
        m = PAIR.match(line, pos)
        if m is None or m.end() == pos:
            return None
        keys.append(m.group(1))
        pos = m.end()
    return keys


@test(timeout=180)
def hostile_log_values_cannot_forge_lines():
    """Values with quotes, key=value pairs and newlines -- in an envelope's context and
    message type, a Reject reason, a recourse note and discard reason, an invalid sender,
    and the error message of a lying peer node -- stay inside one quoted value: every
    line of both logs starts ts= level= event= with no forged event, and every line
    holding hostile words splits into key=value pairs with one event and no injected
    key."""
    e = env()
    f, lon, wy = e['f'], e['lon'], e['wy']
    rp = f.stubs.recourse_pb2
    inj = ' injected_key=1 event=forged_%s x="'
    nl = '\nts=2030-01-01T00:00:00.000Z level=error event=forged_%s injected_key=1'
    # Envelope fields take printable ASCII only (no newline): quotes and pairs then.
    ctx = 'case-1"' + inj % 'context'
    mtype = 'note.v1"injected_key=1"event=forged_type'
    r = lon.send(lon.envelope(LON_HUB, to='uk.london.nowhere', context=ctx, mtype=mtype))
    check(r.case_id, 'no case: %r' % r)
    try:
        lon.send(lon.envelope(LON_HUB + (nl % 'sender'), to=WY_HUB))
        raise at.TestFailure('a sender with a newline was accepted')
    except grpc.RpcError as err:
        check(err.code() == grpc.StatusCode.INVALID_ARGUMENT, 'bad sender: %s' % err.code())
    # Free text: a Reject reason, a recourse note and a discard reason.
    m = lon.send(lon.envelope(LON_HUB, to=WY_HUB, context=ctx, mtype=mtype)).message_id
    wy.drain(lambda g: m in ids(g, wy), ack=False, what='the message to reject')
    rej = wy.reject(m, 'not understood"' + (inj % 'reject') + (nl % 'reject'))
    case_w = rej.receipt.case_id
    f.recourse(WY, 'Annotate', rp.AnnotateCaseRequest(id=case_w, note='n"' + nl % 'note'))
    f.recourse(WY, 'Discard', rp.DiscardCaseRequest(id=case_w, reason='r"' + (inj % 'discard') +
                                                    (nl % 'discard')))
    f.recourse(LON, 'Discard', rp.DiscardCaseRequest(id=r.case_id, reason='d' + nl % 'discard2'))
    # A lying peer: L's traffic for uk.scotland meets UNAVAILABLE with PEER_LIE.
    lon.send(lon.envelope(LON_HUB, to='uk.scotland.hub'))
    L = f.nodes[LON]
    wait_for(lambda: 'event=switch_peer_retry peer=uk.scotland' in L.log_text(), 30,
             interval=0.1, what="L's retry line for uk.scotland")
    check(FORWARD in f.liar.calls, 'L never called the lying peer: %r' % f.liar.calls[:5])
    bad = []
    seen = {'forged_by_peer': 0, 'forged_reject': 0, 'forged_discard': 0}
    for region, node in f.nodes.items():
        for n, line in enumerate(node.log_text().splitlines(), 1):
            m_ = LINE.match(line)
            if m_ is None or m_.group(2).startswith('forged'):
                bad.append('%s:%d not a line of the node: %r' % (region, n, line[:300]))
                continue
            if 'forged' not in line and 'injected_key' not in line:
                continue
            # Hostile words inside: the line must split into pairs, one event, none injected.
            keys = log_keys(line)
            if keys is None or keys.count('event') != 1 or 'injected_key' in keys:
                bad.append('%s:%d forged: keys %r: %r' % (region, n, keys, line[:300]))
            for k in seen:
                seen[k] += k in line
    check(not bad, '%d bad log lines:\n  %s' % (len(bad), '\n  '.join(bad[:10])))
    # The hostile words did reach the logs (quoted), or this proved nothing.
    check(all(seen.values()), 'hostile values never logged: %r' % seen)


def after_failure(name):
    if 'f' in _env:
        _env['f'].log_tails(40)


if __name__ == '__main__':
    main(after_failure)

"""test_region_split.py -- splitting a region (docs/operator.md "Splitting a region"): the
root uk moves uk.london, where its own registrars lewisham and camden live, to a new child
node, while traffic flows.

    uk ---- uk.westyorks        (another region: sends to lewisham, resolves its address)
     \\---- uk.london           (started during the test; takes lewisham and camden)

Before the split, messages wait in lewisham's mailbox at uk (three fetched and not
acknowledged). The new node starts with only uk as its parent, its admin registers lewisham
and camden (same ids, prefixes and identities) and activates them; then, with senders at uk
and uk.westyorks sending to lewisham and resolvers asking every node where
uk.london.lewisham.desk is, uk's admin runs `axlectl region split uk.london --dry-run`, then
the split. lewisham's hub, away until the split is done, fetches at uk, which says the
mailbox is not there, then at uk.london. Checked: every acknowledged send is acknowledged
by the hub exactly once, all of them at uk.london (what waited at uk, fetched or not, moved
there); no resolution at any node
ever answered anything but lewisham (never UNKNOWN, never a bare region); uk keeps nothing
for lewisham; uk refuses to change a moved registrar.
"""

import os
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import axletest as at  # noqa: E402
import fedtest  # noqa: E402
from axletest import check, main, test, wait_for  # noqa: E402
from switchtest import FED, Hub, new_id  # noqa: E402

import grpc  # noqa: E402

ROOT, WY, LON, BRI = 'uk', 'uk.westyorks', 'uk.london', 'uk.bristol'
LEW, CAM = LON + '.lewisham', LON + '.camden'
DESK = LEW + '.desk'
WAIT = 40
PRE = 20              # messages queued at uk before the split
MAX_SENDS = 1000      # per sender: the load stops 0.5 s after the split, or here
EXTRA = '\n[registry]\nmirror_interval_ms = 100\n'
_env = {}


class Fed(fedtest.Fed):
    def __init__(self):
        super().__init__('axle-split-', [ROOT, WY], (ROOT, WY, LON, BRI), EXTRA)

    def registrar(self, region, rid, prefix, services=()):
        """rid holding prefix at region's register, active, with services (name, address)."""
        rp, cp = self.stubs.registry_pb2, self.stubs.common_pb2
        self.registry(region, 'Delegate', rp.DelegateRequest(
            registrar_id=rid, prefix=prefix, display_name=rid,
            cert_identity='axle://%s/member/%s' % (FED, prefix)))
        self.registry(region, 'SetStatus', rp.SetStatusRequest(
            registrar_id=rid, status=rp.REGISTRAR_STATUS_ACTIVE, reason='onboarded'))
        for name, addr in services:
            self.registry(region, 'PublishService', rp.PublishServiceRequest(
                registrar_id=rid, service=rp.Service(
                    name=name, kind=cp.SERVICE_KIND_SWITCH, address=addr,
                    message_types=['note.v1'], description=name)))


@at.shared_env(_env)
def env():
    f = Fed()
    f.start(ROOT)
    f.start(WY, parent=ROOT)
    f.axlectl(ROOT, 'region', 'publish', WY, '--endpoint', '127.0.0.1:%d' % f.ports[WY])
    hubs = {r: Hub(f, r, f.hub_registrar(r)) for r in (ROOT, WY)}
    f.registrar(ROOT, 'lewisham', LEW, [('lewisham-switch', LEW + '.switch')])
    f.registrar(ROOT, 'camden', CAM)
    lew_cred = f.fed.issue('member', LEW, name='hub-lewisham')
    _env.update(f=f, hubs=hubs, lew_cred=lew_cred)


def after_failure(name=None):
    if 'f' in _env:
        _env['f'].log_tails(40)


class Resolver(threading.Thread):
    """Asks region where DESK is until stopped; keeps every answer that is not lewisham's
    (and every error) and the serving nodes seen."""

    def __init__(self, f, region, stop):
        super().__init__(daemon=True)
        self.f, self.region, self.stop = f, region, stop
        self.asked, self.bad, self.serving = 0, [], set()

    def run(self):
        rp = self.f.stubs.registry_pb2
        with self.f.channel(self.region, self.f.admin(self.region)) as ch:
            stub = self.f.stubs.registry_pb2_grpc.RegistryStub(ch)
            while not self.stop.is_set():
                try:
                    r = stub.Resolve(rp.ResolveRequest(address=DESK), timeout=10)
                    self.asked += 1
                    if r.outcome != rp.RESOLVE_OUTCOME_MATCHED or r.registrar.id != 'lewisham':
                        self.bad.append((rp.ResolveOutcome.Name(r.outcome), r.registrar.id,
                                         r.closest_encloser))
                    self.serving.add(r.serving_node)
                except grpc.RpcError as err:
                    self.bad.append(('error', str(err.code()), err.details()))
                time.sleep(0.01)


class Sender(threading.Thread):
    """Sends from region's hub to DESK until `until` is set (at most MAX_SENDS), each
    message retried with its id until acknowledged; keeps the acknowledged ids."""

    def __init__(self, f, region, until):
        super().__init__(daemon=True)
        self.f, self.region, self.until = f, region, until
        self.acked, self.errors = [], 0

    def run(self):
        hub = Hub(self.f, self.region, _env['hubs'][self.region].cred)
        sender = self.region + '.hub'
        deadline = time.monotonic() + 120
        while not self.until.is_set() and len(self.acked) < MAX_SENDS:
            mid = new_id()
            env_ = hub.envelope(sender, to=DESK, mid=mid, payload=os.urandom(32))
            while time.monotonic() < deadline:
                try:
                    check(hub.send(env_, timeout=5).message_id == mid, 'receipt for another id')
                    self.acked.append(mid)
                    break
                except grpc.RpcError:
                    self.errors += 1
                    time.sleep(0.05)
                    hub.reopen()
            time.sleep(0.01)
        hub.close()


class LewishamHub(threading.Thread):
    """lewisham's hub, away during the split (its mail waits at uk) and back once go is
    set: fetches and acknowledges at uk until uk says its mailbox is not there
    (FAILED_PRECONDITION), then at uk.london. Counts each id it acknowledged (an Ack that
    found it in flight), and where."""

    def __init__(self, f, stop, go):
        super().__init__(daemon=True)
        self.f, self.stop, self.go = f, stop, go
        self.acks, self.where, self.moved_at = {}, {}, None
        self.region = ROOT

    def run(self):
        self.go.wait()
        hub = Hub(self.f, ROOT, _env['lew_cred'])
        while not self.stop.is_set():
            try:
                batch = hub.fetch(max_messages=100, wait_ms=200, visibility_ms=60000)
                ids = [d.envelope.message_id for d in batch if not hub.is_receipt(d)]
                if batch:
                    r = hub.ack([d.envelope.message_id for d in batch])
                    unknown = set(r.unknown_ids)
                    for mid in ids:
                        if mid not in unknown:
                            self.acks[mid] = self.acks.get(mid, 0) + 1
                            self.where.setdefault(mid, []).append(self.region)
            except grpc.RpcError as err:
                if self.region == ROOT and err.code() == grpc.StatusCode.FAILED_PRECONDITION:
                    self.moved_at = err.details()
                    hub.close()
                    self.region = LON
                    hub = Hub(self.f, LON, _env['lew_cred'])
                else:
                    time.sleep(0.1)
                    hub.reopen()
        hub.close()


def queues(f, region):
    hub = Hub(f, region, f.admin(region))
    try:
        q = hub.queues()
    finally:
        hub.close()
    return {k: [(m.name, m.count) for m in getattr(q, k)] for k in ('outboxes', 'mailboxes',
                                                                     'held')}


def mailbox_count(f, region, name):
    hub = Hub(f, region, f.admin(region))
    try:
        q = hub.queues()
    finally:
        hub.close()
    return sum(m.count for m in q.mailboxes if m.name == name) + \
        sum(m.count for m in q.held if m.name == name)


@test(timeout=300)
def split_under_load():
    e = env()
    f, hubs = e['f'], e['hubs']
    rp = f.stubs.registry_pb2
    stop = threading.Event()
    try:
        run_split(f, hubs, e, rp, stop)
    finally:
        stop.set()


def run_split(f, hubs, e, rp, stop):
    # Mail waiting at uk for lewisham before the split; three of it fetched, not acked.
    pre = []
    for _ in range(PRE):
        mid = new_id()
        hubs[WY].send(hubs[WY].envelope(WY + '.hub', to=DESK, mid=mid))
        pre.append(mid)
    wait_for(lambda: mailbox_count(f, ROOT, 'lewisham') >= PRE, WAIT, interval=0.2,
             what='the messages queued for lewisham at uk')
    early = Hub(f, ROOT, e['lew_cred'])
    got = early.fetch(max_messages=3, visibility_ms=600000)
    early.close()
    check(len(got) == 3, 'fetched %d' % len(got))
    # The new node, its admin, and the registrars it takes over, ready before the split.
    cred = f.fed.issue('node', LON, name='node-london', ip=['127.0.0.1'], dns=['localhost'])
    f.creds[LON] = f.fed.issue('admin', LON, name='admin-london', user='admin')
    f.start(LON, parent=ROOT, cred=cred)
    f.registrar(LON, 'lewisham', LEW, [('lewisham-switch', LEW + '.switch')])
    f.registrar(LON, 'camden', CAM)
    # The child's own record does not take the prefix before uk moves it.
    time.sleep(0.5)
    for r in (ROOT, WY, LON):
        got = f.resolve(r, DESK)
        check(got.registrar.id == 'lewisham' and got.serving_node == ROOT,
              'before the split %s answers %r' % (r, got))
    resolvers = [Resolver(f, r, stop) for r in (ROOT, WY, LON)]
    go = threading.Event()
    lew = LewishamHub(f, stop, go)
    after = threading.Event()
    senders = [Sender(f, r, after) for r in (ROOT, WY)]
    for t in resolvers + [lew] + senders:
        t.start()
    time.sleep(1.0)
    out = f.axlectl(ROOT, 'region', 'split', LON, '--endpoint',
                    '127.0.0.1:%d' % f.ports[LON], '--dry-run').stdout
    check('would move 2 registrar(s)' in out and 'lewisham' in out and 'camden' in out,
          'dry run said: %r' % out)
    check(f.resolve(ROOT, DESK).serving_node == ROOT, 'the dry run changed something')
    time.sleep(0.5)
    out = f.axlectl(ROOT, 'region', 'split', LON, '--endpoint',
                    '127.0.0.1:%d' % f.ports[LON], '--reason', 'london outgrew uk').stdout
    check('moved 2 registrar(s)' in out, 'split said: %r' % out)
    go.set()
    time.sleep(0.5)
    after.set()
    for s in senders:
        s.join(180)
        check(not s.is_alive(), 'sender at %s did not finish' % s.region)
    acked = [m for s in senders for m in s.acked]
    check(all(s.acked for s in senders), 'a sender sent nothing')
    want = set(acked) | set(pre)
    try:
        wait_for(lambda: want <= set(lew.acks), 90, interval=0.3,
                 what='every message acknowledged by lewisham\'s hub')
    except at.TestFailure:
        stop.set()
        print('acked by the hub %d of %d; hub at %s (%r)' % (
            len(want & set(lew.acks)), len(want), lew.region, lew.moved_at))
        for r in (ROOT, WY, LON):
            print(r, queues(f, r))
        raise
    # Every node learns the move.
    for r in (ROOT, WY, LON):
        wait_for(lambda r=r: f.resolve(r, DESK).serving_node == LON, WAIT, interval=0.2,
                 what='%s resolving lewisham at uk.london' % r)
    time.sleep(0.5)
    stop.set()
    for t in resolvers + [lew]:
        t.join(30)
    twice = [m.hex() for m, c in lew.acks.items() if c != 1]
    check(not twice, '%d messages acknowledged more than once: %s' % (len(twice), twice[:3]))
    foreign = [m.hex() for m in lew.acks if m not in want]
    check(not foreign, 'unexpected messages %s' % foreign[:3])
    at_root = [m.hex() for m, w in lew.where.items() if w != [LON]]
    check(not at_root, '%d messages acknowledged at uk after the split, e.g. %s'
          % (len(at_root), at_root[:3]))
    check(lew.moved_at is not None and LON in lew.moved_at,
          'uk sent the hub on with: %r' % lew.moved_at)
    for res in resolvers:
        print('resolver at %s: %d answers, serving %s, %d bad' % (
            res.region, res.asked, sorted(res.serving), len(res.bad)))
        check(res.asked > 20, 'resolver at %s answered only %d times' % (res.region, res.asked))
        check(not res.bad, 'at %s: %s' % (res.region, res.bad[:5]))
        check(res.serving == {ROOT, LON}, 'at %s served by %s' % (res.region, res.serving))
    print('sent %d during the load (%d retried), %d queued before; acknowledged at uk %d, '
          'at uk.london %d' % (len(acked), sum(s.errors for s in senders), PRE,
        sum(1 for w in lew.where.values() if w == [ROOT]),
        sum(1 for w in lew.where.values() if w == [LON])))
    check(mailbox_count(f, ROOT, 'lewisham') == 0, 'uk still holds mail for lewisham')
    # uk's records say where they went, and uk no longer changes them.
    rec = f.registry(ROOT, 'GetRegistrar', rp.GetRegistrarRequest(id='camden')).registrar
    check(rec.moved_to == LON, 'camden at uk: %r' % rec)
    try:
        f.registry(ROOT, 'SetStatus', rp.SetStatusRequest(
            registrar_id='lewisham', status=rp.REGISTRAR_STATUS_SUSPENDED, reason='x'))
        raise at.TestFailure('uk changed a moved registrar')
    except grpc.RpcError as err:
        check(err.code() == grpc.StatusCode.FAILED_PRECONDITION and LON in err.details(),
              'refusal: %s %s' % (err.code(), err.details()))


@test(timeout=120)
def queued_mail_moves_with_no_other_traffic():
    """What waited at uk reaches the child though nothing else is sent: the split itself
    starts the outbox toward a node uk never sent to before."""
    e = env()
    f, hubs = e['f'], e['hubs']
    clifton = BRI + '.clifton'
    f.registrar(ROOT, 'clifton', clifton)
    sent = set()
    for _ in range(5):
        mid = new_id()
        hubs[WY].send(hubs[WY].envelope(WY + '.hub', to=clifton + '.desk', mid=mid))
        sent.add(mid)
    wait_for(lambda: mailbox_count(f, ROOT, 'clifton') == 5, WAIT, interval=0.2,
             what='the messages queued for clifton at uk')
    cred = f.fed.issue('node', BRI, name='node-bristol', ip=['127.0.0.1'], dns=['localhost'])
    f.creds[BRI] = f.fed.issue('admin', BRI, name='admin-bristol', user='admin')
    f.start(BRI, parent=ROOT, cred=cred)
    f.registrar(BRI, 'clifton', clifton)
    out = f.axlectl(ROOT, 'region', 'split', BRI, '--endpoint',
                    '127.0.0.1:%d' % f.ports[BRI], '--reason', 'bristol grew').stdout
    check('moved 1 registrar(s) and 5 message(s)' in out, 'split said: %r' % out)
    hub = Hub(f, BRI, f.fed.issue('member', clifton, name='hub-clifton'))
    try:
        got = hub.drain(lambda g: sent <= {d.envelope.message_id for d in g}, timeout=WAIT,
                        what='the queued mail at uk.bristol')
    finally:
        hub.close()
    ids = [d.envelope.message_id for d in got if not hub.is_receipt(d)]
    check(sorted(ids) == sorted(sent), 'got %d: %s' % (len(ids), [m.hex() for m in ids]))
    check(mailbox_count(f, ROOT, 'clifton') == 0, 'uk still holds mail for clifton')


if __name__ == '__main__':
    main(after_failure)

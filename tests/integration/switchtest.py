"""switchtest.py -- helpers for the switch's integration tests: a three-node federation
(uk relaying between uk.london and uk.westyorks), registrars delegated and activated
through the Registry RPCs, and hubs that send, fetch and acknowledge with grpcio."""

import os
import random
import sys
import threading
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import axletest as at  # noqa: E402
from axletest import Node, Workspace, check, free_port, grpc_stubs, make_federation, wait_for  # noqa: E402

import grpc  # noqa: E402

FED = 'fame-test'
REGIONS = ('uk', 'uk.london', 'uk.westyorks')
# The purpose the index services of these tests publish: an index query must
# carry one its index service accepts (docs/protocol.md "Purposes").
INDEX_PURPOSE = 'safeguarding-s47'
# uk relays: the leaves peer only with it (so hub -> A -> B -> mailbox has a middle node).
TOPOLOGY = {'uk': ('uk.london', 'uk.westyorks'), 'uk.london': ('uk',), 'uk.westyorks': ('uk',)}


def _read(path):
    with open(path, 'rb') as f:
        return f.read()


class Fed:
    """The federation, its nodes and stubs."""

    def __init__(self, prefix='axle-sw-', node_extra='', limits=None):
        self.ws = Workspace(prefix=prefix)
        self.fed = make_federation(self.ws, FED, list(REGIONS))
        self.stubs = grpc_stubs(self.ws)
        self.ports = {r: free_port() for r in REGIONS}
        self.nodes = {}
        for r in REGIONS:
            peers = [(p, '127.0.0.1:%d' % self.ports[p]) for p in TOPOLOGY[r]]
            self.nodes[r] = Node(self.ws, self.fed, r, port=self.ports[r], peers=peers,
                                 parent='uk' if r != 'uk' else None, limits=limits,
                                 extra='\n[registry]\nmirror_interval_ms = 200\n' + node_extra)

    def channel(self, region, cred):
        creds = grpc.ssl_channel_credentials(root_certificates=_read(self.fed.ca_pem),
                                             private_key=_read(cred.key),
                                             certificate_chain=_read(cred.chain))
        return grpc.secure_channel('localhost:%d' % self.nodes[region].port, creds)

    def registry(self, region, method, req, cred=None):
        with self.channel(region, cred or self.fed.admin(region)) as ch:
            stub = self.stubs.registry_pb2_grpc.RegistryStub(ch)
            return getattr(stub, method)(req, timeout=10)

    def wait_registry(self, region, timeout=30):
        """The registry engineer's service may come later than ours: wait for it."""
        def up():
            try:
                self.registry(region, 'ListRegistrars', self.stubs.registry_pb2.ListRegistrarsRequest())
                return True
            except grpc.RpcError as e:
                if e.code() == grpc.StatusCode.UNIMPLEMENTED:
                    raise at.TestFailure('Registry service not in this build')
                return False
        wait_for(up, timeout, interval=0.2, what='Registry on %s' % region)

    def wait_resolves(self, region, address, rid, status=None, timeout=60):
        """Waits until region resolves address to registrar rid (with that standing, if
        given): a registrar of another region reaches this one's mirror after a lag."""
        rp = self.stubs.registry_pb2

        def ok():
            try:
                r = self.registry(region, 'Resolve', rp.ResolveRequest(address=address))
            except grpc.RpcError:
                return None
            return r if (r.registrar.id == rid and
                         (status is None or r.registrar.status == status)) else None
        return wait_for(ok, timeout, interval=0.2, what='%s resolves to %s at %s'
                        % (address, rid, region))

    def registrar(self, region, rid, prefix, cert_uri, services=()):
        """Delegates prefix to rid, activates it, publishes services (name, kind, address);
        an index service accepts INDEX_PURPOSE."""
        rp = self.stubs.registry_pb2
        self.registry(region, 'Delegate', rp.DelegateRequest(
            registrar_id=rid, prefix=prefix, display_name=rid, cert_identity=cert_uri))
        self.set_status(region, rid, rp.REGISTRAR_STATUS_ACTIVE, 'onboarded')
        for name, kind, address in services:
            purposes = [INDEX_PURPOSE] if kind == self.stubs.common_pb2.SERVICE_KIND_INDEX else []
            self.registry(region, 'PublishService', rp.PublishServiceRequest(
                registrar_id=rid, service=rp.Service(name=name, kind=kind, address=address,
                                                     message_types=['index.query'],
                                                     purposes=purposes)))

    def leaf_hubs(self):
        """Waits for the leaves' registries, then registers the dev federation's hubs:
        lon-hub (uk.london.hub) and wy-hub (uk.westyorks.hub), active."""
        for r in ('uk.london', 'uk.westyorks'):
            self.wait_registry(r)
        for region, rid in (('uk.london', 'lon-hub'), ('uk.westyorks', 'wy-hub')):
            hub = region + '.hub'
            self.registrar(region, rid, hub, 'axle://%s/member/%s' % (FED, hub))

    def set_status(self, region, rid, status, reason):
        rp = self.stubs.registry_pb2
        return self.registry(region, 'SetStatus', rp.SetStatusRequest(
            registrar_id=rid, status=status, reason=reason))

    def hub(self, region, cred):
        return Hub(self, region, cred)

    def admin_switch(self, region):
        return Hub(self, region, self.fed.admin(region))

    def axlectl(self, region, *args, cred=None, check_rc=True):
        node = self.nodes[region]
        cred = cred or self.fed.admin(region)
        cmd = [os.path.join(at.BUILD, 'axlectl'), '--cert', cred.chain, '--key', cred.key,
               '--trust', self.fed.trust_dir, '--federation', FED,
               '--server', '127.0.0.1:%d' % node.port] + list(args)
        return at.run(cmd, timeout=30, check_rc=check_rc)

    def log_tails(self, n=30):
        for r, node in self.nodes.items():
            print('--- %s log tail ---' % r)
            print(node.log_tail(n))


def new_id():
    return uuid.uuid4().bytes


class Hub:
    """A member (or admin) talking to the Switch service of its node with grpcio."""

    def __init__(self, fedobj, region, cred):
        self.f = fedobj
        self.region = region
        self.cred = cred
        self.pb = fedobj.stubs.envelope_pb2
        self.spb = fedobj.stubs.switch_pb2
        self._open()

    def _open(self):
        self.ch = self.f.channel(self.region, self.cred)
        self.stub = self.f.stubs.switch_pb2_grpc.SwitchStub(self.ch)

    def reopen(self):
        try:
            self.ch.close()
        except Exception:
            pass
        self._open()

    def close(self):
        self.ch.close()

    def envelope(self, sender, to=None, group=None, mtype='note.v1', context='', payload=b'hello',
                 mid=None, deliver_by_ms=0, reply_by_ms=0, policy=0, purpose=''):
        e = self.pb.Envelope(message_id=mid or new_id(), sender=sender, message_type=mtype,
                             purpose=purpose,
                             context=context, payload=payload, content_type='text/plain',
                             deliver_by_ms=deliver_by_ms, reply_by_ms=reply_by_ms,
                             failure_policy=policy)
        if group is not None:
            e.to_group.CopyFrom(group)
        else:
            e.to = to
        return e

    def send(self, env, timeout=10):
        return self.stub.Send(env, timeout=timeout).receipt

    def fetch(self, max_messages=100, wait_ms=0, visibility_ms=0, mailbox='', timeout=30):
        req = self.spb.FetchRequest(mailbox=mailbox, max_messages=max_messages, wait_ms=wait_ms,
                                    visibility_timeout_ms=visibility_ms)
        return list(self.stub.Fetch(req, timeout=timeout))

    def ack(self, ids, mailbox=''):
        return self.stub.Ack(self.spb.AckRequest(mailbox=mailbox, message_ids=list(ids)), timeout=10)

    def status(self, mid):
        return self.stub.Status(self.spb.StatusRequest(message_id=mid), timeout=10)

    def queues(self):
        return self.stub.Queues(self.spb.QueuesRequest(), timeout=10)

    def reject(self, mid, reason, mailbox=''):
        return self.stub.Reject(self.spb.RejectRequest(mailbox=mailbox, message_id=mid,
                                                       reason=reason), timeout=10)

    # receipts are system envelopes in our own mailbox
    def is_receipt(self, d):
        return d.envelope.message_type == 'axle.receipt'

    def receipt_of(self, d):
        r = self.pb.Receipt()
        r.ParseFromString(d.envelope.payload)
        return r

    def drain(self, want, timeout=30, ack=True, what='messages'):
        """Fetches (and acks) until want(collected) is true; returns every Delivery seen."""
        got = []
        deadline = time.monotonic() + timeout
        while True:
            batch = self.fetch(max_messages=200, wait_ms=300, visibility_ms=60000)
            got += batch
            if batch and ack:
                self.ack([d.envelope.message_id for d in batch])
            if want(got):
                return got
            if time.monotonic() >= deadline:
                raise at.TestFailure('timed out waiting for %s; got %d: %s' % (
                    what, len(got), [(d.envelope.message_type, d.envelope.message_id.hex())
                                     for d in got][:20]))


def receipts_for(hub, deliveries, mid):
    """The receipt kinds (names) about message mid among deliveries."""
    out = []
    for d in deliveries:
        if hub.is_receipt(d):
            r = hub.receipt_of(d)
            if r.message_id == mid:
                out.append(hub.pb.ReceiptKind.Name(r.kind))
    return out


# --- kill -9 loops (test_switch_crash.py, test_switch_retention.py) -------------------------

class Sender(threading.Thread):
    """Sends its share of messages (ids) from hub `sender` at region to `to`; retries a
    failed Send with the same id until acknowledged or stop_at; adds each acknowledged id
    to acked. Sleeps pace seconds after each, so that the sends span the kills."""

    def __init__(self, f, ids, acked, lock, stop_at, region, sender, to, pace):
        super().__init__(daemon=True)
        self.f, self.ids, self.acked, self.lock, self.stop_at = f, ids, acked, lock, stop_at
        self.region, self.sender, self.to, self.pace = region, sender, to, pace
        self.errors = 0

    def run(self):
        hub = self.f.hub(self.region, self.f.fed.member(self.region))
        for mid in self.ids:
            env_ = hub.envelope(self.sender, to=self.to, mid=mid, context='crash',
                                payload=os.urandom(64))
            while time.monotonic() < self.stop_at:
                try:
                    r = hub.send(env_, timeout=5)
                    check(r.message_id == mid, 'receipt for another id')
                    with self.lock:
                        self.acked.add(mid)
                    time.sleep(self.pace)
                    break
                except grpc.RpcError:
                    self.errors += 1
                    time.sleep(0.05)
                    hub.reopen()
        hub.close()


def killer(f, stop, log, victims):
    """SIGKILLs each region of victims in turn at a random moment, restarting each."""
    seed = int(os.environ.get('AXLE_CRASH_SEED', str(int(time.time()))))
    print('killer seed %d (AXLE_CRASH_SEED)' % seed, flush=True)
    rnd = random.Random(seed)
    for v in victims:
        if stop.is_set():
            break
        time.sleep(rnd.uniform(0.2, 0.6))
        node = f.nodes[v]
        node.kill()
        log.append(v)
        time.sleep(rnd.uniform(0.1, 0.5))
        node.start(timeout=20)


def fetch_all(hub, timeout=60):
    """Every message now in the mailbox (not acknowledged, long visibility): id -> count."""
    counts = {}
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        batch = hub.fetch(max_messages=1000, wait_ms=300, visibility_ms=600000)
        if not batch:
            return counts
        for d in batch:
            if not hub.is_receipt(d):
                counts[d.envelope.message_id] = counts.get(d.envelope.message_id, 0) + 1
    raise at.TestFailure('mailbox did not drain in %ss' % timeout)


def kill_loop(f, ids, victims, pace, threads, scale):
    """Senders from uk.london.hub to uk.westyorks.hub (ids spread over threads) while
    killer SIGKILLs victims in turn; afterwards every node runs again. Checks that at
    least 3 kills happened and every send was acknowledged; returns (acked, kills,
    retries)."""
    acked, lock = set(), threading.Lock()
    stop_at = time.monotonic() + 120 * scale
    senders = [Sender(f, ids[k::threads], acked, lock, stop_at, 'uk.london',
                      'uk.london.hub', 'uk.westyorks.hub', pace) for k in range(threads)]
    stop, kills = threading.Event(), []
    k = threading.Thread(target=killer, args=(f, stop, kills, victims), daemon=True)
    for s in senders:
        s.start()
    k.start()
    for s in senders:
        s.join(150 * scale)
    k.join(90 * scale)
    stop.set()
    for r in f.nodes.values():
        if not r.alive():
            r.start(timeout=20)
    check(len(kills) >= 3, 'only %d kills happened' % len(kills))
    check(len(acked) == len(ids), '%d of %d sends acknowledged in time' % (len(acked), len(ids)))
    return acked, kills, sum(s.errors for s in senders)


def arrived_exactly_once(f, ids, acked):
    """Waits for both outboxes on the way to drain and every id in westyorks' wy-hub
    mailbox; then each acknowledged id is there exactly once and nothing else is."""
    def mailbox():
        mb = [m for m in f.admin_switch('uk.westyorks').queues().mailboxes if m.name == 'wy-hub']
        return mb[0].count if mb else 0

    def arrived():
        q = {o.name: o.count for o in f.admin_switch('uk').queues().outboxes}
        lq = {o.name: o.count for o in f.admin_switch('uk.london').queues().outboxes}
        return q.get('uk.westyorks', 0) == 0 and lq.get('uk', 0) == 0 and mailbox() >= len(ids)
    wait_for(arrived, 90, interval=0.3, what='every message in the westyorks mailbox, '
             'outboxes empty')
    n = mailbox()
    counts = fetch_all(f.hub('uk.westyorks', f.fed.member('uk.westyorks')))
    missing = [m.hex() for m in acked if m not in counts]
    twice = [m.hex() for m, c in counts.items() if c != 1]
    foreign = [m.hex() for m in counts if m not in set(ids)]
    check(not missing, '%d acknowledged messages missing, e.g. %s' % (len(missing), missing[:3]))
    check(not twice, '%d messages delivered more than once: %s' % (len(twice), twice[:3]))
    check(not foreign, 'unexpected messages %s' % foreign[:3])
    return n

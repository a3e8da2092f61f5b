"""test_crash_loops.py -- kill -9 loops under load for the register and for recourse cases.

Several client connections, each with many calls in flight, drive scripted changes at
uk.london while it is SIGKILLed and restarted at random moments (and its mirroring peer
uk.westyorks once): registrars delegated, activated, given services, suspended,
reinstated, given a second prefix, revoked and re-homed; cases opened by Send, claimed,
annotated, released and resolved. A call that fails while the node is down has an
unknown outcome: the script reads the record back (version) before deciding whether to
retry it, so no change is knowingly made twice. Afterwards every acknowledged change is
there exactly once (versions step by one, the feed holds one entry per version, the
history one action per step), nothing is half-applied (each record equals its last feed
entry), the feed chain and the recourse audit verify, and the peer's mirror equals the
origin. Bounded: KILLS kills, MAX_SCRIPTS per lane, every wait has a deadline.
"""

import json
import os
import random
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import axletest as at  # noqa: E402
from axletest import (Node, Workspace, check, free_port, grpc_stubs, main,  # noqa: E402
                      make_federation, test, wait_for)

import grpc  # noqa: E402

FED = 'fame-test'
ORIGIN, PEER = 'uk.london', 'uk.westyorks'
HUB = ORIGIN + '.hub'			# the member that sends (axle-dev-federation's)
SCALE = at.hardening_scale()
KILLS = int(os.environ.get('AXLE_CRASHLOOP_KILLS', str(7 * SCALE)))
LANES = 4				# client connections
IN_FLIGHT = 8				# scripts (so calls) in flight per connection
MAX_SCRIPTS = 150 * SCALE		# per lane: a bound on the work whatever the timing
ROUND = 0.12				# seconds: a lane's round of calls takes at least this,
					# so that the load spans the kills
LOAD_SECONDS = 60 * SCALE		# hard stop for the load
CALL_TIMEOUT = 20			# seconds: longer than a restart, so a timeout is rare
WAIT = 60
Code = grpc.StatusCode
UNSURE = (Code.UNAVAILABLE, Code.DEADLINE_EXCEEDED, Code.CANCELLED, Code.UNKNOWN,
          Code.INTERNAL)			# the call may or may not have been applied
_env = {}


def _read(path):
    with open(path, 'rb') as f:
        return f.read()


@at.shared_env(_env)
def env():
    _setup()


def _setup():
    ws = Workspace(prefix='axle-crashloop-')
    fed = make_federation(ws, FED, [ORIGIN, PEER])
    stubs = grpc_stubs(ws)
    ports = {ORIGIN: free_port(), PEER: free_port()}
    nodes = {}
    for r, p in ((ORIGIN, PEER), (PEER, ORIGIN)):
        nodes[r] = Node(ws, fed, r, port=ports[r], peers=[(p, '127.0.0.1:%d' % ports[p])],
                        extra='\n[registry]\nmirror_interval_ms = 100\n')
    _env.update(ws=ws, fed=fed, stubs=stubs, nodes=nodes)
    c = Conn(ORIGIN, fed.admin(ORIGIN))
    rp = stubs.registry_pb2
    # The sender's registrar, and one successor per lane for re-homing.
    for rid, prefix in [('hub', HUB)] + [('succ%d' % i, ORIGIN + '.succ%d' % i)
                                         for i in range(LANES)]:
        c.registry.Delegate(rp.DelegateRequest(
            registrar_id=rid, prefix=prefix, display_name=rid,
            cert_identity='axle://%s/member/%s' % (FED, prefix)), timeout=CALL_TIMEOUT)
        c.registry.SetStatus(rp.SetStatusRequest(
            registrar_id=rid, status=rp.REGISTRAR_STATUS_ACTIVE, reason='setup'),
            timeout=CALL_TIMEOUT)
    c.close()


class Conn:
    """One client connection (a grpcio channel) to a node, with every stub."""

    def __init__(self, region, cred):
        self.region, self.cred = region, cred
        self._open()

    def _open(self):
        e = _env
        fed, s = e['fed'], e['stubs']
        creds = grpc.ssl_channel_credentials(root_certificates=_read(fed.ca_pem),
                                             private_key=_read(self.cred.key),
                                             certificate_chain=_read(self.cred.chain))
        self.ch = grpc.secure_channel('localhost:%d' % e['nodes'][self.region].port, creds)
        self.registry = s.registry_pb2_grpc.RegistryStub(self.ch)
        self.portal = s.registry_pb2_grpc.PortalStub(self.ch)
        self.recourse = s.recourse_pb2_grpc.RecourseStub(self.ch)
        self.switch = s.switch_pb2_grpc.SwitchStub(self.ch)
        self.axle = s.axle_pb2_grpc.AxleStub(self.ch)

    def reopen(self):
        self.close()
        self._open()

    def close(self):
        try:
            self.ch.close()
        except Exception:
            pass


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.in_flight = 0		# calls issued and not yet settled, all lanes
        self.n = {'acked': 0, 'unsure': 0, 'applied_unacked': 0, 'retried': 0,
                  'refused_busy': 0, 'scripts': 0, 'dedup': 0}

    def add(self, key, k=1):
        with self.lock:
            self.n[key] += k


class Script:
    """A sequence of changes to one record, one call at a time. After a call with an
    unknown outcome it reads the record (probe) and compares versions: one higher means
    the change was made (and not acknowledged), equal means retry, anything else is a
    change applied twice or lost. Subclasses define steps, probe() and version_of()."""

    def __init__(self, name, stats):
        self.name, self.stats = name, stats
        self.steps = []			# (label, call(conn) -> future)
        self.i = 0
        self.version = 0
        self.probing = False
        self.applied = []		# labels of steps made, in order
        self.acked = []			# (label, response) of steps acknowledged
        self.errors = []

    @property
    def done(self):
        return self.i >= len(self.steps) or bool(self.errors)

    def start(self, conn):
        if self.probing:
            return self.probe(conn)
        return self.steps[self.i][1](conn)

    def _advance(self, v, resp):
        label = self.steps[self.i][0]
        if v != self.version + 1:
            self.errors.append('%s: %s took version %d -> %d' % (self.name, label,
                                                                  self.version, v))
        self.version = v
        self.applied.append(label)
        if resp is not None:
            self.acked.append((label, resp))
        self.i += 1

    def settle(self, fut):
        """Takes the call's outcome. Returns True if it was unsure (node down?)."""
        try:
            resp = fut.result()
        except grpc.RpcError as e:
            return self._failed(e)
        if self.probing:
            self.probing = False
            v = self.version_of(resp, probe=True)
            if v == self.version:
                self.stats.add('retried')
            else:
                self.stats.add('applied_unacked')
                self._advance(v, None)
            return False
        self.stats.add('acked')
        v = self.version_of(resp)
        if v is not None:		# None: acknowledged, one more read to do
            self._advance(v, resp)
        return False

    def _failed(self, e):
        code = e.code()
        if code in UNSURE:
            if not self.probing:
                self.stats.add('unsure')
            self.probing = self.probing or self.may_have_applied()
            return True
        if code == Code.RESOURCE_EXHAUSTED:
            self.stats.add('refused_busy')	# refused, so not made: try again
            return True
        if self.probing and code == Code.NOT_FOUND:
            self.probing = False		# the record was never created
            self.stats.add('retried')
            return False
        label = self.steps[self.i][0] if self.i < len(self.steps) else '-'
        self.errors.append('%s: %s%s refused: %s %s' % (
            self.name, label, ' (probe)' if self.probing else '', code, e.details()))
        return False

    def may_have_applied(self):
        return True

    def resolve(self, conn):
        """After the load: settles a pending probe synchronously (node up)."""
        def settled():
            if not self.probing:
                return True
            self.settle(self.probe(conn))
            return not self.probing
        wait_for(settled, WAIT, interval=0.2, what='%s: its last change read back' % self.name)


# --- the register -------------------------------------------------------------------

def rpb():
    return _env['stubs'].registry_pb2


class RegistrarScript(Script):
    """Registrar cl<n>: delegate, activate, publish, suspend, publish, reinstate,
    withdraw; every third gets a second prefix; every fifth is revoked and re-homed
    to its lane's successor."""

    def __init__(self, n, lane, stats):
        super().__init__('cl%d' % n, stats)
        p = rpb()
        self.rid, self.lane = 'cl%d' % n, lane
        self.prefix = '%s.cl%d' % (ORIGIN, n)
        self.prefix2 = self.prefix + 'b'
        self.succ = 'succ%d' % lane
        rid, to = self.rid, CALL_TIMEOUT

        def status(st, why):
            return lambda c: c.registry.SetStatus.future(p.SetStatusRequest(
                registrar_id=rid, status=st, reason=why), timeout=to)

        def publish(name, kind):
            return lambda c: c.registry.PublishService.future(p.PublishServiceRequest(
                registrar_id=rid, service=p.Service(
                    name=self.svc(name), kind=kind, address='%s.%s' % (self.prefix, name),
                    message_types=['index.query'], description='crashloop %s' % rid)),
                timeout=to)

        def delegate(prefix):
            return lambda c: c.registry.Delegate.future(p.DelegateRequest(
                registrar_id=rid, prefix=prefix, display_name='Crash loop %d' % n,
                cert_identity='axle://%s/member/%s.hub' % (FED, self.prefix)), timeout=to)

        S, K = p, _env['stubs'].common_pb2	# statuses, service kinds
        self.steps = [
            ('delegate', delegate(self.prefix)),
            ('activate', status(S.REGISTRAR_STATUS_ACTIVE, 'onboarded')),
            ('publish idx', publish('idx', K.SERVICE_KIND_INDEX)),
            ('suspend', status(S.REGISTRAR_STATUS_SUSPENDED, 'audit pending')),
            ('publish sw', publish('sw', K.SERVICE_KIND_SWITCH)),
            ('reinstate', status(S.REGISTRAR_STATUS_ACTIVE, 'audit passed')),
            ('withdraw idx', lambda c: c.registry.WithdrawService.future(
                p.WithdrawServiceRequest(registrar_id=rid, name=self.svc('idx'),
                                         reason='retired'),
                timeout=to)),
        ]
        if n % 3 == 0:
            self.steps.append(('delegate second', delegate(self.prefix2)))
        if n % 5 == 0:
            self.steps += [
                ('revoke', status(S.REGISTRAR_STATUS_REVOKED, 'contract ended')),
                ('rehome', lambda c: c.registry.ReHome.future(p.ReHomeRequest(
                    from_registrar_id=rid, to_registrar_id=self.succ,
                    reason='successor'), timeout=to))]

    def svc(self, name):
        """Service names are per registrar; a successor takes over several registrars'
        services, so they carry the registrar's id (a clash would refuse the re-home)."""
        return '%s-%s' % (self.rid, name)

    def probe(self, conn):
        return conn.registry.GetRegistrar.future(rpb().GetRegistrarRequest(id=self.rid),
                                                 timeout=CALL_TIMEOUT)

    def version_of(self, resp, probe=False):
        r = resp.from_registrar if (not probe and self.steps[self.i][0] == 'rehome') \
            else resp.registrar
        return r.version

    def expected(self, moved=False):
        """(status, prefixes, services, successor) after the steps made; moved: the
        services the re-home (if made) moved to the successor instead."""
        p = rpb()
        st, prefixes, services, succ, gone = None, set(), set(), '', set()
        for label in self.applied:
            if label == 'delegate':
                st, prefixes = p.REGISTRAR_STATUS_PENDING, {self.prefix}
            elif label == 'delegate second':
                prefixes.add(self.prefix2)
            elif label in ('activate', 'reinstate'):
                st = p.REGISTRAR_STATUS_ACTIVE
            elif label == 'suspend':
                st = p.REGISTRAR_STATUS_SUSPENDED
            elif label == 'revoke':
                st = p.REGISTRAR_STATUS_REVOKED
            elif label.startswith('publish '):
                services.add(self.svc(label.split()[1]))
            elif label == 'withdraw idx':
                services.discard(self.svc('idx'))
            elif label == 'rehome':	# its prefixes take their services along
                prefixes, succ, gone, services = set(), self.succ, services, set()
        return gone if moved else (st, prefixes, services, succ)

    def rehomed(self):
        """Prefixes this script moved to its successor."""
        if 'rehome' not in self.applied:
            return set()
        return {self.prefix, self.prefix2} if 'delegate second' in self.applied \
            else {self.prefix}


# --- recourse ------------------------------------------------------------------------

def cpb():
    return _env['stubs'].recourse_pb2


class CaseScript(Script):
    """One case: opened by a Send to an unknown address (retried with the same message
    id: de-duplicated), then claim, annotate, release, claim, annotate and a resolution
    (discard, return or redirect back to the sender's own address)."""

    ENDS = ('discard', 'return', 'redirect')

    def __init__(self, n, lane, stats):
        super().__init__('case%d' % n, stats)
        e = _env['stubs']
        p, ep = cpb(), e.envelope_pb2
        self.mid = os.urandom(16)
        self.case_id = None
        self.locating = False
        self.end = self.ENDS[n % 3]
        self.tag = 'k%d-%s' % (n, self.mid.hex()[:8])
        to = CALL_TIMEOUT
        envelope = ep.Envelope(message_id=self.mid, sender=HUB, to='%s.nobody.n%d' % (ORIGIN, n),
                               message_type='test.crashloop.v1', content_type='text/plain',
                               context='crashloop', payload=b'opaque %d' % n)

        def act(method, req_type, **kw):
            return lambda c: getattr(c.recourse, method).future(
                req_type(id=self.case_id, **kw), timeout=to)

        self.notes = {'annotate 1': 'first look %s' % self.tag,
                      'annotate 2': 'second look %s' % self.tag,
                      'release': 'handing back %s' % self.tag,
                      'discard': 'test traffic %s' % self.tag,
                      'return': 'nobody by that name %s' % self.tag,
                      'redirect': 'typo %s' % self.tag}
        end = {'discard': act('Discard', p.DiscardCaseRequest, reason=self.notes['discard']),
               'return': act('ReturnToSender', p.ReturnCaseRequest,
                             reason=self.notes['return']),
               'redirect': act('Redirect', p.RedirectCaseRequest, to=HUB,
                               reason=self.notes['redirect'])}[self.end]
        self.steps = [
            ('send', lambda c: c.switch.Send.future(envelope, timeout=to)),
            ('claim 1', lambda c: c.recourse.Claim.future(p.ClaimCaseRequest(
                id=self.case_id, expected_version=self.version), timeout=to)),
            ('annotate 1', act('Annotate', p.AnnotateCaseRequest, note=self.notes['annotate 1'])),
            ('release', act('Release', p.ReleaseCaseRequest, reason=self.notes['release'])),
            ('claim 2', lambda c: c.recourse.Claim.future(p.ClaimCaseRequest(
                id=self.case_id, expected_version=self.version), timeout=to)),
            ('annotate 2', act('Annotate', p.AnnotateCaseRequest, note=self.notes['annotate 2'])),
            (self.end, end),
        ]

    def may_have_applied(self):
        # Send is de-duplicated by message id: simply sent again.
        return self.i > 0

    def probe(self, conn):
        return conn.recourse.Show.future(cpb().ShowCaseRequest(id=self.case_id),
                                         timeout=CALL_TIMEOUT)

    def start(self, conn):
        if self.i == 0 and self.locating:
            return conn.switch.Status.future(_env['stubs'].switch_pb2.StatusRequest(
                message_id=self.mid), timeout=CALL_TIMEOUT)
        return super().start(conn)

    def version_of(self, resp, probe=False):
        if self.i > 0:
            return resp.record.version
        ep = _env['stubs'].envelope_pb2
        if self.locating:		# Status of a message accepted before
            if resp.state != ep.MESSAGE_STATE_RECOURSE or not resp.case_id:
                self.errors.append('%s: status %r' % (self.name, resp))
            self.case_id = resp.case_id
            return 1
        rc = resp.receipt
        if rc.kind != ep.RECEIPT_KIND_ACCEPTED:
            self.errors.append('%s: send receipt %r' % (self.name, rc))
        if not rc.case_id and rc.detail.startswith('duplicate'):
            # A retried Send whose first try was committed: de-duplicated, and its
            # receipt does not name the case; Status does.
            self.locating = True
            self.stats.add('dedup')
            return None
        if not rc.case_id:
            self.errors.append('%s: send receipt names no case: %r' % (self.name, rc))
        self.case_id = rc.case_id
        return 1


# --- the load and the killer ------------------------------------------------------------

class Lane(threading.Thread):
    """One connection keeping IN_FLIGHT scripts going, one call each in flight; new
    scripts start while the killer runs (at most MAX_SCRIPTS), then the rest finish."""

    def __init__(self, k, cred, make, stats, killing, stop_at):
        super().__init__(daemon=True)
        self.k, self.cred, self.make, self.stats = k, cred, make, stats
        self.killing, self.stop_at = killing, stop_at
        self.scripts = []
        self.failure = None

    def run(self):
        try:
            self._run()
        except BaseException as e:		# surfaced by the test
            self.failure = e

    def _run(self):
        conn = Conn(ORIGIN, self.cred)
        active = []
        while time.monotonic() < self.stop_at:
            while (self.killing.is_set() and len(active) < IN_FLIGHT and
                   len(self.scripts) < MAX_SCRIPTS):
                s = self.make(self.k * MAX_SCRIPTS + len(self.scripts), self.k, self.stats)
                self.scripts.append(s)
                active.append(s)
                self.stats.add('scripts')
            if not active:
                break
            t = time.monotonic()
            with self.stats.lock:
                self.stats.in_flight += len(active)
            calls = [(s, s.start(conn)) for s in active]
            unsure = [s.settle(f) for s, f in calls]
            with self.stats.lock:
                self.stats.in_flight -= len(active)
            active = [s for s in active if not s.done]
            if any(unsure):
                conn.reopen()		# no waiting out grpc's reconnect backoff
            time.sleep(max(0.0, t + ROUND - time.monotonic()))
        conn.close()


def killer(victims, rnd, stats, log):
    """SIGKILLs each victim at a random moment with calls in flight, and restarts it."""
    for name in victims:
        time.sleep(rnd.uniform(0.5, 2.0))
        for _ in range(2000):		# up to ~2 s for a round of calls to be out
            if stats.in_flight > 0:
                break
            time.sleep(0.001)
        time.sleep(rnd.uniform(0, 0.004))
        node = _env['nodes'][name]
        node.kill()
        log.append(name)
        time.sleep(rnd.uniform(0.05, 0.5))
        node.start(timeout=30)


def run_loop(make):
    """Runs the lanes against the kill loop. Returns (scripts, stats, kills, seconds)."""
    e = env()
    seed = int(os.environ.get('AXLE_CRASH_SEED', str(int(time.time()))))
    print('killer seed %d (AXLE_CRASH_SEED)' % seed, flush=True)
    rnd = random.Random(seed)
    victims = [ORIGIN] * KILLS
    victims[KILLS // 2] = PEER		# the mirror must survive its own kill too
    stats, killing, kills = Stats(), threading.Event(), []
    killing.set()
    t0 = time.monotonic()
    lanes = [Lane(k, e['fed'].admin(ORIGIN), make, stats, killing, t0 + LOAD_SECONDS)
             for k in range(LANES)]
    for ln in lanes:
        ln.start()
    try:
        killer(victims, rnd, stats, kills)
    finally:
        killing.clear()
        for r, n in e['nodes'].items():
            if not n.alive():
                n.start(timeout=30)
    for ln in lanes:
        ln.join(LOAD_SECONDS + 2 * CALL_TIMEOUT)
        check(not ln.is_alive(), 'lane %d did not finish' % ln.k)
        if ln.failure is not None:
            raise ln.failure
    scripts = [s for ln in lanes for s in ln.scripts]
    conn = Conn(ORIGIN, e['fed'].admin(ORIGIN))
    try:
        for s in scripts:
            if not s.errors:
                s.resolve(conn)
    finally:
        conn.close()
    errors = [x for s in scripts for x in s.errors]
    check(not errors, '%d scripts went wrong, e.g. %s' % (len(errors), errors[:5]))
    check(len(kills) == KILLS, 'only %d kills happened' % len(kills))
    return scripts, stats, kills, time.monotonic() - t0


def report(what, scripts, stats, kills, secs):
    done = sum(1 for s in scripts if s.done)
    print('%s: %d scripts (%d complete), %d calls acked, %d unsure during kills (%d of '
          'them found applied, %d retried, %d re-sends de-duplicated), %d refused as busy; '
          '%d kills (%s) in %.1fs'
          % (what, len(scripts), done, stats.n['acked'], stats.n['unsure'],
             stats.n['applied_unacked'], stats.n['retried'], stats.n['dedup'],
             stats.n['refused_busy'], len(kills), ' '.join(kills), secs), flush=True)


# --- checks: the register -------------------------------------------------------------

def all_registrars(conn, region):
    out, token = {}, ''
    for _ in range(1000):
        r = conn.registry.ListRegistrars(rpb().ListRegistrarsRequest(
            region=region, page=_env['stubs'].common_pb2.PageRequest(
                page_size=100, page_token=token)), timeout=CALL_TIMEOUT)
        for x in r.registrars:
            check(x.id not in out, 'registrar %s listed twice' % x.id)
            out[x.id] = x
        token = r.page.next_page_token
        if not token:
            return out
    raise at.TestFailure('ListRegistrars did not end')


def whole_feed(conn):
    """Every entry of the origin's feed (Axle.Feed, as its admin) and the signed head."""
    entries, head = [], None
    for _ in range(10000):
        r = conn.axle.Feed(_env['stubs'].axle_pb2.FeedRequest(
            region=ORIGIN, from_seq=len(entries) + 1), timeout=CALL_TIMEOUT)
        entries += list(r.entries)
        head = r.head
        if not r.more:
            return entries, head
    raise at.TestFailure('Feed did not end')


def check_feed(entries, head):
    check(entries, 'empty feed')
    zero = bytes(32)
    for k, en in enumerate(entries):
        check(en.seq == k + 1, 'feed seq %d at position %d' % (en.seq, k + 1))
        check(en.prev_hash == (entries[k - 1].hash if k else zero),
              'feed entry %d does not chain to %d' % (en.seq, en.seq - 1))
    check(head.seq == len(entries) and head.hash == entries[-1].hash,
          'signed head %d does not sign the last entry %d' % (head.seq, len(entries)))
    # Every registrar's versions appear once each, in order, with no gap.
    last = {}
    for en in entries:
        r = en.registrar
        check(r.version == last.get(r.id, (0,))[0] + 1,
              'feed entry %d: %s version %d after %d' % (en.seq, r.id, r.version,
                                                       last.get(r.id, (0,))[0]))
        last[r.id] = (r.version, en)
    return last


def check_acked_in_feed(scripts, entries):
    kind = {'delegate': 'DELEGATED', 'delegate second': 'DELEGATED', 'activate': 'STATUS',
            'suspend': 'STATUS', 'reinstate': 'STATUS', 'revoke': 'STATUS',
            'publish idx': 'SERVICE_PUBLISHED', 'publish sw': 'SERVICE_PUBLISHED',
            'withdraw idx': 'SERVICE_WITHDRAWN', 'rehome': 'REHOMED'}
    n = 0
    for s in scripts:
        for label, resp in s.acked:
            seq = resp.feed_seq
            check(1 <= seq <= len(entries), '%s %s: feed_seq %d past the feed (%d)'
                  % (s.name, label, seq, len(entries)))
            mine = resp.from_registrar if label == 'rehome' else resp.registrar
            en = entries[seq - 1 - (1 if label == 'rehome' else 0)]
            check(en.registrar.id == s.rid and en.registrar.version == mine.version and
                  rpb().FeedChange.Name(en.change) == 'FEED_CHANGE_' + kind[label],
                  '%s %s acked at feed %d (v%d) but the feed has %s v%d %s'
                  % (s.name, label, seq, mine.version, en.registrar.id,
                     en.registrar.version, rpb().FeedChange.Name(en.change)))
            n += 1
    return n


def check_records(scripts, records, last):
    """Every registrar as its script made it, equal to its last feed entry."""
    for rid, r in records.items():
        check(rid in last and last[rid][1].registrar == r,
              '%s differs from its last feed entry (half-applied?):\n%r\n%r'
              % (rid, r, last.get(rid, (0, None))[1]))
    for s in scripts:
        st, prefixes, services, succ = s.expected()
        r = records.get(s.rid)
        if st is None:
            check(r is None, '%s exists though its delegation was never made' % s.rid)
            continue
        check(r is not None, '%s: acknowledged delegation lost' % s.rid)
        got = (r.status, set(r.prefixes), {x.name for x in r.services}, r.successor_id)
        check(got == (st, prefixes, services, succ) and r.version == s.version,
              '%s: have %r v%d, want %r v%d after %s'
              % (s.rid, got, r.version, (st, prefixes, services, succ), s.version, s.applied))
    for lane in range(LANES):
        moved = set().union(*([s.rehomed() for s in scripts if s.lane == lane] or [set()]))
        want = {'%s.succ%d' % (ORIGIN, lane)} | moved
        got = set(records['succ%d' % lane].prefixes)
        check(got == want, 'succ%d holds %s, want %s' % (lane, sorted(got), sorted(want)))
        want = set().union(*([s.expected(moved=True) for s in scripts if s.lane == lane] or
                             [set()]))
        got = {x.name for x in records['succ%d' % lane].services}
        check(got == want, 'succ%d publishes %s, want %s' % (lane, sorted(got), sorted(want)))


def check_resolution(conn, scripts, mirror=False):
    """Resolve and Discover agree with the register: at the origin, or at the peer
    from its mirror."""
    p = rpb()
    for s in scripts:
        st, prefixes, services, succ = s.expected()
        if st is None:
            continue
        owner = succ or s.rid
        for pre in prefixes | s.rehomed():
            r = conn.registry.Resolve(p.ResolveRequest(address=pre + '.x'), timeout=CALL_TIMEOUT)
            check(r.outcome == p.RESOLVE_OUTCOME_MATCHED and r.registrar.id == owner and
                  r.from_mirror == mirror, '%s resolves to %r (from mirror: %s), want %s'
                  % (pre, r.registrar.id, r.from_mirror, owner))
        # A revoked registrar's services are no longer discovered.
        if st == p.REGISTRAR_STATUS_REVOKED:
            services = set()
        d = conn.portal.Discover(p.DiscoverRequest(prefix=s.prefix), timeout=CALL_TIMEOUT)
        got = {x.service.name for x in d.services if x.registrar_id == s.rid and
               x.from_mirror == mirror}
        check(got == services, 'Discover %s: %s, want %s%s' % (s.prefix, got, services,
                                                              ' (mirror)' if mirror else ''))


def metrics(region):
    e = env()
    return e['nodes'][region].metrics(e['fed'].admin(region))


def axlectl(region, *args):
    e = env()
    cred = e['fed'].admin(region)
    cmd = [os.path.join(at.BUILD, 'axlectl'), '--cert', cred.chain, '--key', cred.key,
           '--trust', e['fed'].trust_dir, '--federation', FED,
           '--server', '127.0.0.1:%d' % e['nodes'][region].port] + list(args)
    return at.run(cmd, timeout=30)


@test(timeout=240 * SCALE)
def register_changes_survive_kill_9_loop():
    e = env()
    scripts, stats, kills, secs = run_loop(RegistrarScript)
    report('register', scripts, stats, kills, secs)
    check(stats.n['unsure'] > 0, 'no call was interrupted: the kills missed the load')
    conn = Conn(ORIGIN, e['fed'].admin(ORIGIN))
    try:
        entries, head = whole_feed(conn)
        last = check_feed(entries, head)
        n = check_acked_in_feed(scripts, entries)
        records = all_registrars(conn, ORIGIN)
        check_records(scripts, records, last)
        check_resolution(conn, scripts)
    finally:
        conn.close()
    out = json.loads(axlectl(ORIGIN, '--json', 'feed', 'verify').stdout)
    check(out['ok'] and out['entries'] == len(entries) and out['head_seq'] == len(entries),
          'axlectl feed verify: %r (feed has %d)' % (out, len(entries)))
    # The peer mirrors all of it, verified (not broken), equal to the origin.
    wait_for(lambda: metrics(PEER).get('axle_mirror_last_seq{peer="%s"}' % ORIGIN) ==
             len(entries), WAIT, interval=0.3, what='the peer mirrors up to seq %d' % len(entries))
    check(metrics(PEER)['axle_mirror_broken{peer="%s"}' % ORIGIN] == 0, 'mirror broken')
    pconn = Conn(PEER, e['fed'].admin(PEER))
    try:
        mirror = all_registrars(pconn, ORIGIN)
        r = pconn.registry.Resolve(rpb().ResolveRequest(address=scripts[0].prefix + '.x'),
                                   timeout=CALL_TIMEOUT)
        check(r.from_mirror and r.feed_seq == len(entries), 'peer resolve %r' % r)
        check_resolution(pconn, scripts, mirror=True)
    finally:
        pconn.close()
    check(set(mirror) == set(records), 'mirror has %d registrars, origin %d: %s'
          % (len(mirror), len(records), sorted(set(mirror) ^ set(records))[:5]))
    diff = [rid for rid in records if mirror[rid] != records[rid]]
    check(not diff, 'mirror differs from origin for %s' % diff[:5])
    print('register: %d acked changes found in the feed; feed %d entries verified; '
          '%d registrars, mirrored equal at %s' % (n, len(entries), len(records), PEER))


# --- checks: recourse --------------------------------------------------------------------

def all_cases(conn):
    out, token = [], ''
    for _ in range(1000):
        r = conn.recourse.List(cpb().ListCasesRequest(
            include_closed=True, page=_env['stubs'].common_pb2.PageRequest(
                page_size=100, page_token=token)), timeout=CALL_TIMEOUT)
        out += list(r.cases)
        token = r.page.next_page_token
        if not token:
            return out
    raise at.TestFailure('List did not end')


ACTION = {'claim 1': 'CLAIMED', 'claim 2': 'CLAIMED', 'annotate 1': 'ANNOTATED',
          'annotate 2': 'ANNOTATED', 'release': 'RELEASED', 'discard': 'DISCARDED',
          'return': 'RETURNED', 'redirect': 'REDIRECTED'}


def check_case(s, c):
    """History: OPENED then one action per step made, in order, with its text."""
    p = cpb()
    kinds = [p.CaseActionKind.Name(h.kind)[len('CASE_ACTION_KIND_'):] for h in c.history]
    want = ['OPENED'] + [ACTION[x] for x in s.applied[1:]]
    check(kinds == want, '%s (%s): history %s, want %s' % (s.name, c.id, kinds, want))
    for h, label in zip(c.history[1:], s.applied[1:]):
        if label in s.notes:
            check(h.reason == s.notes[label], '%s: %s says %r' % (s.name, label, h.reason))
    check(c.version == s.version, '%s: version %d, want %d' % (s.name, c.version, s.version))
    last = s.applied[-1]
    state = ('OPEN' if last in ('send', 'release') else
             'RESOLVED' if last in CaseScript.ENDS else 'CLAIMED')
    check(p.CaseState.Name(c.state) == 'CASE_STATE_' + state,
          '%s: state %s, want %s after %s' % (s.name, p.CaseState.Name(c.state), state,
                                             s.applied))


def hub_mailbox(conn, counts):
    """Adds the non-receipt message ids now in the sender's mailbox (fetched, left
    unacknowledged with a long visibility) to counts. Returns counts."""
    sp = _env['stubs'].switch_pb2
    for _ in range(1000):
        got = list(conn.switch.Fetch(sp.FetchRequest(max_messages=500, wait_ms=300,
                                                     visibility_timeout_ms=600000),
                                     timeout=CALL_TIMEOUT))
        if not got:
            return counts
        for d in got:
            if d.envelope.message_type != 'axle.receipt':
                counts[d.envelope.message_id] = counts.get(d.envelope.message_id, 0) + 1
    raise at.TestFailure('mailbox did not drain')


@test(timeout=240 * SCALE)
def cases_survive_kill_9_loop():
    e = env()
    scripts, stats, kills, secs = run_loop(CaseScript)
    report('recourse', scripts, stats, kills, secs)
    check(stats.n['unsure'] > 0, 'no call was interrupted: the kills missed the load')
    conn = Conn(ORIGIN, e['fed'].admin(ORIGIN))
    try:
        cases = all_cases(conn)
        v = conn.recourse.VerifyAudit(cpb().VerifyAuditRequest(), timeout=CALL_TIMEOUT)
    finally:
        conn.close()
    by_mid = {}
    for c in cases:
        by_mid.setdefault(c.envelope.message_id, []).append(c)
    twice = [s.name for s in scripts if len(by_mid.get(s.mid, [])) > 1]
    check(not twice, 'cases opened twice for %s' % twice[:5])
    sent = [s for s in scripts if s.applied]
    for s in scripts:
        got = by_mid.get(s.mid, [])
        if not s.applied:
            continue			# never acknowledged (time ran out): either is fine
        check(len(got) == 1 and got[0].id == s.case_id,
              '%s: acknowledged case %s: found %r' % (s.name, s.case_id, [c.id for c in got]))
        check_case(s, got[0])
    check(len(by_mid) == len(cases), '%d cases share a message' % (len(cases) - len(by_mid)))
    check(v.ok and v.entries >= sum(len(s.applied) for s in sent),
          'audit: ok=%s entries=%d first_bad=%r %s' % (v.ok, v.entries, v.first_bad, v.detail))
    cp = axlectl(ORIGIN, 'audit', 'verify')
    check(cp.stdout.startswith('audit OK'), 'axlectl audit verify: %r' % cp.stdout)
    # Redirected cases reach the sender's own address exactly once.
    hub = Conn(ORIGIN, e['fed'].member(ORIGIN))
    redirected = {s.mid for s in sent if s.applied[-1] == 'redirect'}
    counts = {}
    try:
        wait_for(lambda: redirected <= set(hub_mailbox(hub, counts)), WAIT, interval=0.5,
                 what='every redirected message delivered')
        hub_mailbox(hub, counts)		# and nothing more of them
    finally:
        hub.close()
    twice = [m.hex() for m in redirected if counts[m] != 1]
    check(not twice, 'redirected messages delivered more than once: %s' % twice[:3])
    print('recourse: %d cases acknowledged, each once with its history (%d actions); audit '
          'OK over %d entries; %d redirects delivered once' % (
              len(sent), sum(len(s.applied) for s in sent), v.entries, len(redirected)))


@test
def nodes_stop_cleanly_after_the_loops():
    """After all the kills both nodes still shut down cleanly (exit 0; under ASan, no
    leak), and no sanitizer spoke during the loops."""
    for r, n in env()['nodes'].items():
        n.stop(timeout=30)
        log = n.log_text()
        for sig in ('AddressSanitizer', 'LeakSanitizer', 'runtime error:'):
            check(sig not in log, '%s: %s in the log:\n%s' % (r, sig, n.log_tail(40)))


def after_failure(name):
    for r, n in _env.get('nodes', {}).items():
        print('--- %s log tail ---\n%s' % (r, n.log_tail(30)))


if __name__ == '__main__':
    main(after_failure)

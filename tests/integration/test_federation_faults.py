"""test_federation_faults.py -- a federation under fault, each node in its own network
namespace (tests/integration/netns.py): a four-level tree of nodes (each peers with its
parent and children) with a few cross links (a leaf that talks to another branch peers with
an ancestor of the other leaf: a node routes to the peer whose region is the longest prefix
of the address, so that is its way up), on veth pairs the test can cut and heal. Each flow
crosses at least three axles, checked on the trace of what arrives.

In `make test` it runs six nodes and asserts correctness only; `make federation`
(AXLE_FED_SIZE=20) runs twenty and prints the figures ("FIGURE name value" lines) with no
timed assertion either:
- a register change at a leaf is visible at every node (the time from the change at the
  leaf to the mirror_applied log line of each other node: p50, p99);
- leaf-to-leaf messages across >= 3 axles while random nodes are SIGKILLed and restarted
  and axles cut and healed (ip link down/up; tc netem loss and delay where the kernel has
  sch_netem, else that fault is skipped and counted so): every acknowledged message is
  delivered exactly once;
- a region cut off for a while catches up after healing: its mirrors converge and the
  traffic queued for it drains, in order, exactly once;
- an escalation from a leaf climbs to the root while a middle node is down: it waits,
  climbs when the node returns, and is open at exactly one node.
Needs root (CAP_NET_ADMIN) for ip netns; without it every check is skipped, never passed.
Steps depend on each other and run in order.
"""

import calendar
import os
import random
import re
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import axletest as at  # noqa: E402
from axletest import check, main, test, wait_for  # noqa: E402
import netns  # noqa: E402

import grpc  # noqa: E402

SIZE = int(os.environ.get('AXLE_FED_SIZE', '6'))
FULL = SIZE >= 20
FED = 'fame-test'
DEADLINE_MS = 1500
WAIT = 60 if FULL else 45

if FULL:
    # 1 root, 3 regions, 6 districts, 10 leaves: four levels.
    TREE = {'uk': None, 'uk.a': 'uk', 'uk.b': 'uk', 'uk.c': 'uk'}
    for l2 in ('uk.a', 'uk.b', 'uk.c'):
        for l3 in ('x', 'y'):
            TREE['%s.%s' % (l2, l3)] = l2
    for l3, n in (('uk.a.x', 2), ('uk.a.y', 2), ('uk.b.x', 2), ('uk.b.y', 2),
                  ('uk.c.x', 1), ('uk.c.y', 1)):
        for i in range(1, n + 1):
            TREE['%s.l%d' % (l3, i)] = l3
    PAIRS = [('uk.a.x.l1', 'uk.b.y.l1'), ('uk.c.x.l1', 'uk.a.y.l2')]
    CROSS = [('uk.a.x.l1', 'uk'), ('uk.b.y.l1', 'uk.a'), ('uk.c.x.l1', 'uk'),
             ('uk.a.y.l2', 'uk.c')]
    CHANGE_AT = 'uk.c.y.l1'	# a leaf with no cross link: its changes go up the tree
    CUT = 'uk.b.y'		# the region cut off: this district and its leaves
    ESC_LEAF = 'uk.a.x.l2'
    CHANGES = 20
    FAULT_SECONDS = 90
    CUT_SECONDS = 20
    NEW, NEW_PARENT, NEW_SENDER = 'uk.c.y.l2', 'uk.c.y', 'uk.b.y.l1'
else:
    TREE = {'uk': None, 'uk.a': 'uk', 'uk.a.x': 'uk.a', 'uk.a.x.l1': 'uk.a.x',
            'uk.b': 'uk', 'uk.b.y': 'uk.b'}
    PAIRS = [('uk.a.x.l1', 'uk.b.y')]
    CROSS = [('uk.a.x.l1', 'uk'), ('uk.b.y', 'uk.a')]
    CHANGE_AT = 'uk.a.x.l1'
    CUT = 'uk.b.y'
    ESC_LEAF = 'uk.a.x.l1'
    CHANGES = 3
    FAULT_SECONDS = 20
    CUT_SECONDS = 4
    NEW, NEW_PARENT, NEW_SENDER = 'uk.a.x.l2', 'uk.a.x', 'uk.b.y'

FAULT_SECONDS = int(os.environ.get('AXLE_FED_FAULT_SECONDS', FAULT_SECONDS))
TOPO = netns.Topology(TREE, CROSS)
ENDPOINTS = sorted({r for pair in PAIRS for r in pair})
_env = {}


def figure(name, value):
    print('FIGURE %s %s' % (name, value), flush=True)


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100.0 * (len(xs) - 1))))]


def peering(stubs):
    """True when this build peers from the register (Registry.PublishNode)."""
    return hasattr(stubs.registry_pb2, 'PublishNodeRequest')


def node_extra(stubs):
    """Short recourse deadlines, a quick mirror; and, with peering from the register, no
    axle on demand to a node that is not a [peer] or a child ([peering] direct = no): in
    these namespaces a node reaches only its neighbours, as behind a firewall."""
    lines = ['', '[recourse]', 'case_deadline_ms = %d' % DEADLINE_MS,
             'retry_base_ms = 100', 'retry_cap_ms = 1000', 'escalate_timeout_ms = 3000',
             '', '[registry]', 'mirror_interval_ms = 200']
    if peering(stubs):
        lines += ['', '[peering]', 'direct = no']
    return '\n'.join(lines) + '\n'


@at.shared_env(_env)
def env():
    why = netns.available()
    if why:
        _env['skip'] = why
        return
    NetFed = netns.make_fed_class()
    t0 = time.monotonic()
    f = NetFed(TOPO, node_extra=node_extra(at.grpc_stubs(at.Workspace())), log_level='debug',
               members=ENDPOINTS + [ESC_LEAF])
    _env['f'] = f
    figure('nodes', len(f.nodes))
    figure('links', len(f.net.links))
    for r in TOPO.regions:
        f.wait_registry(r)
    for r in ENDPOINTS:
        f.registrar(r, hub_id(r), r + '.hub', 'axle://%s/member/%s.hub' % (FED, r))
    _env['hubs'] = {r: f.hub(r, f.fed.member(r)) for r in ENDPOINTS}
    figure('start_seconds', '%.1f' % (time.monotonic() - t0))


def need():
    e = env()
    if 'skip' in e:
        at.skip(e['skip'])
    return e


def hub_id(r):
    return 'hub-' + r.replace('.', '-')


def resolves(f, at_region, address, rid):
    """Registry.Resolve at at_region names registrar rid for address (False if the node
    cannot answer)."""
    rp = f.stubs.registry_pb2
    try:
        r = f.registry(at_region, 'Resolve', rp.ResolveRequest(address=address))
    except grpc.RpcError:
        return False
    return r.registrar.id == rid


def wait_everywhere(f, address, rid, regions=None, timeout=WAIT):
    for r in regions or TOPO.regions:
        wait_for(lambda: resolves(f, r, address, rid), timeout, interval=0.1,
                 what='%s resolves %s to %s' % (r, address, rid))


@test(timeout=600)
def the_federation_comes_up_and_every_node_resolves_every_hub():
    e = need()
    f = e['f']
    for r in ENDPOINTS:
        wait_everywhere(f, r + '.hub', hub_id(r))


# --- the register spreads -------------------------------------------------------------------

_APPLIED = re.compile(r'^ts=(\S+)Z .*event=mirror_applied peer=(\S+) .*to=(\d+)')


def applied_times(node, origin, after_pos):
    """[(wall time, to seq)] of node's mirror_applied lines for origin after byte after_pos."""
    out = []
    with open(node.log, errors='replace') as fh:
        fh.seek(after_pos)
        for line in fh:
            m = _APPLIED.match(line)
            if m and m.group(2) == origin:
                t = calendar.timegm(time.strptime(m.group(1)[:19], '%Y-%m-%dT%H:%M:%S'))
                out.append((t + float('0' + m.group(1)[19:]), int(m.group(3))))
    return out


@test(timeout=900)
def a_register_change_at_a_leaf_reaches_every_node():
    """Each change: a registrar delegated at the leaf; every other node's mirror applies it
    (its log's mirror_applied line) and Registry.Resolve there names it. The leaf's feed is
    empty before the first change: that one also waits for each relay to learn the new
    origin (Axle.Origins), so its figures are given apart from the later changes'."""
    e = need()
    f = e['f']
    rp = f.stubs.registry_pb2
    lat, slow = [], []
    for i in range(CHANGES + 1):
        rid, prefix = 'spread-%d' % i, '%s.spread%d' % (CHANGE_AT, i)
        pos = {r: os.path.getsize(n.log) for r, n in f.nodes.items()}
        t0 = time.time()
        f.registry(CHANGE_AT, 'Delegate', rp.DelegateRequest(
            registrar_id=rid, prefix=prefix, display_name=rid,
            cert_identity='axle://%s/member/%s' % (FED, prefix)))
        wait_everywhere(f, prefix + '.x', rid)
        this = []
        for r, n in f.nodes.items():
            if r == CHANGE_AT:
                continue
            seen = applied_times(n, CHANGE_AT, pos[r])
            check(seen, '%s resolves %s but logged no mirror_applied for it' % (r, prefix))
            this.append(max(0.0, seen[0][0] - t0) * 1000)
            if i > 0 and this[-1] > 1000:
                slow.append('%s@%d:%.0fms' % (r, i, this[-1]))
        if i == 0:
            figure('register_first_entry_p50_ms', '%.0f' % pct(this, 50))
            figure('register_first_entry_max_ms', '%.0f' % max(this))
        else:
            lat += this
    check(len(lat) == CHANGES * (len(f.nodes) - 1), 'samples %d' % len(lat))
    figure('register_change_samples', len(lat))
    figure('register_change_p50_ms', '%.0f' % pct(lat, 50))
    figure('register_change_p99_ms', '%.0f' % pct(lat, 99))
    figure('register_change_max_ms', '%.0f' % max(lat))
    figure('register_change_over_1s', ','.join(slow) or 'none')
    e['spread'] = lat


# --- traffic under fault --------------------------------------------------------------------

class Ledger:
    """What the senders had acknowledged and what the receivers fetched."""

    def __init__(self):
        self.lock = threading.Lock()
        self.acked = {}		# id -> (src, dst, seq)
        self.tried = set()	# ids sent at least once (acknowledged or not)
        self.delivered = {}	# id -> 1 once an ack was confirmed, +1 per fetch after that
        self.fetched = {}	# id -> times fetched at all
        self.hops = 0		# the longest trace seen
        self.routes = {}	# (src, dst) -> the trace of its first message
        self.order = {}		# (src, dst) -> [seq in the order fetched, first fetch only]
        self.send_errors = 0
        self.fetch_errors = 0


def sender(f, src, dst, ledger, stop, pause=0.02, only=None):
    """Sends seq 0, 1, ... from src's hub to dst's hub until stop; a failed Send is retried
    with the same envelope (same id) on a new channel until acknowledged."""
    hub = f.hub(src, f.fed.member(src))
    seq = 0
    try:
        while not stop.is_set() and (only is None or seq < only):
            env_ = hub.envelope(src + '.hub', to=dst + '.hub', mtype='fault.v1',
                                payload=('%s>%s:%d' % (src, dst, seq)).encode())
            with ledger.lock:
                ledger.tried.add(env_.message_id)
            while True:
                try:
                    r = hub.send(env_, timeout=5)
                    check(hub.pb.ReceiptKind.Name(r.kind) == 'RECEIPT_KIND_ACCEPTED',
                          'send %r' % r)
                    with ledger.lock:
                        ledger.acked[env_.message_id] = (src, dst, seq)
                    break
                except grpc.RpcError:
                    with ledger.lock:
                        ledger.send_errors += 1
                    if stop.is_set() and only is None:
                        break
                    time.sleep(0.3)
                    hub.reopen()
            seq += 1
            time.sleep(pause)
    finally:
        hub.close()


def receiver(f, region, ledger, stop):
    """Fetches and acknowledges region's hub mailbox until stop. A message fetched again
    after an ack the node confirmed is doubled; one whose ack went unanswered (the node
    died) may rightly come again."""
    hub = f.hub(region, f.fed.member(region))
    try:
        while not stop.is_set():
            try:
                batch = hub.fetch(max_messages=200, wait_ms=500, visibility_ms=5000, timeout=10)
            except grpc.RpcError:
                with ledger.lock:
                    ledger.fetch_errors += 1
                time.sleep(0.3)
                hub.reopen()
                continue
            got = [d for d in batch if d.envelope.message_type == 'fault.v1']
            with ledger.lock:
                for d in got:
                    mid = d.envelope.message_id
                    if mid in ledger.delivered:
                        ledger.delivered[mid] += 1
                    if mid not in ledger.fetched:
                        src, _, rest = d.envelope.payload.decode().partition('>')
                        dst, _, seq = rest.partition(':')
                        ledger.order.setdefault((src, dst), []).append(int(seq))
                        ledger.routes.setdefault((src, dst), ' -> '.join(
                            h.region for h in d.envelope.trace))
                        ledger.hops = max(ledger.hops, len(d.envelope.trace))
                    ledger.fetched[mid] = ledger.fetched.get(mid, 0) + 1
            if not batch:
                continue
            try:
                r = hub.ack([d.envelope.message_id for d in batch])
            except grpc.RpcError:
                with ledger.lock:
                    ledger.fetch_errors += 1
                continue
            if r.acknowledged == len(batch):
                with ledger.lock:
                    for d in got:
                        ledger.delivered.setdefault(d.envelope.message_id, 1)
    finally:
        hub.close()


def tally(ledger):
    with ledger.lock:
        lost = [m for m in ledger.acked if m not in ledger.fetched]
        doubled = [m for m, n in ledger.delivered.items() if n > 1]
        stray = [m for m in ledger.fetched if m not in ledger.tried]
        return lost, doubled, stray


class Faults:
    """Random SIGKILL/restart of nodes, cut/heal of axles, netem loss and delay."""

    def __init__(self, f, netem_ok, seed):
        self.f, self.netem_ok = f, netem_ok
        self.rng = random.Random(seed)
        self.counts = {'kill': 0, 'cut': 0, 'netem': 0}
        self.log = []

    def one(self, stop):
        f, rng = self.f, self.rng
        kinds = ['kill', 'cut'] + (['netem'] if self.netem_ok else [])
        kind = rng.choice(kinds)
        hold = rng.uniform(1.0, 3.0)
        if kind == 'kill':
            r = rng.choice(TOPO.regions)
            f.nodes[r].kill()
            self.log.append('kill %s %.1fs' % (r, hold))
            stop.wait(hold)
            f.nodes[r].start(timeout=30)
        elif kind == 'cut':
            ln = rng.choice(f.net.links)
            ln.set(False)
            self.log.append('cut %r %.1fs' % (ln, hold))
            stop.wait(hold)
            ln.set(True)
        else:
            ln = rng.choice(f.net.links)
            ln.netem(['loss', '10%', 'delay', '40ms', '20ms'])
            self.log.append('netem %r %.1fs' % (ln, hold))
            stop.wait(hold + 2)
            ln.netem(None)
        self.counts[kind] += 1

    def run(self, seconds):
        stop = threading.Event()
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            self.one(stop)
            time.sleep(self.rng.uniform(0.2, 1.0))

    def heal(self):
        for ln in self.f.net.links:
            if not ln.up:
                ln.set(True)
            if self.netem_ok:
                ln.netem(None)
        for n in self.f.nodes.values():
            if not n.alive():
                n.start(timeout=30)


def flows():
    return [(a, b) for a, b in PAIRS] + [(b, a) for a, b in PAIRS]


@test(timeout=900)
def leaf_to_leaf_messages_arrive_exactly_once_under_kills_and_cuts():
    e = need()
    f = e['f']
    e['netem'] = netns.netem_available()
    ledger, stop = Ledger(), threading.Event()
    seed = int(os.environ.get('AXLE_FED_SEED', str(int(time.time()))))
    figure('fault_seed', seed)
    threads = [threading.Thread(target=receiver, args=(f, r, ledger, stop), daemon=True)
               for r in ENDPOINTS]
    sends = [threading.Thread(target=sender, args=(f, s, d, ledger, stop), daemon=True)
             for s, d in flows()]
    for t in threads + sends:
        t.start()
    faults = Faults(f, e['netem'] is None, seed)
    t0 = time.monotonic()
    try:
        faults.run(FAULT_SECONDS)
    finally:
        faults.heal()
        stop_senders = time.monotonic()
        stop.set()
    for t in sends + threads:
        t.join(30)
    stop = threading.Event()
    rx = [threading.Thread(target=receiver, args=(f, r, ledger, stop), daemon=True)
          for r in ENDPOINTS]
    for t in rx:
        t.start()
    try:
        wait_for(lambda: not tally(ledger)[0], 120, interval=0.5,
                 what='every acknowledged message delivered (%d lost so far)'
                 % len(tally(ledger)[0]))
        drained = time.monotonic() - stop_senders
        time.sleep(3)		# a late copy would show now
    finally:
        stop.set()
        for t in rx:
            t.join(30)
    lost, doubled, stray = tally(ledger)
    figure('fault_seconds', '%.0f' % (stop_senders - t0))
    figure('fault_kills', faults.counts['kill'])
    figure('fault_cuts', faults.counts['cut'])
    figure('fault_netem', faults.counts['netem'])
    figure('messages_acknowledged', len(ledger.acked))
    figure('messages_delivered', len(ledger.fetched))
    for (src, dst), route in sorted(ledger.routes.items()):
        figure('route_%s_to_%s' % (src, dst), route.replace(' ', '_'))
        check(len(route.split(' -> ')) >= 4, '%s -> %s crossed fewer than 3 axles: %s'
              % (src, dst, route))
    figure('messages_lost', len(lost))
    figure('messages_doubled', len(doubled))
    figure('send_errors_retried', ledger.send_errors)
    figure('drain_after_heal_seconds', '%.1f' % drained)
    print('faults: ' + '; '.join(faults.log), flush=True)
    check(ledger.acked, 'no message was acknowledged')
    check(faults.counts['kill'] + faults.counts['cut'] >= 2, 'faults %r' % faults.counts)
    check(not lost and not doubled and not stray, 'lost %d, doubled %d, stray %d'
          % (len(lost), len(doubled), len(stray)))


@test(timeout=60)
def netem_loss_and_delay_were_applied():
    """The loss-and-delay fault of the previous step ran (skipped where tc netem cannot)."""
    e = need()
    if e.get('netem'):
        at.skip(e['netem'])
    check('netem' in e, 'the fault step did not run')


# --- a region cut off -----------------------------------------------------------------------

def cut_links(f, region):
    inside = set(TOPO.subtree(region))
    return [ln for ln in f.net.links if (ln.a in inside) != (ln.b in inside)]


@test(timeout=600)
def a_region_cut_off_catches_up_after_healing():
    """The CUT district (and its leaves) loses every axle to the rest: a register change
    elsewhere and messages sent to its hub meanwhile wait; healed, its mirrors converge and
    the messages arrive once each, in the order sent."""
    e = need()
    f = e['f']
    rp = f.stubs.registry_pb2
    inside = TOPO.subtree(CUT)
    dst = [r for r in ENDPOINTS if r in inside][0]
    src = [a if b == dst else b for a, b in PAIRS if dst in (a, b)][0]
    links = cut_links(f, CUT)
    t_cut = time.monotonic()
    for ln in links:
        ln.set(False)
    ledger, stop = Ledger(), threading.Event()
    n = 30 if FULL else 15
    try:
        f.registry(CHANGE_AT, 'Delegate', rp.DelegateRequest(
            registrar_id='while-cut', prefix=CHANGE_AT + '.whilecut', display_name='while-cut',
            cert_identity='axle://%s/member/%s.whilecut' % (FED, CHANGE_AT)))
        sender(f, src, dst, ledger, stop, pause=0.0, only=n)
        check(len(ledger.acked) == n, 'acknowledged %d of %d' % (len(ledger.acked), n))
        time.sleep(3)
        check(not resolves(f, dst, CHANGE_AT + '.whilecut.x', 'while-cut'),
              '%s saw the change through a cut' % dst)
        # Nothing crossed the cut: the receiver's mailbox holds none of them.
        hub = e['hubs'][dst]
        got = [d for d in hub.fetch(max_messages=200, wait_ms=200, visibility_ms=1000)
               if d.envelope.message_type == 'fault.v1']
        check(not got, '%d messages crossed the cut' % len(got))
        time.sleep(max(0.0, CUT_SECONDS - (time.monotonic() - t_cut)))
    finally:
        for ln in links:
            ln.set(True)
    t_heal = time.monotonic()
    figure('cut_seconds', '%.1f' % (t_heal - t_cut))
    wait_everywhere(f, CHANGE_AT + '.whilecut.x', 'while-cut', regions=inside)
    figure('cut_mirror_converged_seconds', '%.1f' % (time.monotonic() - t_heal))
    rx = threading.Thread(target=receiver, args=(f, dst, ledger, stop), daemon=True)
    rx.start()
    try:
        wait_for(lambda: not tally(ledger)[0], 120, interval=0.2,
                 what='the queued messages at %s' % dst)
        figure('cut_queue_drained_seconds', '%.1f' % (time.monotonic() - t_heal))
        time.sleep(2)
    finally:
        stop.set()
        rx.join(30)
    lost, doubled, stray = tally(ledger)
    order = ledger.order.get((src, dst), [])
    figure('cut_messages', n)
    figure('cut_messages_in_order', 'yes' if order == sorted(order) else 'no: %r' % order)
    check(not lost and not doubled and not stray, 'lost %d, doubled %d, stray %d'
          % (len(lost), len(doubled), len(stray)))
    check(order == list(range(n)), 'order of arrival %r' % order)


# --- escalation past a node that is down ------------------------------------------------------

def cases_at(f, region):
    rp = f.stubs.recourse_pb2
    out, token = {}, ''
    while True:
        with f.channel(region, f.fed.admin(region)) as ch:
            r = f.stubs.recourse_pb2_grpc.RecourseStub(ch).List(rp.ListCasesRequest(
                include_closed=True, page=f.stubs.common_pb2.PageRequest(
                    page_size=100, page_token=token)), timeout=10)
        for c in r.cases:
            out[c.id] = c
        token = r.page.next_page_token
        if not token:
            return out


def cases_of(f, region, mid):
    if not f.nodes[region].alive():
        return None
    return [c for c in cases_at(f, region).values() if c.envelope.message_id == mid]


def state(f, c):
    return f.stubs.recourse_pb2.CaseState.Name(c.state)


@test(timeout=600)
def an_escalation_waits_for_a_middle_node_and_then_climbs_to_the_root():
    e = need()
    f = e['f']
    chain = [ESC_LEAF] + TOPO.ancestors(ESC_LEAF)	# leaf, district, region, root
    check(len(chain) == 4, 'chain %r' % chain)
    leaf, below, middle, root = chain
    f.nodes[middle].kill()
    hub = f.hub(leaf, f.fed.member(leaf)) if leaf not in e['hubs'] else e['hubs'][leaf]
    if leaf not in ENDPOINTS:
        f.registrar(leaf, hub_id(leaf), leaf + '.hub', 'axle://%s/member/%s.hub' % (FED, leaf))
    env_ = hub.envelope(leaf + '.hub', to=leaf + '.nobody', mtype='escalate.v1')
    r = hub.send(env_)
    check(hub.pb.ReceiptKind.Name(r.kind) == 'RECEIPT_KIND_ACCEPTED', 'send %r' % r)
    mid = env_.message_id

    def open_below():
        cs = cases_of(f, below, mid)
        return cs if cs and state(f, cs[0]) == 'CASE_STATE_OPEN' else None
    wait_for(open_below, WAIT, interval=0.2, what='the case open at %s' % below)
    # It waits there, several deadlines past, while its parent is down.
    time.sleep(4 * DEADLINE_MS / 1000.0)
    cs = cases_of(f, below, mid)
    check(len(cs) == 1 and state(f, cs[0]) == 'CASE_STATE_OPEN',
          'at %s while %s is down: %r' % (below, middle, cs))
    check(not cases_of(f, root, mid), 'the case reached %s past a dead node' % root)
    t_back = time.monotonic()
    f.nodes[middle].start(timeout=30)

    def at_root():
        cs = cases_of(f, root, mid)
        return cs if cs and state(f, cs[0]) == 'CASE_STATE_OPEN' else None
    top = wait_for(at_root, WAIT, interval=0.2, what='the case open at %s' % root)[0]
    figure('escalation_after_return_seconds', '%.1f' % (time.monotonic() - t_back))
    check(list(top.path) == chain, 'path %r' % list(top.path))
    time.sleep(2 * DEADLINE_MS / 1000.0)
    places = {}
    for r in chain:
        cs = cases_of(f, r, mid)
        check(len(cs) == 1, '%d cases at %s for the message' % (len(cs), r))
        places[r] = state(f, cs[0])
    check(places == {leaf: 'CASE_STATE_ESCALATED', below: 'CASE_STATE_ESCALATED',
                     middle: 'CASE_STATE_ESCALATED', root: 'CASE_STATE_OPEN'},
          'states %r' % places)


# --- a region joins -------------------------------------------------------------------------

@test(timeout=600)
def a_new_region_joins_with_only_its_parent_configured():
    """Adding a region is its node certificate, one register entry by the parent's admin
    (Registry.PublishNode) and a node started with its parent as its only [peer]: no other
    node's file changes and none restarts. Every node then resolves the new region's hub,
    and a message from a leaf of another branch reaches it once (up the tree, then down)."""
    e = need()
    f = e['f']
    rp = f.stubs.registry_pb2
    if not peering(f.stubs):
        at.skip('this build has no peering from the register (Registry.PublishNode)')
    before = {r: (n.pid, open(n.conf).read()) for r, n in f.nodes.items()}
    f.add_region(NEW, NEW_PARENT)
    f.registry(NEW_PARENT, 'PublishNode', rp.PublishNodeRequest(
        region=NEW, endpoint='%s:%d' % (f.net.node_addr[NEW], netns.PORT)))
    f.nodes[NEW].start(timeout=30)
    f.wait_registry(NEW)
    f.registrar(NEW, hub_id(NEW), NEW + '.hub', 'axle://%s/member/%s.hub' % (FED, NEW))
    wait_everywhere(f, NEW + '.hub.x', hub_id(NEW))
    for r, (pid, conf) in before.items():
        check(f.nodes[r].pid == pid and open(f.nodes[r].conf).read() == conf,
              '%s was restarted or its file changed' % r)
    ledger, stop = Ledger(), threading.Event()
    sender(f, NEW_SENDER, NEW, ledger, stop, pause=0.0, only=5)
    rx = threading.Thread(target=receiver, args=(f, NEW, ledger, stop), daemon=True)
    rx.start()
    try:
        wait_for(lambda: not tally(ledger)[0], WAIT, interval=0.2,
                 what='the messages at the new region %s' % NEW)
        time.sleep(1)
    finally:
        stop.set()
        rx.join(30)
    lost, doubled, stray = tally(ledger)
    route = ledger.routes.get((NEW_SENDER, NEW), '')
    figure('route_%s_to_%s' % (NEW_SENDER, NEW), route.replace(' ', '_'))
    check(not lost and not doubled and not stray, 'lost %d, doubled %d, stray %d'
          % (len(lost), len(doubled), len(stray)))


@test(timeout=300)
def every_node_stops_cleanly():
    f = need()['f']
    for n in f.nodes.values():
        n.stop(timeout=30)
    f.net.close()
    check(not [ns for ns in netns.namespaces() if ns.startswith(f.net.tag)],
          'namespaces left')


def after_failure(name):
    f = _env.get('f')
    if f is not None:
        for r, n in f.nodes.items():
            print('--- %s log tail ---\n%s' % (r, '\n'.join(
                l for l in n.log_tail(400).splitlines() if 'level=debug' not in l)[-3000:]))


if __name__ == '__main__':
    main(after_failure)

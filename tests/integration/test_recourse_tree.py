"""test_recourse_tree.py -- universal recourse across a three-level tree of real nodes:
uk.london.south -> uk.london -> uk (the root), short case deadlines.

A message to an unknown address becomes a case at uk.london.south; unresolved past its
deadline it moves up level by level and stops at the root (overdue metric); an admin at
the root redirects it (delivered exactly once) or returns it (the RETURNED receipt reaches
the sender's mailbox two levels down); the parent down during an escalation keeps the
case open below until it is back; kill -9 of a node mid-escalation leaves the case in
exactly one place; axlectl cases/audit; axled -n refuses a parent cycle.

Steps depend on each other and run in order.
"""

import json
import os
import random
import re
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import axletest as at  # noqa: E402
from axletest import (Node, Workspace, check, check_config, free_port, grpc_stubs,  # noqa: E402
                      main, make_federation, test, wait_for)

import grpc  # noqa: E402

FED = 'fame-test'
SOUTH, LONDON, UK = 'uk.london.south', 'uk.london', 'uk'
REGIONS = (UK, LONDON, SOUTH)
PARENT = {SOUTH: LONDON, LONDON: UK, UK: None}
SENDER = SOUTH + '.hub'		# the member of uk.london.south (axle-dev-federation)
INBOX = UK + '.hub'		# a valid address at the root: redirects go there
DEADLINE_MS = 1500
WAIT = 30			# seconds: generous for loaded machines
_env = {}


def node_extra(region, ports):
    """[recourse], [registry] and the peers, each declaring its own parent."""
    lines = ['', '[recourse]', 'case_deadline_ms = %d' % DEADLINE_MS,
             'retry_base_ms = 100', 'retry_cap_ms = 1000', 'escalate_timeout_ms = 3000',
             '', '[registry]', 'mirror_interval_ms = 100']
    for p in REGIONS:
        if p == region:
            continue
        lines += ['', '[peer %s]' % p, 'address = 127.0.0.1:%d' % ports[p]]
        if PARENT[p]:
            lines.append('parent = %s' % PARENT[p])
    return '\n'.join(lines) + '\n'


@at.shared_env(_env)
def env():
    ws = Workspace()
    fed = make_federation(ws, FED, list(REGIONS))
    stubs = grpc_stubs(ws)
    ports = {r: free_port() for r in REGIONS}
    nodes = {}
    for r in REGIONS:
        nodes[r] = Node(ws, fed, r, port=ports[r], parent=PARENT[r],
                        extra=node_extra(r, ports))
    _env.update(ws=ws, fed=fed, stubs=stubs, nodes=nodes, ports=ports)


def _read(path):
    with open(path, 'rb') as f:
        return f.read()


def channel(region, cred):
    e = env()
    creds = grpc.ssl_channel_credentials(root_certificates=_read(e['fed'].ca_pem),
                                         private_key=_read(cred.key),
                                         certificate_chain=_read(cred.chain))
    return grpc.secure_channel('localhost:%d' % e['nodes'][region].port, creds)


def call(region, service, method, req, cred, timeout=10):
    s = env()['stubs']
    mod = {'Recourse': s.recourse_pb2_grpc, 'Switch': s.switch_pb2_grpc,
           'Registry': s.registry_pb2_grpc, 'Axle': s.axle_pb2_grpc}[service]
    ch = channel(region, cred)
    try:
        return getattr(getattr(mod, service + 'Stub')(ch), method)(req, timeout=timeout)
    finally:
        ch.close()


def admin(region):
    return env()['fed'].admin(region)


def member(region):
    return env()['fed'].member(region)


def rpb():
    return env()['stubs'].recourse_pb2


def epb():
    return env()['stubs'].envelope_pb2


def axlectl(region, *args, check_rc=True):
    e = env()
    cred = admin(region)
    cmd = [os.path.join(at.BUILD, 'axlectl'), '--cert', cred.chain, '--key', cred.key,
           '--trust', e['fed'].trust_dir, '--federation', FED,
           '--server', '127.0.0.1:%d' % e['nodes'][region].port] + list(args)
    return at.run(cmd, timeout=30, check_rc=check_rc)


def cases_at(region):
    """Every case at region (all states), by id. None if the node is down."""
    e = env()
    if not e['nodes'][region].alive():
        return None
    out, token = {}, ''
    while True:
        r = call(region, 'Recourse', 'List',
                 rpb().ListCasesRequest(include_closed=True,
                                        page=env()['stubs'].common_pb2.PageRequest(
                                            page_size=100, page_token=token)), admin(region))
        for c in r.cases:
            out[c.id] = c
        token = r.page.next_page_token
        if not token:
            return out


def case_of(region, mid):
    """The case at region holding message mid, or None."""
    for c in (cases_at(region) or {}).values():
        if c.envelope.message_id == mid:
            return c
    return None


def state_name(c):
    return rpb().CaseState.Name(c.state) if c is not None else 'NONE'


def send_unknown(note):
    """Switch.Send from the south hub to an address nobody serves. Returns the message id."""
    mid = os.urandom(16)
    env_ = epb().Envelope(message_id=mid, sender=SENDER, to=SOUTH + '.nobody',
                          message_type='test.recourse.v1', content_type='text/plain',
                          context='recourse-test-%s' % note.replace(' ', '-'),
                          payload=('opaque %s' % note).encode())
    r = call(SOUTH, 'Switch', 'Send', env_, member(SOUTH))
    check(r.receipt.kind == epb().RECEIPT_KIND_ACCEPTED, 'Send receipt %r' % r.receipt)
    return mid


def wait_case(region, mid, states, what, timeout=WAIT):
    def ok():
        c = case_of(region, mid)
        return c if c is not None and state_name(c) in states else None
    return wait_for(ok, timeout, interval=0.2, what='%s (case at %s in %s)' % (what, region, states))


def fetch(region, cred, mailbox='', wait_ms=1000, max_messages=50):
    """Deliveries from a mailbox (one Fetch stream), acknowledged."""
    s = env()['stubs']
    ch = channel(region, cred)
    try:
        stub = s.switch_pb2_grpc.SwitchStub(ch)
        got = list(stub.Fetch(s.switch_pb2.FetchRequest(
            mailbox=mailbox, max_messages=max_messages, wait_ms=wait_ms,
            visibility_timeout_ms=30000), timeout=10 + wait_ms / 1000))
        if got:
            stub.Ack(s.switch_pb2.AckRequest(mailbox=mailbox, message_ids=[
                d.envelope.message_id for d in got]), timeout=10)
        return got
    except grpc.RpcError as err:
        if err.code() == grpc.StatusCode.DEADLINE_EXCEEDED:
            return []
        raise
    finally:
        ch.close()


def receipts(deliveries):
    out = []
    for d in deliveries:
        if d.envelope.message_type == 'axle.receipt':
            out.append(epb().Receipt.FromString(d.envelope.payload))
    return out


def holders(mid):
    """{region: state} over the live nodes for message mid's case."""
    return {r: state_name(case_of(r, mid)) for r in REGIONS}


def one_place(mid):
    """The case is OPEN or CLAIMED at exactly one node; elsewhere ESCALATED or absent."""
    h = holders(mid)
    live = [r for r, s in h.items() if s in ('CASE_STATE_OPEN', 'CASE_STATE_CLAIMED')]
    other = [s for r, s in h.items() if r not in live]
    return h if len(live) == 1 and all(s in ('CASE_STATE_ESCALATED', 'NONE') for s in other) \
        else None


def metric(region, name):
    e = env()
    return e['nodes'][region].metrics(e['fed'].admin(region)).get(name)


# --- steps ---------------------------------------------------------------------------------

@test
def mailboxes_for_the_test():
    """Registrars for the sender's and the redirect target's addresses, mirrored."""
    e = env()
    p = e['stubs'].registry_pb2
    for region, rid in ((SOUTH, 'southhub'), (UK, 'ukhub')):
        addr = region + '.hub'
        call(region, 'Registry', 'Delegate', p.DelegateRequest(
            registrar_id=rid, prefix=addr, display_name=rid,
            cert_identity='axle://%s/member/%s' % (FED, addr)), admin(region))
        call(region, 'Registry', 'SetStatus', p.SetStatusRequest(
            registrar_id=rid, status=p.REGISTRAR_STATUS_ACTIVE, reason='test'), admin(region))
    # The root must know where the sender lives, for receipts going back down.
    def mirrored():
        r = call(UK, 'Registry', 'Resolve', p.ResolveRequest(address=SENDER), member(UK))
        return r.registrar.id == 'southhub'
    wait_for(mirrored, WAIT, interval=0.2, what='uk resolves %s' % SENDER)


@test
def case_climbs_to_the_root():
    e = env()
    mid = send_unknown('climb')
    c = wait_case(SOUTH, mid, ('CASE_STATE_OPEN', 'CASE_STATE_ESCALATED'), 'case opened')
    check(c.id.startswith(SOUTH + '/'), 'case id %r' % c.id)
    check(c.reason == rpb().CASE_REASON_UNKNOWN_ADDRESS, 'reason %r' % c.reason)
    top = wait_case(UK, mid, ('CASE_STATE_OPEN',), 'case reaches the root')
    check(top.id == c.id, 'the id is kept up the tree: %r vs %r' % (top.id, c.id))
    check(list(top.path) == [SOUTH, LONDON, UK], 'path %r' % list(top.path))
    s, l = case_of(SOUTH, mid), case_of(LONDON, mid)
    check(state_name(s) == 'CASE_STATE_ESCALATED' and s.escalated_to == LONDON, 'south %r' % s)
    check(state_name(l) == 'CASE_STATE_ESCALATED' and l.escalated_to == UK, 'london %r' % l)
    kinds = [rpb().CaseActionKind.Name(h.kind) for h in top.history]
    check('CASE_ACTION_KIND_RECEIVED' in kinds, 'history %r' % kinds)
    # Past its deadline at the root it stays open and raises the alert metric.
    wait_for(lambda: (metric(UK, 'axle_recourse_overdue_cases') or 0) >= 1, WAIT,
             interval=0.2, what='axle_recourse_overdue_cases >= 1 at the root')
    time.sleep(DEADLINE_MS / 1000.0)
    check(state_name(case_of(UK, mid)) == 'CASE_STATE_OPEN', 'the root keeps it open')
    check(metric(SOUTH, 'axle_recourse_escalations_total{result="ok"}') >= 1, 'south ok count')
    check(metric(UK, 'axle_recourse_escalations_total{result="received"}') >= 1, 'uk received')
    e['climbed'] = (mid, c.id)


@test
def redirect_at_the_root_delivers_once():
    e = env()
    mid, cid = e['climbed']
    cp = axlectl(UK, 'cases', 'claim', cid)
    check('CLAIMED' in cp.stdout, 'claim output %r' % cp.stdout)
    cp = axlectl(UK, '--json', 'cases', 'redirect', cid, INBOX, '--reason', 'typo in address')
    out = json.loads(cp.stdout)
    check(out['record']['state'] == 'RESOLVED', 'redirect: %r' % out['record']['state'])
    seen = []

    def delivered():
        seen.extend(d for d in fetch(UK, member(UK), wait_ms=500)
                    if d.envelope.message_id == mid)
        return seen
    wait_for(delivered, WAIT, interval=0.2, what='the redirected message in %s' % INBOX)
    d = seen[0].envelope
    check(d.to == INBOX and d.payload == b'opaque climb', 'delivered %r/%r' % (d.to, d.payload))
    check(len(d.trace) >= 1, 'trace kept: %r' % list(d.trace))
    time.sleep(1.0)
    more = [x for x in fetch(UK, member(UK), wait_ms=1000) if x.envelope.message_id == mid]
    check(len(seen) == 1 and not more, 'delivered %d + %d times' % (len(seen), len(more)))
    # Attributable: the redirect names the admin.
    top = case_of(UK, mid)
    acts = [(rpb().CaseActionKind.Name(h.kind), h.actor) for h in top.history]
    check(('CASE_ACTION_KIND_REDIRECTED', 'axle://%s/admin/uk/admin' % FED) in acts, 'history %r' % acts)
    # A second redirect of a resolved case is refused.
    cp = axlectl(UK, 'cases', 'redirect', cid, INBOX, check_rc=False)
    check(cp.returncode == 1 and 'FAILED_PRECONDITION' in cp.stderr, 'again: %r' % cp.stderr)


@test
def return_at_the_root_reaches_the_sender():
    mid = send_unknown('return')
    c = wait_case(UK, mid, ('CASE_STATE_OPEN',), 'second case at the root')
    cp = axlectl(UK, 'cases', 'return', c.id, '--reason', 'nobody here by that name')
    check('RESOLVED' in cp.stdout, 'return output %r' % cp.stdout)
    got = []

    def returned():
        got.extend(r for r in receipts(fetch(SOUTH, member(SOUTH), wait_ms=500))
                   if r.message_id == mid and r.kind == epb().RECEIPT_KIND_RETURNED)
        return got
    wait_for(returned, WAIT, interval=0.2, what='a RETURNED receipt in the sender\'s mailbox')
    check('nobody here by that name' in got[0].detail, 'receipt detail %r' % got[0].detail)


@test
def parent_down_keeps_the_case_below():
    e = env()
    london = e['nodes'][LONDON]
    london.stop()
    mid = send_unknown('parent down')

    def retried():
        c = case_of(SOUTH, mid)
        return c if c is not None and c.escalation_attempts >= 1 else None
    c = wait_for(retried, WAIT, interval=0.2, what='a failed hand-over recorded at south')
    check(state_name(c) == 'CASE_STATE_OPEN', 'south keeps it open: %s' % state_name(c))
    london.start()
    wait_case(SOUTH, mid, ('CASE_STATE_ESCALATED',), 'case moves up once the parent is back')
    wait_for(lambda: one_place(mid), WAIT, interval=0.2, what='the case in one place')


@test(timeout=240)
def kill_9_mid_escalation_leaves_one_case():
    e = env()
    rnd = random.Random(5)
    for i, victim in enumerate((LONDON, SOUTH, LONDON)):
        mid = send_unknown('kill %d' % i)
        wait_case(SOUTH, mid, ('CASE_STATE_OPEN', 'CASE_STATE_ESCALATED'), 'case %d opened' % i)
        # Around south's deadline (hand-over to london) or london's (to uk).
        time.sleep(rnd.uniform(1.2, 3.4))
        n = e['nodes'][victim]
        n.kill()
        time.sleep(0.3)
        n.start()
        h = wait_for(lambda: one_place(mid) if case_of(UK, mid) is not None else None,
                     WAIT, interval=0.2, what='round %d: the case at the root, in one place' % i)
        check(h[UK] == 'CASE_STATE_OPEN', 'round %d: %r' % (i, h))
        # It stays in one place: nothing moves it on its own from the root.
        time.sleep(0.5)
        check(one_place(mid) == h, 'round %d: moved on: %r' % (i, holders(mid)))
        print('   round %d: killed %s; %r' % (i, victim, h))


@test(timeout=120)
def kill_9_child_with_handover_in_flight():
    """The parent frozen (SIGSTOP) so the hand-over's outcome is unknown; the child
    killed with it in flight and restarted; then the parent thawed: the child re-sends,
    the parent de-duplicates, and the case ends in one place."""
    e = env()
    south, london = e['nodes'][SOUTH], e['nodes'][LONDON]
    mid = send_unknown('in flight')
    wait_case(SOUTH, mid, ('CASE_STATE_OPEN',), 'case opened')
    os.kill(london.pid, signal.SIGSTOP)
    try:
        def in_flight():
            c = case_of(SOUTH, mid)
            return c if c is not None and c.escalating_to == LONDON else None
        c = wait_for(in_flight, WAIT, interval=0.1, what='south hands over to a frozen parent')
        check(state_name(c) == 'CASE_STATE_OPEN', 'south: %s' % state_name(c))
        # Locked while the parent may hold it: no resolving it here meanwhile.
        cp = axlectl(SOUTH, 'cases', 'discard', c.id, '--reason', 'x', check_rc=False)
        check(cp.returncode == 1 and 'FAILED_PRECONDITION' in cp.stderr, 'discard: %r' % cp.stderr)
        south.kill()
        south.start()
    finally:
        os.kill(london.pid, signal.SIGCONT)
    h = wait_for(lambda: one_place(mid) if case_of(UK, mid) is not None else None,
                 WAIT, interval=0.2, what='the case at the root, in one place')
    check(h[SOUTH] == 'CASE_STATE_ESCALATED' and h[LONDON] == 'CASE_STATE_ESCALATED', '%r' % h)
    print('   %r' % h)


@test
def axlectl_list_claim_discard():
    mid = send_unknown('discard')
    c = wait_case(UK, mid, ('CASE_STATE_OPEN',), 'case to discard at the root')
    cp = axlectl(UK, '--json', 'cases', 'list', '--state', 'open', '--reason', 'unknown_address')
    ids = [x['id'] for x in json.loads(cp.stdout).get('cases', [])]
    check(c.id in ids, 'list --json: %s not in %r' % (c.id, ids))
    # Overdue once the root's own deadline for it passed.
    cp = wait_for(lambda: (lambda x: x if c.id in x.stdout else None)(
        axlectl(UK, 'cases', 'list', '--overdue')), WAIT, interval=0.3,
        what='%s in cases list --overdue' % c.id)
    check(cp.stdout.startswith('ID ') and 'STATE' in cp.stdout, 'table: %r' % cp.stdout)
    cp = axlectl(UK, 'cases', 'claim', c.id)
    check('CLAIMED' in cp.stdout, 'claim %r' % cp.stdout)
    cp = axlectl(UK, 'cases', 'discard', c.id, check_rc=False)
    check(cp.returncode == 2 and '--reason' in cp.stderr, 'discard without reason: %r' % cp.stderr)
    cp = axlectl(UK, 'cases', 'discard', c.id, '--reason', 'test message, not needed')
    check('RESOLVED' in cp.stdout and 'discarded' in cp.stdout, 'discard %r' % cp.stdout)
    cp = axlectl(UK, 'cases', 'show', c.id)
    check('DISCARDED' in cp.stdout and 'test message, not needed' in cp.stdout, 'show %r' % cp.stdout)
    cp = axlectl(UK, 'cases', 'list', '--state', 'resolved')
    check(c.id in cp.stdout, 'resolved list %r' % cp.stdout)


@test
def authorisation():
    e = env()
    p = rpb()
    for cred, region, what in ((member(UK), UK, 'a member'), (admin(LONDON), UK, 'another node\'s admin')):
        try:
            call(region, 'Recourse', 'List', p.ListCasesRequest(), cred)
            raise at.TestFailure('%s listed cases' % what)
        except grpc.RpcError as err:
            check(err.code() == grpc.StatusCode.PERMISSION_DENIED, '%s: %s' % (what, err.code()))
    # Only the child a case's path ends with may hand it up.
    fake = p.Case(id=SOUTH + '/999', path=[SOUTH], origin_node=SOUTH, state=p.CASE_STATE_OPEN,
                  reason=p.CASE_REASON_UNKNOWN_ADDRESS,
                  envelope=epb().Envelope(message_id=os.urandom(16), sender=SENDER, to='x.y'))
    try:
        call(UK, 'Axle', 'Escalate', e['stubs'].axle_pb2.EscalateRequest(record=fake),
             e['fed'].node(LONDON))
        raise at.TestFailure('uk took a case from a node that does not hold it')
    except grpc.RpcError as err:
        check(err.code() == grpc.StatusCode.PERMISSION_DENIED, 'escalate: %s' % err.code())


@test
def audit_verifies_everywhere():
    for r in REGIONS:
        cp = axlectl(r, 'audit', 'verify')
        check(cp.stdout.startswith('audit OK'), '%s: %r' % (r, cp.stdout))
        out = json.loads(axlectl(r, '--json', 'audit', 'verify').stdout)
        check(out['ok'] and int(out['entries']) > 0, '%s: %r' % (r, out))


@test
def check_refuses_a_parent_cycle():
    e = env()
    n = e['nodes'][LONDON]
    with open(n.conf) as f:
        text = f.read()
    bad = text.replace('[peer uk]\naddress = 127.0.0.1:%d\n' % e['ports'][UK],
                       '[peer uk]\naddress = 127.0.0.1:%d\nparent = uk.london.south\n'
                       % e['ports'][UK])
    check(bad != text, 'config rewrite did not apply')
    path = e['ws'].write('cycle.conf', bad)
    rc, out = check_config(path)
    check(rc != 0, 'axled -n accepted a cycle: %r' % out)
    m = re.search(re.escape(path) + r':(\d+): parent chain (.*) is a cycle', out)
    check(m is not None, 'axled -n said %r' % out)
    # The line named is the `parent =` that closes the cycle.
    line = bad.splitlines()[int(m.group(1)) - 1]
    check(line.startswith('parent = '), 'line %s is %r' % (m.group(1), line))
    for r in REGIONS:
        check(r in m.group(2), 'the cycle %r should name %s' % (m.group(2), r))
    rc, out = check_config(n.conf)
    check(rc == 0 and 'configuration OK' in out, 'the tree is fine: %r' % out)


def after_failure(name):
    for r, n in env().get('nodes', {}).items():
        print('--- %s log tail ---\n%s' % (r, n.log_tail(25)))


if __name__ == '__main__':
    main(after_failure)

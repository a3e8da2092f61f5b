"""test_storage_faults.py -- a full LMDB map, a full disk and a stale reader: no ack without a commit, a clear error, a metric, recovery.

Registry Delegate is the write driven to the limit: every acknowledged registrar
must be readable (GetRegistrar) after a restart with more room; every refusal
must be RESOURCE_EXHAUSTED or UNAVAILABLE with a message; the node never dies.
"""

import contextlib
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from axletest import (GRPC_OK, GRPC_RESOURCE_EXHAUSTED, GRPC_UNAVAILABLE, PY,  # noqa: E402
                      Node, Workspace, check, grpc_frame, grpc_stubs, main, make_federation,
                      skip, test, wait_for)
from axletest import shared_env  # noqa: E402

FEDNAME = 'fame-test'
REGION = 'uk.test'
_env = {}


@shared_env(_env)
def env():
    ws = Workspace()
    fed = make_federation(ws, FEDNAME, [REGION])
    _env.update(ws=ws, fed=fed, stubs=grpc_stubs(ws), admin=fed.admin(REGION))


def delegate_req(i):
    p = env()['stubs'].registry_pb2
    return p.DelegateRequest(registrar_id='r%05d' % i, prefix='%s.r%05d' % (REGION, i),
                             display_name=('Registrar %05d ' % i).ljust(190, 'x'),
                             cert_identity='axle://%s/member/%s.r%05d' % (FEDNAME, REGION, i))


def fill(node, limit=4000, window=32, until_refusals=20, first=0):
    """Delegates new registrars (window calls in flight) until until_refusals
    writes were refused. Returns (acked ids, refusals [(status, message)])."""
    c = node.connect(env()['admin'], timeout=20)
    acked, refused, other = [], [], []
    i = first
    try:
        while i < first + limit and len(refused) < until_refusals:
            sids = {}
            for _ in range(window):
                sids[c.start('POST', '/axle.v1.Registry/Delegate',
                             [('content-type', 'application/grpc'), ('te', 'trailers')],
                             grpc_frame(delegate_req(i).SerializeToString()))] = i
                i += 1
            for sid, n in sids.items():
                r = c.finish(sid, timeout=20)
                if r.grpc_status == GRPC_OK:
                    acked.append(n)
                elif r.grpc_status in (GRPC_RESOURCE_EXHAUSTED, GRPC_UNAVAILABLE):
                    refused.append((r.grpc_status, r.grpc_message))
                else:
                    other.append((n, r.grpc_status, r.grpc_message))
    finally:
        c.close()
    check(not other, 'unexpected answers to Delegate: %s' % other[:5])
    check(node.alive(), 'axled died while filling: %s' % node.log_tail())
    return acked, refused


def check_refusals(refused, want_status):
    check(refused, 'no write was ever refused')
    for st, msg in refused:
        check(st == want_status, 'refusal status %d %r, want %d' % (st, msg, want_status))
        check(msg, 'refusal status %d without a grpc-message' % st)


def check_present(node, acked):
    """Every acknowledged registrar is readable, with its prefix."""
    p = env()['stubs'].registry_pb2
    c = node.connect(env()['admin'], timeout=20)
    missing, sids = [], {}
    try:
        for n in acked:
            sids[n] = c.start('POST', '/axle.v1.Registry/GetRegistrar',
                              [('content-type', 'application/grpc'), ('te', 'trailers')],
                              grpc_frame(p.GetRegistrarRequest(id='r%05d' % n).SerializeToString()))
            if len(sids) < 64 and n != acked[-1]:
                continue
            rs = [(m, c.finish(sid, timeout=20)) for m, sid in sids.items()]
            sids = {}
            missing += check_one(p, rs)
    finally:
        c.close()
    check(not missing, '%d acknowledged registrars missing after restart: %s'
          % (len(missing), missing[:5]))


def check_one(p, rs):
    """[(n, Response)] -> [(n, status, message)] of those without registrar rn."""
    missing = []
    for n, r in rs:
        ok = r.grpc_status == GRPC_OK and len(r.messages) == 1
        if ok:
            reg = p.GetRegistrarResponse.FromString(r.messages[0]).registrar
            ok = '%s.r%05d' % (REGION, n) in list(reg.prefixes)
        if not ok:
            missing.append((n, r.grpc_status, r.grpc_message))
    return missing


def errors_total(node, label):
    return node.metrics(env()['admin']).get('axle_store_errors_total{error="%s"}' % label, 0)


def check_counted(node, label):
    check(errors_total(node, label) > 0,
          'axle_store_errors_total{error="%s"} did not count the refusals' % label)


def node_answers(node):
    # A node that went away after a refusal is the finding: say how, with its log.
    check(node.alive(), 'axled exited (rc=%s) after the refusals:\n%s'
          % (node.proc.returncode if node.proc else None, node.log_tail(60)))
    r, info = node.info(env()['admin'])
    check(info is not None, 'Info failed: %r' % r)


@test(timeout=240)
def map_full_refuses_cleanly_and_recovers():
    e = env()
    # No reserve: the map's own limit is what refuses (the reserve's tests are below).
    n = Node(e['ws'], e['fed'], REGION, name='mapfull',
             limits={'map_size_mb': 1, 'store_reserve_kb': 0})
    t0 = time.monotonic()
    acked, refused = fill(n)
    print('   fill %.1fs' % (time.monotonic() - t0))
    print('   1 MiB map: %d acked, %d refused' % (len(acked), len(refused)))
    check(len(acked) > 0, 'no Delegate succeeded with a 1 MiB map: %s' % refused[:3])
    check_refusals(refused, GRPC_RESOURCE_EXHAUSTED)
    node_answers(n)
    check('MDB_MAP_FULL' in n.log_text(),
          'no log line names the full map: %s' % n.log_tail())
    check_counted(n, 'map_full')
    n.stop()
    n.limits['map_size_mb'] = 16
    n.write_config()
    n.start()
    t0 = time.monotonic()
    check_present(n, acked)
    print('   check %.1fs' % (time.monotonic() - t0))
    more, refused2 = fill(n, limit=40, window=8, until_refusals=1, first=10000)
    check(not refused2 and len(more) == 40, 'writes after growing the map: %s' % refused2[:3])
    n.stop()


@contextlib.contextmanager
def tiny_tmpfs(name):
    """A 2 MiB tmpfs in the workspace, unmounted afterwards. A test that cannot
    mount one is counted as skipped (tests/run.sh), never as passed."""
    path = env()['ws'].join(name)
    os.makedirs(path, exist_ok=True)
    cp = subprocess.run(['mount', '-t', 'tmpfs', '-o', 'size=2m', 'tmpfs', path],
                        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True)
    if cp.returncode != 0:
        skip('cannot mount a tmpfs (%s%s)' % (
            '' if os.geteuid() == 0 else 'not root: ', cp.stdout.strip()))
    try:
        yield path
    finally:
        subprocess.run(['umount', '-l', path], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


@test(timeout=240)
def disk_full_refuses_cleanly_and_recovers():
    e = env()
    with tiny_tmpfs('tiny') as mnt:
        disk_full_on(e, mnt)


def disk_full_on(e, mnt):
    n = None
    try:
        # No reserve: the disk itself refuses (the reserve's tests are below).
        n = Node(e['ws'], e['fed'], REGION, name='enospc', start=False,
                 limits={'store_reserve_kb': 0})
        n.data_dir = os.path.join(mnt, 'data')
        n.write_config()
        n.start()
        acked, refused = fill(n)
        print('   2 MiB tmpfs: %d acked, %d refused' % (len(acked), len(refused)))
        check(len(acked) > 0, 'no Delegate succeeded on the tmpfs: %s' % refused[:3])
        check(refused, 'no write was refused on a 2 MiB tmpfs')
        for st, msg in refused:
            check(st in (GRPC_RESOURCE_EXHAUSTED, GRPC_UNAVAILABLE) and msg,
                  'refusal %d %r' % (st, msg))
        log = n.log_text()
        check('event=store_commit_failed' in log or 'No space left' in log,
              'no log line for the failed commit: %s' % n.log_tail())
        node_answers(n)
        check_counted(n, 'no_space')
        n.stop()
        cp = subprocess.run(['mount', '-o', 'remount,size=32m', mnt],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        check(cp.returncode == 0, 'remount failed: %r' % cp.stdout)
        n.start()
        check_present(n, acked)
        more, refused2 = fill(n, limit=40, window=8, until_refusals=1, first=10000)
        check(not refused2 and len(more) == 40, 'writes after freeing space: %s' % refused2[:3])
        n.stop()
    finally:
        if n is not None:
            n.kill()


# --- a hub drains a full store: headroom for Fetch and Ack ------------------------

HUB = REGION + '.hub'
GRPC_HDRS = [('content-type', 'application/grpc'), ('te', 'trailers')]
PAYLOAD = 3000		# bytes per message: the store fills in a few hundred


def onboard_hub(node):
    """Delegates uk.test.hub (the dev federation's member cert) and activates it."""
    p = env()['stubs'].registry_pb2
    c = node.connect(env()['admin'], timeout=20)
    try:
        for path, req in (
                ('Delegate', p.DelegateRequest(registrar_id='hub', prefix=HUB, display_name='hub',
                                               cert_identity='axle://%s/member/%s' % (FEDNAME, HUB))),
                ('SetStatus', p.SetStatusRequest(registrar_id='hub', reason='onboarded',
                                                 status=p.REGISTRAR_STATUS_ACTIVE))):
            r = c.grpc_unary('/axle.v1.Registry/' + path, req.SerializeToString(), timeout=20)
            check(r.grpc_status == GRPC_OK, '%s: %r' % (path, r))
    finally:
        c.close()


def send_until_refused(node, window=8, until_refusals=8, limit=5000):
    """The hub sends to itself (window Sends in flight) until until_refusals are
    refused. Returns (acked ids, [(status, message)])."""
    ep = env()['stubs'].envelope_pb2
    c = node.connect(env()['fed'].member(REGION), timeout=20)
    acked, refused, other = [], [], []
    try:
        while len(acked) + len(refused) < limit and len(refused) < until_refusals:
            sids = {}
            for _ in range(window):
                mid = os.urandom(16)
                e = ep.Envelope(message_id=mid, sender=HUB, to=HUB, message_type='note.v1',
                                content_type='application/octet-stream',
                                payload=os.urandom(PAYLOAD))
                sids[c.start('POST', '/axle.v1.Switch/Send', GRPC_HDRS,
                             grpc_frame(e.SerializeToString()))] = mid
            for sid, mid in sids.items():
                r = c.finish(sid, timeout=20)
                if r.grpc_status == GRPC_OK:
                    acked.append(mid)
                elif r.grpc_status == GRPC_RESOURCE_EXHAUSTED:
                    refused.append((r.grpc_status, r.grpc_message))
                else:
                    other.append((r.grpc_status, r.grpc_message))
    finally:
        c.close()
    check(not other, 'unexpected answers to Send: %s' % other[:5])
    check(node.alive(), 'axled died while filling: %s' % node.log_tail())
    return acked, refused


def drain(node, acked):
    """Fetches and acknowledges everything in the hub's mailbox (messages and the
    receipts about them) until a Fetch finds nothing. Every Fetch and Ack must
    commit. Returns the ids of the (non-receipt) messages acknowledged."""
    st = env()['stubs']
    c = node.connect(env()['fed'].member(REGION), timeout=20)
    got, fetches = set(), 0
    try:
        for _ in range(len(acked) + 50):
            # At the mark the node hands these out in rounds it has room for
            # (one message at a time at this reserve) and commits the Ack in
            # parts (32 ids). Fetching everything before acknowledging any is
            # not possible: the FETCHED receipts alone outgrow the reserve.
            r = c.grpc_unary('/axle.v1.Switch/Fetch', st.switch_pb2.FetchRequest(
                max_messages=50, visibility_timeout_ms=600000).SerializeToString(), timeout=60)
            fetches += 1
            check(r.grpc_status == GRPC_OK, 'Fetch %d on the full store: status %d %r'
                  % (fetches, r.grpc_status, r.grpc_message))
            ds = [st.switch_pb2.Delivery.FromString(m) for m in r.messages]
            if not ds:
                return got
            ids = [d.envelope.message_id for d in ds]
            a = c.grpc_unary('/axle.v1.Switch/Ack', st.switch_pb2.AckRequest(
                message_ids=ids).SerializeToString(), timeout=20)
            check(a.grpc_status == GRPC_OK, 'Ack after %d fetches: status %d %r'
                  % (fetches, a.grpc_status, a.grpc_message))
            ack = st.switch_pb2.AckResponse.FromString(a.messages[0])
            check(ack.acknowledged == len(ids), 'Ack: %d of %d acknowledged (unknown %d)'
                  % (ack.acknowledged, len(ids), len(ack.unknown_ids)))
            got |= {d.envelope.message_id for d in ds if d.envelope.message_type != 'axle.receipt'}
    finally:
        c.close()
    raise AssertionError('the mailbox did not empty after %d fetches' % fetches)


def fill_drain_send_again(n, where):
    onboard_hub(n)
    acked, refused = send_until_refused(n)
    print('   %s: %d sends acked, then %d refused: %s' % (where, len(acked), len(refused),
                                                        refused[0][1] if refused else '-'))
    check(len(acked) > 20, 'only %d Sends succeeded %s' % (len(acked), where))
    check_refusals(refused, GRPC_RESOURCE_EXHAUSTED)
    node_answers(n)
    m = n.metrics(env()['admin'])
    check(m.get('axle_store_high_water') == 1 and m.get('axle_store_high_water_refused_total', 0) > 0,
          'the refusals were not the high-water mark: %s' % {k: v for k, v in m.items()
                                                            if k.startswith('axle_store')})
    check('event=store_high_water state=on' in n.log_text(), 'no log line for the mark')
    got = drain(n, acked)
    missing = set(acked) - got
    check(not missing, '%d of %d acknowledged messages never fetched %s'
          % (len(missing), len(acked), where))
    more, refused2 = send_until_refused(n, window=4, until_refusals=1, limit=20)
    check(not refused2 and len(more) == 20, 'Send after the drain %s: %s' % (where, refused2[:3]))
    check(n.metrics(env()['admin']).get('axle_store_high_water') == 0, 'the mark is still on')
    check('event=store_high_water state=off' in n.log_text(), 'no log line for the mark clearing')
    got2 = drain(n, more)
    check(set(more) <= got2, 'messages sent after the drain were not delivered')
    node_answers(n)


@test(timeout=300)
def hub_drains_a_full_map_and_sends_again():
    e = env()
    # The default reserve (16 MiB), at most a quarter of the map: 512 KiB.
    n = Node(e['ws'], e['fed'], REGION, name='drainmap', limits={'map_size_mb': 2})
    try:
        fill_drain_send_again(n, 'with a 2 MiB map')
        n.stop()
    finally:
        n.kill()


@test(timeout=300)
def hub_drains_a_full_disk_and_sends_again():
    e = env()
    with tiny_tmpfs('tiny-drain') as mnt:
        # The default reserve, at most a quarter of the filesystem: 512 KiB.
        n = Node(e['ws'], e['fed'], REGION, name='draindisk', start=False)
        try:
            n.data_dir = os.path.join(mnt, 'data')
            n.write_config()
            n.start()
            fill_drain_send_again(n, 'on a 2 MiB tmpfs')
            n.stop()
        finally:
            n.kill()


# Runs in a child python: opens the LMDB env at argv[1] and, with "txn",
# begins a read transaction, says so, and kills itself with the slot held;
# without it, holds the env open (so the node does not get the exclusive lock
# that would silently reset the reader table) until stdin closes.
LMDB_CHILD = r'''
import ctypes, os, signal, sys
lib = ctypes.CDLL('liblmdb.so.0')
env, txn = ctypes.c_void_p(), ctypes.c_void_p()
assert lib.mdb_env_create(ctypes.byref(env)) == 0
lib.mdb_env_set_maxdbs(env, 64)
rc = lib.mdb_env_open(env, sys.argv[1].encode(), 0x200000 | 0x20000, 0o600)  # NOTLS|RDONLY
assert rc == 0, 'mdb_env_open %d' % rc
if sys.argv[2] == 'txn':
    rc = lib.mdb_txn_begin(env, None, 0x20000, ctypes.byref(txn))
    assert rc == 0, 'mdb_txn_begin %d' % rc
    print('reading', flush=True)
    os.kill(os.getpid(), signal.SIGKILL)
print('holding', flush=True)
sys.stdin.read()
'''


def lmdb_dir(data_dir):
    for root, _, files in os.walk(data_dir):
        if 'data.mdb' in files:
            return root
    raise AssertionError('no data.mdb under %s' % data_dir)


@test(timeout=120)
def stale_reader_cleared_at_start():
    e = env()
    n = Node(e['ws'], e['fed'], REGION, name='stale')
    n.stop()
    d = lmdb_dir(n.data_dir)
    holder = subprocess.Popen([PY, '-c', LMDB_CHILD, d, 'hold'], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, universal_newlines=True)
    try:
        check(holder.stdout.readline().strip() == 'holding', 'LMDB holder did not start')
        cp = subprocess.run([PY, '-c', LMDB_CHILD, d, 'txn'], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, universal_newlines=True, timeout=20)
        check('reading' in cp.stdout and cp.returncode == -9,
              'reader child: rc %s %r %r' % (cp.returncode, cp.stdout, cp.stderr))
        before = n.log_text().count('event=store_reader_check')
        n.start()
        import re

        def cleared():
            lines = [l for l in n.log_text().splitlines() if 'event=store_reader_check' in l]
            return lines[before:] or None
        lines = wait_for(cleared, 10, what='event=store_reader_check')
        m = re.search(r'stale_readers_cleared=(\d+)', lines[0])
        check(m and int(m.group(1)) >= 1, 'stale reader not cleared: %s' % lines[0])
        node_answers(n)
        n.stop()
    finally:
        holder.stdin.close()
        try:
            holder.wait(10)
        except subprocess.TimeoutExpired:
            holder.kill()
        n.kill()


if __name__ == '__main__':
    main()

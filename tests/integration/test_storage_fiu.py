"""test_storage_fiu.py -- EIO and ENOSPC injected (libfiu) into LMDB's page writes and fdatasync under Switch.Send, Registry.Delegate and Recourse.Annotate: no ack without a commit, a clear refusal, a log line, a metric, recovery or fail-stop.

axled runs under fiu-run -x; fiu-ctrl turns a fault on in the live process.
"write" fails pwrite and writev (LMDB's page writes: single pages and runs),
"fsync" fails fdatasync and fsync (LMDB syncs the data file with fdatasync
before it writes its meta page with O_DSYNC). For each fault, errno and write
path: a first wave of requests (fault off) is acknowledged; with the fault on
no request is acknowledged, each refusal has the status and a grpc-message a
person can act on; then
- ENOSPC: the node keeps running, counts axle_store_errors_total{error=
  "no_space"}, logs store_commit_failed action=refused, and acknowledges
  writes again as soon as the fault is off;
- EIO: the node logs store_failed and fail_stop and exits 1 (its supervisor
  restarts it), and after the restart takes writes again.
After a restart every acknowledged item is present exactly once and no
refused one more than once.
"""

import errno
import os
import shutil
import subprocess
import sys
import time
import uuid

import grpc

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from axletest import (GRPC_OK, GRPC_RESOURCE_EXHAUSTED, GRPC_UNAVAILABLE, TIME_SCALE,  # noqa: E402
                      Node, Workspace, axled_path, check, grpc_frame, grpc_stubs, hardening_scale,
                      main, make_federation, test, wait_for)
from axletest import shared_env  # noqa: E402

FEDNAME = 'fame-test'
REGION = 'uk.test'
SENDER = REGION + '.hub'		# axle-dev-federation's member cert
INBOX = REGION + '.inbox'
WAVE = 12 * hardening_scale()	# requests in flight per wave
FAULTS = {'write': ('posix/io/rw/pwrite', 'posix/io/rw/writev'),
          'fsync': ('posix/io/sync/fdatasync', 'posix/io/sync/fsync')}
WANT = {errno.EIO: (GRPC_UNAVAILABLE, "storage failed"),
        errno.ENOSPC: (GRPC_RESOURCE_EXHAUSTED, 'No space left')}
FIU_PRELOAD = '/usr/lib/fiu/fiu_posix_preload.so'
HDRS = [('content-type', 'application/grpc'), ('te', 'trailers')]
_env = {}


@shared_env(_env)
def env():
    setup()


def setup():
    check(shutil.which('fiu-run') and shutil.which('fiu-ctrl') and os.path.exists(FIU_PRELOAD),
          'libfiu is not installed: run .ci/deps.sh (fiu-utils, libfiu0)')
    ws = Workspace()
    fed = make_federation(ws, FEDNAME, [REGION])
    _env.update(ws=ws, fed=fed, stubs=grpc_stubs(ws), admin=fed.admin(REGION),
                hub=fed.member(REGION), inbox=fed.issue('member', INBOX), n=0)
    ctl = ws.mkdir('fiu')
    node = Node(ws, fed, REGION, name='fiu', wrap=fiu_wrap(os.path.join(ctl, 'ctl')))
    _env.update(node=node, ctl=os.path.join(ctl, 'ctl'))
    rp = _env['stubs'].registry_pb2
    for rid, prefix in (('hub', SENDER), ('inbox', INBOX)):
        call(_env['admin'], '/axle.v1.Registry/Delegate', rp.DelegateRequest(
            registrar_id=rid, prefix=prefix, display_name=rid,
            cert_identity='axle://%s/member/%s' % (FEDNAME, prefix)))
        call(_env['admin'], '/axle.v1.Registry/SetStatus', rp.SetStatusRequest(
            registrar_id=rid, status=rp.REGISTRAR_STATUS_ACTIVE, reason='onboarded'))
    # A message to an address nobody serves opens the case the admins annotate.
    call(_env['hub'], '/axle.v1.Switch/Send', envelope(REGION + '.nowhere', uuid.uuid4().bytes))
    rec = _env['stubs'].recourse_pb2

    def a_case():
        r = call(_env['admin'], '/axle.v1.Recourse/List', rec.ListCasesRequest())
        cases = rec.ListCasesResponse.FromString(r.messages[0]).cases
        return cases[0].id if cases else None
    _env['case'] = wait_for(a_case, 20, interval=0.2, what='a recourse case')


def fiu_wrap(ctl):
    """argv words that run axled under fiu-run with the POSIX preload library.
    An ASan build's runtime must come first in LD_PRELOAD (fiu-run puts its
    own libraries there, and ASan crashes or refuses behind them)."""
    wrap = ['fiu-run', '-x', '-f', ctl]
    ldd = subprocess.run(['ldd', axled_path()], stdout=subprocess.PIPE,
                         universal_newlines=True, timeout=30).stdout
    asan = [w for w in ldd.split() if '/libasan.so' in w]
    if asan:
        wrap += ['env', 'LD_PRELOAD=%s %s %s' % (asan[0], os.path.join(
            os.path.dirname(FIU_PRELOAD), 'fiu_run_preload.so'), FIU_PRELOAD)]
    return wrap


def call(cred, path, msg, want=GRPC_OK):
    c = env_node().connect(cred, timeout=20)
    try:
        r = c.request('POST', path, HDRS, grpc_frame(msg.SerializeToString()), timeout=20)
    finally:
        c.close()
    check(r.grpc_status == want, '%s: %r' % (path, r))
    return r


def env_node():
    return _env['node']


def envelope(to, mid):
    return _env['stubs'].envelope_pb2.Envelope(
        message_id=mid, sender=SENDER, to=to, message_type='note.v1', payload=b'x' * 200,
        content_type='text/plain')


# --- the three write paths: (cred, rpc path, request of key), fresh keys ----

def path_send():
    return _env['hub'], '/axle.v1.Switch/Send', lambda k: envelope(INBOX, k)


def path_delegate():
    rp = _env['stubs'].registry_pb2
    return _env['admin'], '/axle.v1.Registry/Delegate', lambda k: rp.DelegateRequest(
        registrar_id=k, prefix='%s.%s' % (REGION, k), display_name='Registrar ' + k,
        cert_identity='axle://%s/member/%s.%s' % (FEDNAME, REGION, k))


def path_annotate():
    rec = _env['stubs'].recourse_pb2
    return _env['admin'], '/axle.v1.Recourse/Annotate', lambda k: rec.AnnotateCaseRequest(
        id=_env['case'], note=k)


PATHS = {'send': path_send, 'delegate': path_delegate, 'annotate': path_annotate}


def new_keys(kind, n):
    keys = []
    for _ in range(n):
        _env['n'] += 1
        keys.append(uuid.uuid4().bytes if kind == 'send' else 'f%05d' % _env['n'])
    return keys


def wave(kind, keys):
    """Sends one request per key with grpcio (it reads the answers a draining
    node sends after its GOAWAY), all in flight at once. Returns
    {key: (grpc status code, message)}."""
    cred, rpc, req = PATHS[kind]()
    creds = grpc.ssl_channel_credentials(root_certificates=_read(_env['fed'].ca_pem),
                                         private_key=_read(cred.key),
                                         certificate_chain=_read(cred.chain or cred.cert))
    out = {}
    with grpc.secure_channel('localhost:%d' % env_node().port, creds) as ch:
        method = ch.unary_unary(rpc)
        futs = {k: method.future(req(k).SerializeToString(), timeout=30 * TIME_SCALE)
                for k in keys}
        for k, f in futs.items():
            try:
                f.result()
                out[k] = (GRPC_OK, '')
            except grpc.RpcError as e:
                out[k] = (e.code().value[0], e.details() or '')
    return out


def _read(path):
    with open(path, 'rb') as f:
        return f.read()


# --- what is stored -----------------------------------------------------------

def stored(kind, keys):
    """{key: times present} for keys, read from the running node."""
    if kind == 'send':
        return mailbox_counts(keys)
    if kind == 'annotate':
        rec = _env['stubs'].recourse_pb2
        r = call(_env['admin'], '/axle.v1.Recourse/Show', rec.ShowCaseRequest(id=_env['case']))
        notes = [a.reason for a in rec.CaseResponse.FromString(r.messages[0]).record.history]
        return {k: notes.count(k) for k in keys}
    rp = _env['stubs'].registry_pb2
    out = {}
    c = env_node().connect(_env['admin'], timeout=20)
    try:
        for k in keys:
            r = c.request('POST', '/axle.v1.Registry/GetRegistrar', HDRS, grpc_frame(
                rp.GetRegistrarRequest(id=k).SerializeToString()), timeout=20)
            out[k] = int(r.grpc_status == GRPC_OK and '%s.%s' % (REGION, k) in list(
                rp.GetRegistrarResponse.FromString(r.messages[0]).registrar.prefixes))
    finally:
        c.close()
    return out


def mailbox_counts(keys):
    """Fetches and acknowledges the inbox until it is empty; counts deliveries of keys."""
    sp = _env['stubs'].switch_pb2
    counts = {k: 0 for k in keys}
    c = env_node().connect(_env['inbox'], timeout=20)
    try:
        for _ in range(50):
            r = c.request('POST', '/axle.v1.Switch/Fetch', HDRS, grpc_frame(sp.FetchRequest(
                max_messages=200, wait_ms=0, visibility_timeout_ms=120000).SerializeToString()),
                timeout=20)
            check(r.grpc_status == GRPC_OK, 'Fetch: %r' % r)
            ds = [sp.Delivery.FromString(m) for m in r.messages]
            if not ds:
                return counts
            for d in ds:
                mid = d.envelope.message_id
                counts[mid] = counts.get(mid, 0) + 1
            r = c.request('POST', '/axle.v1.Switch/Ack', HDRS, grpc_frame(sp.AckRequest(
                message_ids=[d.envelope.message_id for d in ds]).SerializeToString()), timeout=20)
            check(r.grpc_status == GRPC_OK, 'Ack: %r' % r)
    finally:
        c.close()
    raise AssertionError('the inbox did not empty in 50 fetches')


# --- faults ---------------------------------------------------------------------

def fiu(action, fault, err=0):
    node = env_node()
    for name in FAULTS[fault]:
        cmd = '%s name=%s' % (action, name) + (',failinfo=%d' % err if action == 'enable' else '')
        cp = subprocess.run(['fiu-ctrl', '-f', _env['ctl'], '-c', cmd, str(node.pid)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            universal_newlines=True, timeout=20 * TIME_SCALE)
        check(cp.returncode == 0 and 'error' not in cp.stdout.lower(),
              'fiu-ctrl %r: rc %d %s' % (cmd, cp.returncode, cp.stdout))


def errors_metric(label):
    return env_node().metrics(_env['admin']).get('axle_store_errors_total{error="%s"}' % label, 0)


def log_since(mark):
    return env_node().log_text()[mark:]


def check_refused(kind, fault, err, answers):
    """No answer is OK; each is the status err maps to, with an actionable
    message. On EIO, requests the stopping node never read may instead fail
    as the connection goes (UNAVAILABLE from the client): at least one of the
    wave must carry the node's own refusal."""
    status, text = WANT[err]
    ours = 0
    for k, (s, msg) in answers.items():
        check(s != GRPC_OK, '%s acknowledged under %s %s: an ack without a commit'
              % (kind, fault, errno.errorcode[err]))
        if s == status and text in msg:
            ours += 1
            continue
        check(err == errno.EIO and s == GRPC_UNAVAILABLE, '%s %s %s: refusal %s %r, want %d '
              'with %r' % (kind, fault, errno.errorcode[err], s, msg, status, text))
    check(ours > 0, '%s %s: no refusal from the node itself: %s'
          % (kind, fault, list(answers.values())[:3]))
    return ours


def check_stored(kind, acked, refused):
    counts = stored(kind, acked + refused)
    bad = [(k, counts.get(k, 0)) for k in acked if counts.get(k, 0) != 1]
    check(not bad, '%s: %d acknowledged items not present exactly once: %s'
          % (kind, len(bad), bad[:5]))
    dup = [(k, counts.get(k)) for k in refused if counts.get(k, 0) > 1]
    check(not dup, '%s: refused items stored twice: %s' % (kind, dup[:5]))
    return sum(1 for k in refused if counts.get(k, 0))


def scenario(fault, err, kind):
    """One fault, errno and write path; ends with the node running, fault off."""
    node = env_node()
    name = errno.errorcode[err]
    mark = len(node.log_text())
    first = wave(kind, new_keys(kind, WAVE))
    check(all(s == GRPC_OK for s, _ in first.values()), '%s before the fault: %s'
          % (kind, list(first.values())[:3]))
    before = errors_metric('no_space' if err == errno.ENOSPC else 'io')
    fiu('enable', fault, err)
    answers = wave(kind, new_keys(kind, WAVE))
    ours = check_refused(kind, fault, err, answers)
    acked, refused, later = list(first), list(answers), []
    if err == errno.ENOSPC:
        check(node.alive(), 'axled died on ENOSPC: %s' % node.log_tail())
        check(errors_metric('no_space') > before, 'axle_store_errors_total{error="no_space"} '
              'did not count the refusals')
        check('event=store_commit_failed' in log_since(mark) and 'action=refused' in
              log_since(mark), 'no store_commit_failed line: %s' % node.log_tail())
        fiu('disable', fault)
        third = wave(kind, new_keys(kind, WAVE))
        check(all(s == GRPC_OK for s, _ in third.values()), '%s after the fault went: %s'
              % (kind, list(third.values())[:3]))
        acked += list(third)
        node.stop()
    else:
        rc = wait_for(lambda: node.proc.poll(), 30, what='axled to fail-stop on EIO')
        node.kill()
        log = log_since(mark)
        check(rc == 1, 'axled exited %s after EIO, want 1' % rc)
        for line in ('event=store_failed', 'event=fail_stop', 'exit=1'):
            check(line in log, 'no %s in the log: %s' % (line, node.log_tail()))
    node.start()
    if err == errno.EIO:
        later = wave(kind, new_keys(kind, WAVE))
        check(all(s == GRPC_OK for s, _ in later.values()), '%s after the restart: %s'
              % (kind, list(later.values())[:3]))
        acked += list(later)
    stored_refused = check_stored(kind, acked, refused)
    print('   %s %s %s: %d acked, %d refused (%d by the node, %d stored anyway), %s'
          % (fault, name, kind, len(acked), len(refused), ours, stored_refused,
             'kept serving' if err == errno.ENOSPC else 'fail-stop, restarted'))


def run_fault(fault, err):
    t0 = time.monotonic()
    for kind in ('send', 'delegate', 'annotate'):
        scenario(fault, err, kind)
    print('   %.1fs' % (time.monotonic() - t0))


@test(timeout=180)
def enospc_on_write_refuses_and_recovers():
    env()
    run_fault('write', errno.ENOSPC)


@test(timeout=180)
def enospc_on_fsync_refuses_and_recovers():
    env()
    run_fault('fsync', errno.ENOSPC)


@test(timeout=180)
def eio_on_write_fail_stops():
    env()
    run_fault('write', errno.EIO)


@test(timeout=180)
def eio_on_fsync_fail_stops():
    env()
    run_fault('fsync', errno.EIO)


if __name__ == '__main__':
    main()

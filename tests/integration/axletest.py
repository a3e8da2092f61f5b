"""axletest.py -- helpers for axle integration tests: workspace, PKI, nodes, h2/gRPC clients.

Run with /usr/bin/python3 (Debian's python3-grpcio, python3-h2, stdlib ssl).
Environment: AXLE_TOP (source tree, default: two levels up), AXLE_BUILD
(default AXLE_TOP/build), AXLE_KEEP=1 keeps the workspace for post-mortems.
AXLE_WRAP="cmd args" puts those words before every axled argv (valgrind,
fiu-run: hooks compose as plain argv prefixes); AXLE_TIME_SCALE=N multiplies
the harness's waits (wait_for, start/stop/hup, per-test alarms) for such runs.
All traffic goes to 127.0.0.1; every wait has a timeout.
"""

import atexit
import os
import re
import shlex
import shutil
import signal
import socket
import ssl
import struct
import subprocess
import sys
import tempfile
import threading
import time
import traceback

import h2.config
import h2.connection
import h2.events
import h2.exceptions
import h2.settings
import hpack
import hyperframe.frame as hf

TOP = os.path.abspath(os.environ.get('AXLE_TOP') or
                      os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..'))
BUILD = os.path.abspath(os.environ.get('AXLE_BUILD') or os.path.join(TOP, 'build'))
CERTS = os.path.join(TOP, 'certs')
PY = '/usr/bin/python3'
HOST = '127.0.0.1'
WRAP = shlex.split(os.environ.get('AXLE_WRAP', ''))
TIME_SCALE = max(1.0, float(os.environ.get('AXLE_TIME_SCALE', '1')))

GRPC_OK = 0
GRPC_CANCELLED = 1
GRPC_DEADLINE_EXCEEDED = 4
GRPC_PERMISSION_DENIED = 7
GRPC_RESOURCE_EXHAUSTED = 8
GRPC_UNIMPLEMENTED = 12
GRPC_UNAVAILABLE = 14
GRPC_UNAUTHENTICATED = 16


class TestFailure(AssertionError):
    pass


def check(cond, msg='check failed'):
    """assert that survives python -O and says why."""
    if not cond:
        raise TestFailure(msg)


def wait_for(pred, timeout, interval=0.05, what='condition'):
    """Polls pred() until truthy (returns its value) or raises after timeout
    (times AXLE_TIME_SCALE: a slow wrapped node is not a wrong one)."""
    timeout *= TIME_SCALE
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() >= deadline:
            raise TestFailure('timed out after %.1fs waiting for %s' % (timeout, what))
        time.sleep(interval)


def shared_env(store):
    """Decorator for a test file's set-up: the decorated function runs once,
    on first use, filling store (the dict the file's tests share); calling it
    returns store. A set-up that failed raises the same error in every later
    test rather than running again."""
    def wrap(setup):
        def env():
            if 'error' in store:
                raise store['error']
            if not store.get('_set_up'):
                try:
                    setup()
                except BaseException as e:
                    store['error'] = e
                    raise
                store['_set_up'] = True
            return store
        env.__doc__ = setup.__doc__
        return env
    return wrap


def hardening_scale():
    """How many times longer the bounded load and kill loops run: 1 in
    `make test`, HARDENING_SCALE (AXLE_HARDENING_SCALE) in `make hardening`."""
    return max(1, int(os.environ.get('AXLE_HARDENING_SCALE', '1')))


# --- workspace ----------------------------------------------------------

_workspaces = []
_nodes = []


def _cleanup():
    for n in list(_nodes):
        try:
            if WRAP and n.alive():	# SIGTERM first: valgrind prints its leak check at exit
                n.proc.send_signal(signal.SIGTERM)
                n.proc.wait(10 * TIME_SCALE)
        except Exception:
            pass
        try:
            n.kill()
        except Exception:
            pass
    for ws in _workspaces:
        if os.environ.get('AXLE_KEEP') == '1':
            sys.stderr.write('AXLE_KEEP=1: workspace kept at %s\n' % ws.path)
        else:
            shutil.rmtree(ws.path, ignore_errors=True)


atexit.register(_cleanup)


class Workspace:
    """A temporary directory for one test file, removed at exit unless AXLE_KEEP=1."""

    def __init__(self, prefix='axle-it-'):
        self.path = tempfile.mkdtemp(prefix=prefix)
        _workspaces.append(self)

    def join(self, *parts):
        return os.path.join(self.path, *parts)

    def mkdir(self, *parts):
        p = self.join(*parts)
        os.makedirs(p, exist_ok=True)
        return p

    def write(self, rel, text, mode=0o644):
        p = self.join(rel)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p, 'w') as f:
            f.write(text)
        os.chmod(p, mode)
        return p


def run(cmd, timeout=60, check_rc=True, cwd=None, env=None):
    """Runs cmd, returns CompletedProcess (text). Raises TestFailure on rc != 0."""
    try:
        cp = subprocess.run(cmd, cwd=cwd, env=env, timeout=timeout,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            universal_newlines=True)
    except subprocess.TimeoutExpired:
        raise TestFailure('timed out after %ss: %s' % (timeout, ' '.join(cmd)))
    if check_rc and cp.returncode != 0:
        raise TestFailure('%s exited %d: %s%s' % (' '.join(cmd), cp.returncode,
                                                  cp.stdout[-2000:], cp.stderr[-2000:]))
    return cp


def free_port():
    """A TCP port on 127.0.0.1 free right now (small race accepted)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.bind((HOST, 0))
        return s.getsockname()[1]
    finally:
        s.close()


# --- PKI via certs/ scripts ----------------------------------------------

def certs_tool(name):
    p = os.path.join(CERTS, name)
    check(os.access(p, os.X_OK), 'missing certs tool %s' % p)
    return p


class Cred:
    """A certificate and its key (paths)."""

    def __init__(self, cert, key, chain=None):
        self.cert = cert
        self.key = key
        self.chain = chain or cert

    def __repr__(self):
        return 'Cred(%s)' % self.cert


def _first_existing(*paths):
    for p in paths:
        if os.path.exists(p):
            return p
    raise TestFailure('none of these exist: %s' % ', '.join(paths))


class Federation:
    """A federation CA (certs/axle-ca-new) and the credentials issued from it."""

    def __init__(self, ws, fed, root):
        self.ws = ws
        self.fed = fed
        self.root = root
        self.ca_dir = os.path.join(root, 'ca')
        self.trust_dir = os.path.join(root, 'trust')
        self.issued = os.path.join(root, 'issued')
        os.makedirs(self.issued, exist_ok=True)
        self._n = 0

    @property
    def ca_pem(self):
        return _first_existing(os.path.join(self.ca_dir, 'ca.pem'),
                               os.path.join(self.ca_dir, 'ca.crt'))

    # credentials made by axle-dev-federation
    def node(self, region):
        d = os.path.join(self.root, region)
        return Cred(os.path.join(d, 'node.pem'), os.path.join(d, 'node.key'),
                    _first_existing(os.path.join(d, 'node.chain.pem'), os.path.join(d, 'node.pem')))

    def admin(self, region):
        d = os.path.join(self.root, region)
        return Cred(os.path.join(d, 'admin.pem'), os.path.join(d, 'admin.key'))

    def member(self, region):
        """The member cert for <region>.hub made by axle-dev-federation."""
        d = os.path.join(self.root, region)
        import glob
        bases = ['member', 'hub', 'member-%s.hub' % region, region + '.hub']
        bases += sorted(os.path.basename(p)[:-4] for p in glob.glob(os.path.join(d, 'member*.pem'))
                        if not p.endswith('.chain.pem'))
        for base in bases:
            if os.path.exists(os.path.join(d, base + '.pem')):
                chain = os.path.join(d, base + '.chain.pem')
                return Cred(os.path.join(d, base + '.pem'), os.path.join(d, base + '.key'),
                            chain if os.path.exists(chain) else None)
        raise TestFailure('no member cert for %s.hub in %s: %s' % (region, d, os.listdir(d)))

    def issue(self, role, address, name=None, user=None, days=None, dns=(), ip=(),
              start=None, end=None, uris=None, ca=False, timeout=60):
        """Issues a cert with certs/axle-cert-issue. uris: list of URIs (overrides
        the axle:// one; [] means zero URI SANs). Returns a Cred."""
        self._n += 1
        name = name or '%s-%d' % (role, self._n)
        cmd = [certs_tool('axle-cert-issue'), self.ca_dir, role, address,
               '--out', self.issued, '--name', name]
        if user:
            cmd += ['--user', user]
        if days is not None:
            cmd += ['--days', str(days)]
        for d in dns:
            cmd += ['--dns', d]
        for a in ip:
            cmd += ['--ip', a]
        if start:
            cmd += ['--start', start, '--end', end]
        if uris is not None:
            if not uris:
                cmd += ['--uri', 'none']
            for u in uris:
                cmd += ['--uri', u]
        if ca:
            cmd += ['--ca']
        run(cmd, timeout=timeout)
        cert = os.path.join(self.issued, name + '.pem')
        key = os.path.join(self.issued, name + '.key')
        check(os.path.exists(cert) and os.path.exists(key),
              'axle-cert-issue did not write %s/.key' % cert)
        chain = os.path.join(self.issued, name + '.chain.pem')
        return Cred(cert, key, chain if os.path.exists(chain) else cert)

    def revoke(self, cred):
        run([certs_tool('axle-cert-revoke'), self.ca_dir, cred.cert])

    def publish_crl(self):
        run([certs_tool('axle-crl-publish'), self.ca_dir])

    def trust_add(self, trust_dir=None):
        """Installs this CA (and its current CRL) into trust_dir (default: ours)."""
        run([certs_tool('axle-trust-add'), trust_dir or self.trust_dir, self.ca_dir])


def p256_key_cert(ws, name, usage, what):
    """A P-256 key and a self-signed certificate with keyUsage `usage` (made at run time,
    never committed): (key path, cert path), in the workspace folder `name`."""
    d = ws.mkdir(name)
    key, cert = os.path.join(d, 'key.pem'), os.path.join(d, 'cert.pem')
    run(['openssl', 'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256',
         '-nodes', '-keyout', key, '-out', cert, '-subj', '/CN=%s' % what,
         '-days', '2', '-addext', 'keyUsage=critical,%s' % usage])
    return key, cert


def make_federation(ws, fed='fame-test', regions=('uk.test',), subdir=None):
    """Runs certs/axle-dev-federation into the workspace. Returns a Federation."""
    root = ws.join(subdir or 'pki-' + fed)
    run([certs_tool('axle-dev-federation'), root, fed] + list(regions), timeout=120)
    f = Federation(ws, fed, root)
    check(os.path.isdir(f.ca_dir), 'no CA dir %s' % f.ca_dir)
    check(os.path.isdir(os.path.join(f.trust_dir, fed)), 'no trust dir for %s' % fed)
    return f


def make_ca(ws, fed, subdir=None):
    """A bare CA for fed (certs/axle-ca-new), no node or member certs."""
    root = ws.join(subdir or 'pki-' + fed)
    os.makedirs(root, exist_ok=True)
    f = Federation(ws, fed, root)
    run([certs_tool('axle-ca-new'), f.ca_dir, fed])
    return f


def utc_stamp(offset_seconds):
    """YYYYMMDDHHMMSSZ for now + offset, as openssl ca -startdate wants."""
    return time.strftime('%Y%m%d%H%M%SZ', time.gmtime(time.time() + offset_seconds))


# --- grpc stubs ------------------------------------------------------------

_stubs = None


def grpc_stubs(ws):
    """Generates proto/axle/v1/*.proto into the workspace with grpc_tools and
    imports them. Returns a namespace with node_pb2 and node_pb2_grpc."""
    global _stubs
    if _stubs:
        return _stubs
    out = ws.mkdir('gen')
    protos = sorted(os.path.join('proto', 'axle', 'v1', p)
                    for p in os.listdir(os.path.join(TOP, 'proto', 'axle', 'v1'))
                    if p.endswith('.proto'))
    run([PY, '-m', 'grpc_tools.protoc', '-I', 'proto', '--python_out=' + out,
         '--grpc_python_out=' + out] + protos, cwd=TOP)
    sys.path.insert(0, out)
    import importlib
    ns = type('Stubs', (), {})()
    for p in protos:
        base = os.path.basename(p)[:-len('.proto')]
        setattr(ns, base + '_pb2', importlib.import_module('axle.v1.%s_pb2' % base))
        setattr(ns, base + '_pb2_grpc', importlib.import_module('axle.v1.%s_pb2_grpc' % base))
    _stubs = ns
    return ns


# --- the daemon ---------------------------------------------------------

def axled_path():
    return os.path.join(BUILD, 'axled')


def check_config(conf, timeout=20):
    """`axled -n -c conf`: returns (rc, combined output)."""
    cp = run(WRAP + [axled_path(), '-n', '-c', conf], timeout=timeout * TIME_SCALE,
             check_rc=False)
    return cp.returncode, cp.stdout + cp.stderr


class Node:
    """One axled process with its own config, data dir and log file."""

    def __init__(self, ws, fed, region, name=None, port=None, cred=None,
                 trust_dir=None, limits=None, peers=(), parent=None,
                 log_level=None, extra='', start=True, wrap=()):
        self.ws = ws
        self.fed = fed
        self.region = region
        self.name = name or region
        self.host = HOST
        self.port = port or free_port()
        self.cred = cred or fed.node(region)
        self.trust_dir = trust_dir or fed.trust_dir
        self.limits = dict(limits or {})
        self.peers = list(peers)
        self.parent = parent
        self.log_level = log_level
        self.extra = extra
        self.wrap = list(wrap)		# argv words before WRAP and axled (e.g. fiu-run)
        self.dir = ws.mkdir('nodes', self.name)
        self.data_dir = os.path.join(self.dir, 'data')
        self.conf = os.path.join(self.dir, 'axled.conf')
        self.log = os.path.join(self.dir, 'axled.log')
        self.proc = None
        self.write_config()
        if start:
            self.start()

    def config_text(self):
        lines = ['[node]',
                 'federation = %s' % self.fed.fed,
                 'region = %s' % self.region,
                 'listen = %s:%d' % (self.host, self.port),
                 'data_dir = %s' % self.data_dir]
        if self.parent:
            lines.append('parent = %s' % self.parent)
        lines += ['', '[tls]',
                  'cert = %s' % self.cred.chain,
                  'key = %s' % self.cred.key,
                  'trust_dir = %s' % self.trust_dir]
        if self.log_level:
            lines += ['', '[log]', 'level = %s' % self.log_level]
        if self.limits:
            lines += ['', '[limits]'] + ['%s = %s' % kv for kv in sorted(self.limits.items())]
        for p in self.peers:		# (name, host:port[, region])
            lines += ['', '[peer %s]' % p[0], 'address = %s' % p[1]]
            if len(p) > 2:
                lines.append('region = %s' % p[2])
        return '\n'.join(lines) + '\n' + self.extra

    def write_config(self):
        os.makedirs(self.data_dir, exist_ok=True)
        with open(self.conf, 'w') as f:
            f.write(self.config_text())

    @property
    def pid(self):
        return self.proc.pid if self.proc else None

    def log_text(self):
        try:
            with open(self.log, errors='replace') as f:
                return f.read()
        except FileNotFoundError:
            return ''

    def log_tail(self, n=40):
        return '\n'.join(self.log_text().splitlines()[-n:])

    def start(self, timeout=10):
        check(os.access(axled_path(), os.X_OK), 'no daemon at %s' % axled_path())
        self._logf = open(self.log, 'ab')
        self._log_start = os.path.getsize(self.log)
        self.proc = subprocess.Popen(self.wrap + WRAP + [axled_path(), '-c', self.conf],
                                     stdin=subprocess.DEVNULL,
                                     stdout=self._logf, stderr=self._logf)
        _nodes.append(self)
        # key=value, or [log] format = json
        pat = re.compile(r'event=listening\b.*\bport=(\d+)|"event":"listening".*"port":(\d+)')

        def ready():
            if self.proc.poll() is not None:
                raise TestFailure('axled exited %s during start-up:\n%s'
                                  % (self.proc.returncode, self.log_tail()))
            with open(self.log, errors='replace') as f:
                f.seek(self._log_start)
                return pat.search(f.read())
        try:
            wait_for(ready, timeout, what='event=listening from axled')
        except TestFailure as e:
            self.kill()
            raise TestFailure('%s\n%s' % (e, self.log_tail()))
        return self

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout=10):
        """SIGTERM, wait, insist on exit status 0."""
        check(self.alive(), 'axled not running (rc=%s)' % (self.proc and self.proc.returncode))
        self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout * TIME_SCALE)
        except subprocess.TimeoutExpired:
            self.kill()
            raise TestFailure('axled did not exit within %ss of SIGTERM'
                              % (timeout * TIME_SCALE))
        self._close()
        check(rc == 0, 'axled exited %d after SIGTERM:\n%s' % (rc, self.log_tail()))
        return rc

    def kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                pass
        self._close()

    def _close(self):
        if self in _nodes:
            _nodes.remove(self)
        lf = getattr(self, '_logf', None)
        if lf:
            lf.close()
            self._logf = None

    def hup(self, timeout=10):
        """SIGHUP and wait for a new event=reload line. Returns that line."""
        check(self.alive(), 'axled not running')
        def is_reload(line):
            return 'event=reload' in line or '"event":"reload"' in line
        before = sum(map(is_reload, self.log_text().splitlines()))
        self.proc.send_signal(signal.SIGHUP)

        def reloaded():
            lines = [l for l in self.log_text().splitlines() if is_reload(l)]
            return lines[before] if len(lines) > before else None
        return wait_for(reloaded, timeout, what='event=reload after SIGHUP')

    def rss_kib(self):
        with open('/proc/%d/status' % self.pid) as f:
            for line in f:
                if line.startswith('VmRSS:'):
                    return int(line.split()[1])
        raise TestFailure('no VmRSS for pid %d' % self.pid)

    def sanitized(self):
        """True if the running axled is an ASan build or runs under valgrind
        (memory bounds differ: shadow memory counts in its RSS)."""
        with open('/proc/%d/maps' % self.pid) as f:
            maps = f.read()
        return 'libasan' in maps or 'vgpreload' in maps

    def fd_count(self):
        return len(os.listdir('/proc/%d/fd' % self.pid))

    # conveniences
    def connect(self, cred, ca=None, timeout=10, **kw):
        """An H2Client over a fresh mTLS connection as cred."""
        sock = tls_connect(self.host, self.port, cred and cred.chain, cred and cred.key,
                           ca or self.fed.ca_pem, timeout=timeout, **kw)
        return H2Client(sock, timeout=timeout)

    def metrics(self, cred, timeout=10):
        """GET /metrics as cred: {'name{labels}': value}."""
        c = self.connect(cred, timeout=timeout)
        try:
            r = c.request('GET', '/metrics', timeout=timeout)
        finally:
            c.close()
        check(r.status == 200, '/metrics: %r' % r)
        return parse_metrics(r.body.decode())

    def info(self, cred, timeout=10):
        """One Node.Info call on a new connection. Returns (Response, InfoResponse)."""
        c = self.connect(cred, timeout=timeout)
        try:
            return c.info(timeout=timeout)
        finally:
            c.close()


def parse_metrics(text):
    """Prometheus text -> {'name{labels}': float}; comments skipped."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith('#'):
            continue
        key, _, val = line.rpartition(' ')
        out[key] = float(val)
    return out


# --- TLS ----------------------------------------------------------------------

def tls_context(cert=None, key=None, ca=None, alpn=('h2',), server_hostname=None):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    if ca:
        ctx.load_verify_locations(cafile=ca)
        ctx.verify_mode = ssl.CERT_REQUIRED
        ctx.check_hostname = server_hostname is not None
    else:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    if cert:
        ctx.load_cert_chain(cert, key)
    if alpn:
        ctx.set_alpn_protocols(list(alpn))
    return ctx


def tls_connect(host, port, cert=None, key=None, ca=None, alpn=('h2',), timeout=10,
                server_hostname=None, ragged_eofs=True):
    """TCP + TLS handshake (client cert optional, ALPN h2 by default). Returns the
    SSLSocket or raises the handshake error (ssl.SSLError, OSError). With TLS 1.3
    the server judges our certificate after our side of the handshake ends, so a
    refusal of the client cert often shows only on the first read: see refused().
    ragged_eofs=False: a TCP close without TLS close_notify raises ssl.SSLEOFError
    on read (RawH2 records it in eof_reason) instead of reading as a clean EOF."""
    ctx = tls_context(cert, key, ca, alpn, server_hostname)
    raw = socket.create_connection((host, port), timeout=timeout)
    try:
        s = ctx.wrap_socket(raw, server_hostname=server_hostname or host,
                            do_handshake_on_connect=False,
                            suppress_ragged_eofs=ragged_eofs)
        s.settimeout(timeout)
        s.do_handshake()
        return s
    except BaseException:
        raw.close()
        raise


def refused(host, port, cert=None, key=None, ca=None, alpn=('h2',), timeout=10, path='/healthz'):
    """Tries to get any HTTP/2 response with these credentials. Returns the
    reason string if no response was possible (handshake error, alert, EOF),
    None if the node answered (i.e. it was NOT refused)."""
    try:
        s = tls_connect(host, port, cert, key, ca, alpn, timeout)
    except (ssl.SSLError, OSError) as e:
        return 'handshake: %s' % e
    try:
        if s.selected_alpn_protocol() != 'h2':
            # No h2 agreed: nothing we send could be an h2 request; still make
            # sure the server does not answer anything.
            try:
                s.sendall(b'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n')
                d = s.recv(1)
                return None if d else 'no ALPN, EOF'
            except (ssl.SSLError, OSError) as e:
                return 'no ALPN: %s' % e
        try:
            c = H2Client(s, timeout=timeout)
            r = c.request('GET', path, timeout=timeout)
        except (H2Closed, ssl.SSLError, OSError, h2.exceptions.ProtocolError) as e:
            return 'after handshake: %s' % e
        if r.status is None:
            return 'no response: %r' % r
        return None
    finally:
        s.close()


# --- HTTP/2 client ----------------------------------------------------------


def mesh(ws, fed, regions, **node_kw):
    """One started node per region on a free port, each peered with every other (a full
    mesh); node_kw goes to every Node (extra=, log_level=...). Returns {region: Node}."""
    ports = {r: free_port() for r in regions}
    return {r: Node(ws, fed, r, port=ports[r],
                    peers=[(p, '127.0.0.1:%d' % ports[p]) for p in regions if p != r],
                    **node_kw)
            for r in regions}


class FakeNode:
    """A TLS h2 server holding a node's real certificate, played by the test: for
    each gRPC call, answer(path, request_bytes) returns (status, message bytes or
    None, grpc-message or None). `calls` lists the paths asked. Threads, daemon."""

    def __init__(self, cred, answer):
        self.answer = answer
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.load_cert_chain(cred.chain, cred.key)
        self.ctx.set_alpn_protocols(['h2'])
        self.lsock = socket.socket()
        self.lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.lsock.bind((HOST, 0))
        self.lsock.listen(16)
        self.port = self.lsock.getsockname()[1]
        self.calls = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                raw, _ = self.lsock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(raw,), daemon=True).start()

    def _reply(self, conn, sid, path, body):
        try:
            status, out, message = self.answer(path, grpc_unframe(body)[0] if body else b'')
        except Exception as err:  # noqa: BLE001 -- a test's fake failing: INTERNAL
            status, out, message = 13, None, 'fake node: %r' % err
        conn.send_headers(sid, [(':status', '200'), ('content-type', 'application/grpc')])
        if out is not None:
            conn.send_data(sid, grpc_frame(out))
        trailers = [('grpc-status', str(status))]
        if message is not None:
            trailers.append(('grpc-message', message))
        conn.send_headers(sid, trailers, end_stream=True)

    def _serve(self, raw):
        try:
            raw.settimeout(60)
            sock = self.ctx.wrap_socket(raw, server_side=True)
        except (OSError, ssl.SSLError):
            raw.close()
            return
        conn = h2.connection.H2Connection(config=h2.config.H2Configuration(
            client_side=False, header_encoding='utf-8'))
        paths, bodies = {}, {}
        try:
            conn.initiate_connection()
            sock.sendall(conn.data_to_send())
            while True:
                data = sock.recv(65536)
                if not data:
                    return
                for ev in conn.receive_data(data):
                    if isinstance(ev, h2.events.RequestReceived):
                        paths[ev.stream_id] = dict(ev.headers).get(':path')
                        self.calls.append(paths[ev.stream_id])
                    elif isinstance(ev, h2.events.DataReceived):
                        bodies[ev.stream_id] = bodies.get(ev.stream_id, b'') + ev.data
                        conn.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
                    elif isinstance(ev, h2.events.StreamEnded):
                        self._reply(conn, ev.stream_id, paths.pop(ev.stream_id, ''),
                                    bodies.pop(ev.stream_id, b''))
                out = conn.data_to_send()
                if out:
                    sock.sendall(out)
        except (OSError, ssl.SSLError, h2.exceptions.ProtocolError):
            pass
        finally:
            sock.close()


class H2Closed(Exception):
    """The connection ended (EOF, reset, GOAWAY) before the stream finished."""


class Response:
    """One HTTP/2 exchange. Unpacks as (status, headers, trailers, body)."""

    def __init__(self, sid):
        self.sid = sid
        self.status = None
        self.headers = []
        self.trailers = []
        self.body = b''
        self.ended = False
        self.reset = None	# RST_STREAM error code from the server

    def __iter__(self):
        return iter((self.status, self.headers, self.trailers, self.body))

    def header(self, name, default=None):
        for k, v in self.headers + self.trailers:
            if k == name:
                return v
        return default

    @property
    def grpc_status(self):
        v = self.header('grpc-status')
        return int(v) if v is not None else None

    @property
    def grpc_message(self):
        return self.header('grpc-message', '')

    @property
    def messages(self):
        return grpc_unframe(self.body)

    def __repr__(self):
        return ('Response(sid=%d status=%s grpc=%s %r reset=%s headers=%s trailers=%s body=%d bytes)'
                % (self.sid, self.status, self.grpc_status, self.grpc_message, self.reset,
                   self.headers, self.trailers, len(self.body)))


def grpc_frame(msg, compressed=False):
    return struct.pack('>BI', 1 if compressed else 0, len(msg)) + msg


def grpc_unframe(body):
    out, i = [], 0
    while i < len(body):
        check(len(body) - i >= 5, 'truncated gRPC frame prefix')
        flag, n = struct.unpack('>BI', body[i:i + 5])
        check(flag == 0, 'compressed gRPC message not expected')
        check(len(body) - i - 5 >= n, 'truncated gRPC message')
        out.append(body[i + 5:i + 5 + n])
        i += 5 + n
    return out


class H2Client:
    """A small blocking HTTP/2 client over an (ssl) socket, built on python h2."""

    def __init__(self, sock, timeout=10, max_header_list=1 << 20):
        self.sock = sock
        self.timeout = timeout
        cfg = h2.config.H2Configuration(client_side=True, header_encoding='utf-8',
                                        validate_outbound_headers=False)
        self.conn = h2.connection.H2Connection(config=cfg)
        self.conn.local_settings = h2.settings.Settings(
            client=True, initial_values={
                h2.settings.SettingCodes.MAX_HEADER_LIST_SIZE: max_header_list,
                h2.settings.SettingCodes.ENABLE_PUSH: 0})
        self.conn.initiate_connection()
        self.streams = {}
        self.goaway = None	# ConnectionTerminated event
        self.eof = False
        self.remote_settings_seen = False
        self._flush()

    def _flush(self):
        data = self.conn.data_to_send()
        if data:
            self.sock.sendall(data)

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def pump(self, timeout):
        """Reads once (up to timeout) and processes events. Returns False at EOF."""
        if self.eof:
            return False
        self.sock.settimeout(timeout)
        try:
            data = self.sock.recv(65536)
        except (socket.timeout, ssl.SSLWantReadError):
            return True
        except (ssl.SSLZeroReturnError, ConnectionResetError, ssl.SSLEOFError):
            data = b''
        if not data:
            self.eof = True
            return False
        for ev in self.conn.receive_data(data):
            self._event(ev)
        self._flush()
        return True

    def _event(self, ev):
        st = self.streams.get(getattr(ev, 'stream_id', None))
        if isinstance(ev, h2.events.ResponseReceived):
            st.headers = list(ev.headers)
            st.status = int(dict(ev.headers).get(':status', 0))
        elif isinstance(ev, h2.events.InformationalResponseReceived):
            pass
        elif isinstance(ev, h2.events.DataReceived):
            if st is not None:
                st.body += ev.data
            self.conn.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
        elif isinstance(ev, h2.events.TrailersReceived):
            st.trailers = list(ev.headers)
        elif isinstance(ev, h2.events.StreamEnded):
            st.ended = True
        elif isinstance(ev, h2.events.StreamReset):
            if st is not None:
                st.reset = ev.error_code
                st.ended = True
        elif isinstance(ev, h2.events.ConnectionTerminated):
            self.goaway = ev
        elif isinstance(ev, h2.events.RemoteSettingsChanged):
            self.remote_settings_seen = True

    def start(self, method, path, headers=(), body=None, end_stream=True):
        """Sends a request; returns its stream id (wait with finish())."""
        sid = self.conn.get_next_available_stream_id()
        hdrs = [(':method', method), (':scheme', 'https'), (':authority', 'localhost'),
                (':path', path)] + list(headers)
        self.streams[sid] = Response(sid)
        self.conn.send_headers(sid, hdrs, end_stream=(body is None and end_stream))
        self._flush()
        if body is not None:
            self._send_body(sid, body, end_stream)
        return sid

    def _send_body(self, sid, body, end_stream, timeout=None):
        deadline = time.monotonic() + (timeout or self.timeout)
        view = memoryview(body)
        while True:
            n = min(len(view), self.conn.local_flow_control_window(sid),
                    self.conn.max_outbound_frame_size)
            if n > 0 or not view:
                last = n == len(view)
                self.conn.send_data(sid, view[:n].tobytes(), end_stream=end_stream and last)
                self._flush()
                view = view[n:]
                if last:
                    return
            else:
                if time.monotonic() > deadline:
                    raise H2Closed('flow control window stuck on stream %d' % sid)
                if not self.pump(0.2):
                    raise H2Closed('EOF while sending body')

    def finish(self, sid, timeout=None):
        """Waits for stream sid to end. Returns the Response, raises H2Closed."""
        st = self.streams[sid]
        deadline = time.monotonic() + (timeout or self.timeout)
        while not st.ended:
            left = deadline - time.monotonic()
            if left <= 0:
                raise H2Closed('timeout waiting for stream %d: %r' % (sid, st))
            if self.goaway is not None and sid > self.goaway.last_stream_id:
                raise H2Closed('GOAWAY %s (last stream %d) before stream %d ended'
                               % (self.goaway.error_code, self.goaway.last_stream_id, sid))
            if not self.pump(min(left, 0.5)):
                raise H2Closed('EOF before stream %d ended: %r' % (sid, st))
        return st

    def request(self, method, path, headers=(), body=None, timeout=None):
        return self.finish(self.start(method, path, headers, body), timeout)

    def grpc_unary(self, path, msg=b'', metadata=(), timeout=None, grpc_timeout=None):
        hdrs = [('content-type', 'application/grpc'), ('te', 'trailers')]
        if grpc_timeout:
            hdrs.append(('grpc-timeout', grpc_timeout))
        return self.request('POST', path, hdrs + list(metadata), grpc_frame(msg), timeout)

    def info(self, timeout=None):
        """Node.Info. Returns (Response, InfoResponse or None)."""
        r = self.grpc_unary('/axle.v1.Node/Info', b'', timeout=timeout)
        if r.grpc_status != GRPC_OK or len(r.messages) != 1 or _stubs is None:
            return r, None
        return r, _stubs.node_pb2.InfoResponse.FromString(r.messages[0])


# --- raw frames (for floods the h2 state machine would not let us send) ------

PREFACE = b'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'


class RawH2:
    """Writes hand-made frames with hyperframe and reads the server's frames."""

    def __init__(self, sock):
        self.sock = sock
        self.buf = b''
        self.frames = []
        self.eof = False
        self.eof_reason = None
        self.goaway = None
        self.encoder = hpack.Encoder()
        self.send_raw(PREFACE + hf.SettingsFrame(0).serialize())

    def send_raw(self, data):
        """Returns False if the connection is gone (reset, EPIPE)."""
        if self.eof:
            return False
        try:
            self.sock.sendall(data)
            return True
        except socket.timeout:
            return True		# the server stopped reading; the caller polls
        except (ssl.SSLError, OSError) as e:
            self.eof, self.eof_reason = True, 'send: %s' % e
            return False

    def send(self, *frames):
        return self.send_raw(b''.join(f.serialize() for f in frames))

    def block(self, headers):
        return self.encoder.encode(headers)

    def request_headers(self, path='/axle.v1.Node/Info', method='POST', extra=()):
        return [(':method', method), (':scheme', 'https'), (':authority', 'localhost'),
                (':path', path), ('content-type', 'application/grpc'), ('te', 'trailers')] + list(extra)

    def poll(self, timeout):
        """Reads what is there (waiting up to timeout). Returns new frames."""
        if self.eof:
            return []
        new = []
        self.sock.settimeout(timeout)
        try:
            data = self.sock.recv(65536)
            if not data:
                self.eof, self.eof_reason = True, 'EOF'
        except (socket.timeout, ssl.SSLWantReadError):
            data = b''
        except (ssl.SSLError, OSError) as e:
            data = b''
            self.eof, self.eof_reason = True, 'recv: %s' % e
        self.buf += data
        while len(self.buf) >= 9:
            f, length = hf.Frame.parse_frame_header(memoryview(self.buf[:9]))
            if len(self.buf) < 9 + length:
                break
            f.parse_body(memoryview(self.buf[9:9 + length]))
            self.buf = self.buf[9 + length:]
            new.append(f)
            if isinstance(f, hf.GoAwayFrame) and self.goaway is None:
                self.goaway = f
            if isinstance(f, hf.SettingsFrame) and 'ACK' not in f.flags:
                self.send(hf.SettingsFrame(0, flags=['ACK']))
        self.frames += new
        return new

    def drain(self, seconds):
        """Polls for a little while (to notice GOAWAY/EOF)."""
        end = time.monotonic() + seconds
        while not self.eof and time.monotonic() < end:
            self.poll(min(0.05, max(0.0, end - time.monotonic())) or 0.01)

    def wait_goaway_or_eof(self, timeout):
        """Returns 'GOAWAY code=N' or 'EOF ...' once seen, None on timeout."""
        end = time.monotonic() + timeout
        while True:
            if self.goaway is not None:
                return 'GOAWAY code=%d' % self.goaway.error_code
            if self.eof:
                return 'EOF (%s)' % self.eof_reason
            left = end - time.monotonic()
            if left <= 0:
                return None
            self.poll(min(left, 0.5))

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


# --- test registry --------------------------------------------------------

_tests = []


class TestTimeout(Exception):
    pass


class Skipped(Exception):
    """Raised by skip(): the check cannot run here; the reason says why."""


def skip(reason):
    """Ends the running test as skipped, not passed: tests/run.sh counts it in
    its closing line and prints the reason. Only for what truly cannot run here
    (no root to mount a tmpfs); a missing tool .ci/deps.sh installs is a failure."""
    raise Skipped(reason)


def test(fn=None, timeout=120):
    """@test or @test(timeout=N): registers fn to run in definition order."""
    def reg(f):
        f._axle_timeout = timeout
        _tests.append(f)
        return f
    return reg(fn) if fn is not None else reg


def _alarm(signum, frame):
    raise TestTimeout('test timed out')


def node_log_diag(env, key='node'):
    """An after_failure for main(): prints the tail of the log of the axled
    kept as env[key] (when the failed test had got as far as starting it)."""
    def diag(name):
        n = env.get(key)
        if n is not None:
            print('--- axled log tail (%s) ---\n%s' % (n.log, n.log_tail(25)))
    return diag


def main(after_failure=None):
    """Runs every registered test (or those named in argv), prints `ok name`,
    `FAIL name: reason` or `SKIP name: reason`, then `N passed, N failed,
    N skipped`; exits 1 on any failure, 77 (skipped) if nothing ran but skips.
    after_failure(name) may print diagnostics (e.g. a node's log tail)."""
    want = set(sys.argv[1:])
    # AXLE_SKIP_TESTS="name ...": tests a wrapped run cannot hold to their bounds
    # (tests/valgrind.sh names each with its reason); each is counted as skipped.
    skipped_by_env = set(os.environ.get('AXLE_SKIP_TESTS', '').split())
    signal.signal(signal.SIGALRM, _alarm)
    passed = failed = skipped = 0
    for t in _tests:
        if want and t.__name__ not in want:
            continue
        if t.__name__ in skipped_by_env:
            skipped += 1
            print('SKIP %s: named in AXLE_SKIP_TESTS' % t.__name__, flush=True)
            continue
        start = time.monotonic()
        signal.alarm(int(t._axle_timeout * TIME_SCALE))
        try:
            t()
            signal.alarm(0)
            passed += 1
            print('ok %s (%.1fs)' % (t.__name__, time.monotonic() - start), flush=True)
        except Skipped as e:
            signal.alarm(0)
            skipped += 1
            print('SKIP %s: %s' % (t.__name__, e), flush=True)
        except BaseException as e:
            signal.alarm(0)
            if isinstance(e, KeyboardInterrupt):
                raise
            failed += 1
            print('FAIL %s: %s: %s' % (t.__name__, type(e).__name__, e), flush=True)
            if os.environ.get('AXLE_VERBOSE') == '1' or not isinstance(e, TestFailure):
                traceback.print_exc(file=sys.stdout)
            if after_failure:
                try:
                    after_failure(t.__name__)
                except Exception:
                    pass
    print('%d passed, %d failed, %d skipped' % (passed, failed, skipped), flush=True)
    _cleanup()
    _workspaces.clear()
    if failed or not (passed or skipped):
        sys.exit(1)
    sys.exit(0 if passed else 77)

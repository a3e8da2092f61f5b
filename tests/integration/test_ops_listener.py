"""test_ops_listener.py -- [ops] listen: a plain-HTTP listener for load balancers and
Prometheus without a client certificate, on a loopback address or a unix socket only:
/healthz, /readyz and /metrics (the same exposition as the mTLS listener), nothing else,
503 with the reason while draining; axled -n refuses any other address.
"""

import http.client
import os
import signal
import socket
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import axletest as at  # noqa: E402
from axletest import Node, Workspace, check, free_port, main, make_federation, test  # noqa: E402

FED = 'fame-test'
REGION = 'uk.test'
_env = {}


@at.shared_env(_env)
def env():
    ws = Workspace(prefix='axle-ops-')
    fed = make_federation(ws, FED, [REGION])
    port = free_port()
    node = Node(ws, fed, REGION, extra='\n[ops]\nlisten = 127.0.0.1:%d\n' % port)
    _env.update(ws=ws, fed=fed, node=node, port=port)


def get(path, method='GET', port=None):
    c = http.client.HTTPConnection('127.0.0.1', port or env()['port'], timeout=10)
    try:
        c.request(method, path)
        r = c.getresponse()
        return r.status, r.getheader('Content-Type', ''), r.read().decode()
    finally:
        c.close()


def unix_get(path, sock_path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(10)
    s.connect(sock_path)
    try:
        s.sendall(('GET %s HTTP/1.1\r\nHost: ops\r\nConnection: close\r\n\r\n' % path).encode())
        data = b''
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    finally:
        s.close()
    head, _, body = data.partition(b'\r\n\r\n')
    return int(head.split()[1]), body.decode()


def check_config(node):
    return subprocess.run([at.axled_path(), '-n', '-c', node.conf], capture_output=True,
                          text=True, timeout=30)


@test(timeout=60)
def probes_and_metrics_without_a_certificate():
    st, ctype, body = get('/healthz')
    check(st == 200 and body == 'ok\n', '/healthz: %r %r' % (st, body))
    st, _, body = get('/readyz')
    check(st == 200 and body == 'ready\n', '/readyz: %r %r' % (st, body))
    st, ctype, body = get('/metrics')
    check(st == 200 and 'version=0.0.4' in ctype, '/metrics: %r %r' % (st, ctype))
    check('axle_info{federation="%s",region="%s"' % (FED, REGION) in body
          and 'axle_rpc_total' in body, '/metrics body lacks the node\'s families')
    st, _, _ = get('/metrics', method='HEAD')
    check(st == 200, 'HEAD /metrics: %r' % st)


@test(timeout=60)
def nothing_else_is_served():
    for path in ('/', '/axle.v1.Node/Info', '/console/', '/metrics/x', '/healthz?x=1#'):
        st, _, body = get(path)
        want = 200 if path.startswith('/healthz') else 404
        check(st == want, '%s: %r %r' % (path, st, body))
    st, _, body = get('/metrics', method='POST')
    check(st == 405 and 'GET or HEAD' in body, 'POST /metrics: %r %r' % (st, body))
    st, _, _ = get('/axle.v1.Registry/Resolve', method='POST')
    check(st in (404, 405), 'POST an RPC path: %r' % st)


@test(timeout=60)
def only_loopback_or_unix():
    e = env()
    for listen, why in (('0.0.0.0:9100', 'not a loopback address'),
                        ('192.0.2.1:9100', 'not a loopback address'),
                        ('[::]:9100', 'not a loopback address'),
                        ('unix:relative.sock', 'absolute path'),
                        ('9100', 'expected 127.0.0.1:PORT')):
        n = Node(e['ws'], e['fed'], REGION, name='bad%d' % free_port(), start=False,
                 extra='\n[ops]\nlisten = %s\n' % listen)
        p = check_config(n)
        check(p.returncode != 0 and why in p.stderr, '[ops] listen = %s: %r' % (listen, p.stderr))


@test(timeout=60)
def unix_socket():
    e = env()
    path = e['ws'].join('ops.sock')
    n = Node(e['ws'], e['fed'], REGION, name='unix', extra='\n[ops]\nlisten = unix:%s\n' % path)
    try:
        st, body = unix_get('/readyz', path)
        check(st == 200 and body == 'ready\n', 'unix /readyz: %r %r' % (st, body))
        st, body = unix_get('/metrics', path)
        check(st == 200 and 'axle_uptime_seconds' in body, 'unix /metrics: %r' % st)
        check(oct(os.stat(path).st_mode & 0o777) == '0o660', 'socket mode %o' % os.stat(path).st_mode)
    finally:
        n.stop()
    check(not os.path.exists(path), 'the socket was left behind at stop')


@test(timeout=60)
def draining_is_503_with_the_reason():
    e = env()
    node = e['node']
    held = node.connect(e['fed'].admin(REGION))	# keeps the drain going
    try:
        node.proc.send_signal(signal.SIGTERM)
        at.wait_for(lambda: get('/healthz')[0] == 503, 5, what='/healthz 503 while draining')
        st, _, body = get('/readyz')
        check(st == 503 and 'draining' in body, '/readyz while draining: %r %r' % (st, body))
    finally:
        held.close()
    node.proc.wait(20)


if __name__ == '__main__':
    main(after_failure=at.node_log_diag(_env))

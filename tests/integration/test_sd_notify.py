"""test_sd_notify.py -- axled under systemd's Type=notify protocol, with the test as the
service manager: a unix datagram socket in $NOTIFY_SOCKET receives READY=1 once the node
listens, RELOADING=1 then READY=1 around a reload (STATUS= says whether it took),
WATCHDOG=1 at half of $WATCHDOG_USEC from the event loop, and STOPPING=1 on SIGTERM.
"""

import os
import signal
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import axletest as at  # noqa: E402
from axletest import Node, Workspace, check, main, make_federation, test  # noqa: E402

FED = 'fame-test'
REGION = 'uk.test'
_env = {}


class Manager:
    """The service manager's end of $NOTIFY_SOCKET."""

    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(path)
        self.sock.settimeout(0.2)
        self.got = []

    def drain(self):
        while True:
            try:
                self.got.append(self.sock.recv(4096).decode())
            except socket.timeout:
                return self.got

    def wait(self, pred, timeout, what):
        def seen():
            self.drain()
            return [m for m in self.got if pred(m)] or None
        return at.wait_for(seen, timeout, what=what)


@at.shared_env(_env)
def env():
    ws = Workspace(prefix='axle-notify-')
    fed = make_federation(ws, FED, [REGION])
    mgr = Manager(ws.join('notify.sock'))
    os.environ['NOTIFY_SOCKET'] = ws.join('notify.sock')
    os.environ['WATCHDOG_USEC'] = '1000000'		# 1 s: WATCHDOG=1 every 0.5 s
    try:
        node = Node(ws, fed, REGION)
    finally:
        del os.environ['NOTIFY_SOCKET']
        del os.environ['WATCHDOG_USEC']
    _env.update(ws=ws, fed=fed, mgr=mgr, node=node)


@test(timeout=60)
def ready_once_listening():
    e = env()
    m = e['mgr'].wait(lambda m: 'READY=1' in m, 10, 'READY=1')
    check('STATUS=serving region %s of %s' % (REGION, FED) in m[0], 'status: %r' % m[0])
    # It came after the node could answer: a call succeeds now.
    r, _ = e['node'].info(e['fed'].member(REGION))
    check(r.grpc_status == 0, 'Node.Info after READY=1: %r' % r)


@test(timeout=60)
def watchdog_from_the_loop():
    e = env()
    e['mgr'].drain()
    n0 = sum('WATCHDOG=1' in m for m in e['mgr'].got)
    time.sleep(2.2)
    n1 = sum('WATCHDOG=1' in m for m in e['mgr'].drain())
    check(n1 - n0 >= 3, '%d WATCHDOG=1 in 2.2 s at a 1 s watchdog (want >= 3)' % (n1 - n0))
    # A stopped loop sends none: SIGSTOP the node for a second.
    e['node'].proc.send_signal(signal.SIGSTOP)
    e['mgr'].drain()
    before = sum('WATCHDOG=1' in m for m in e['mgr'].got)
    time.sleep(1.2)
    stopped = sum('WATCHDOG=1' in m for m in e['mgr'].drain()) - before
    e['node'].proc.send_signal(signal.SIGCONT)
    check(stopped == 0, '%d WATCHDOG=1 while the node was stopped' % stopped)


@test(timeout=60)
def reload_says_reloading_then_ready():
    e = env()
    e['mgr'].drain()
    mark = len(e['mgr'].got)
    e['node'].hup()
    msgs = e['mgr'].wait(lambda m: 'STATUS=reloaded' in m, 10, 'READY=1 after the reload')
    got = e['mgr'].got[mark:]
    i = next(i for i, m in enumerate(got) if 'RELOADING=1' in m)
    check('MONOTONIC_USEC=' in got[i], 'RELOADING=1 without MONOTONIC_USEC: %r' % got[i])
    check('READY=1' in msgs[0] and got.index(msgs[0]) > i, 'order: %r' % got)


@test(timeout=60)
def failed_reload_says_so():
    e = env()
    node = e['node']
    with open(node.cred.chain) as f:
        good = f.read()
    try:
        with open(node.cred.chain, 'w') as f:
            f.write('not a certificate\n')
        mark = len(e['mgr'].drain())
        node.proc.send_signal(signal.SIGHUP)
        m = e['mgr'].wait(lambda m: 'reload FAILED' in m, 10, 'a failed reload in STATUS')
        check('READY=1' in m[0], 'after a failed reload the node is still ready: %r' % m[0])
        check(any('RELOADING=1' in x for x in e['mgr'].got[mark:]), 'no RELOADING=1')
    finally:
        with open(node.cred.chain, 'w') as f:
            f.write(good)
    r, _ = node.info(e['fed'].member(REGION))
    check(r.grpc_status == 0, 'the node serves on after a failed reload: %r' % r)


@test(timeout=60)
def stopping_on_sigterm():
    e = env()
    e['mgr'].drain()
    e['node'].stop()
    e['mgr'].wait(lambda m: 'STOPPING=1' in m, 5, 'STOPPING=1')


if __name__ == '__main__':
    main(after_failure=at.node_log_diag(_env))

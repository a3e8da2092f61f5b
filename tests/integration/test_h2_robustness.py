"""test_h2_robustness.py -- HTTP/2 abuse over mTLS (rapid reset, header and frame floods) leaves the node serving."""

import os
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from axletest import (GRPC_OK, HOST, H2Client, H2Closed, Node, RawH2, Workspace,  # noqa: E402
                      check, grpc_stubs, main, make_federation, test, tls_connect, wait_for)
from axletest import node_log_diag, shared_env  # noqa: E402

import hyperframe.frame as hf  # noqa: E402

FEDNAME = 'fame-test'
REGION = 'uk.test'
HANDSHAKE_TIMEOUT_MS = 2000
_env = {}


@shared_env(_env)
def env():
    ws = Workspace()
    fed = make_federation(ws, FEDNAME, [REGION])
    grpc_stubs(ws)
    n = Node(ws, fed, REGION, limits={'handshake_timeout_ms': HANDSHAKE_TIMEOUT_MS})
    _env.update(ws=ws, fed=fed, member=fed.member(REGION), node=n)
    info_ok('warm-up')
    _env['rss0'] = n.rss_kib()
    _env['fd0'] = n.fd_count()


def node():
    return env()['node']


def raw_conn():
    e = env()
    n = e['node']
    # No ragged EOFs: a close without TLS close_notify shows in raw.eof_reason.
    raw = RawH2(tls_connect(n.host, n.port, e['member'].chain, e['member'].key, e['fed'].ca_pem,
                            ragged_eofs=False))
    raw.drain(0.2)		# server SETTINGS, our ACK
    check(not raw.eof, 'connection closed at once: %s' % raw.eof_reason)
    return raw


def info_ok(after):
    """A fresh client's Node.Info must succeed."""
    n = _env['node']
    check(n.alive(), 'node died after %s:\n%s' % (after, n.log_tail()))
    r, info = n.info(_env['member'])
    check(r.grpc_status == GRPC_OK and info is not None and info.region == REGION,
          'Info after %s failed: %r' % (after, r))


def flood(raw, frames_fn, count, batch=100, limit_s=10):
    """Sends count frames (frames_fn(i) -> [frames]) in batches, watching for
    GOAWAY/EOF in between; stops early once the node has given up on us.
    Returns how many were sent."""
    end = time.monotonic() + limit_s
    i = 0
    while i < count and not raw.eof and raw.goaway is None and time.monotonic() < end:
        out = []
        for j in range(i, min(count, i + batch)):
            out += frames_fn(j)
        raw.sock.settimeout(2)
        if not raw.send(*out):
            break
        i += batch
        raw.poll(0.001)
    return i


@test(timeout=60)
def rapid_reset_flood():
    raw = raw_conn()
    block = raw.request_headers(path='/healthz', method='GET')
    try:
        def pair(i):
            sid = 1 + 2 * i
            return [hf.HeadersFrame(sid, raw.block(block), flags=['END_HEADERS', 'END_STREAM']),
                    hf.RstStreamFrame(sid, error_code=8)]	# CANCEL
        before = goaways()
        sent = flood(raw, pair, 2000)
        ended_with_goaway(raw, 'rapid_reset', before, '%d HEADERS+RST_STREAM pairs' % sent)
    finally:
        raw.close()
    info_ok('rapid reset flood')


@test(timeout=60)
def oversized_header_list():
    n, e = node(), env()
    c = H2Client(tls_connect(n.host, n.port, e['member'].chain, e['member'].key, e['fed'].ca_pem))
    pads = [('x-pad-%02d' % i, chr(ord('a') + i % 26) * 1024) for i in range(64)]
    outcome = None
    try:
        try:
            r = c.grpc_unary('/axle.v1.Node/Info', b'', metadata=pads, timeout=10)
            if r.reset is not None:
                outcome = 'RST_STREAM %d' % r.reset
            elif r.status == 431:
                outcome = 'HTTP 431'
            elif r.grpc_status not in (None, GRPC_OK):
                outcome = 'grpc-status %d' % r.grpc_status
            else:
                raise AssertionError('64 KiB of headers accepted: %r' % r)
        except H2Closed as ex:
            outcome = 'connection ended: %s' % ex
        except OSError as ex:
            outcome = 'connection error: %s' % ex
    finally:
        c.close()
    check(outcome, 'no outcome')
    info_ok('oversized header list (%s)' % outcome)


ENHANCE_YOUR_CALM = 0xb


def goaways():
    m = node().metrics(env()['fed'].admin(REGION))
    return {k.split('"')[1]: v for k, v in m.items() if k.startswith('axle_h2_goaway_total{')}


def ended_with_goaway(raw, reason, before, after_what):
    """The node must end raw as docs/security.md says: a GOAWAY frame
    ENHANCE_YOUR_CALM, then TLS close_notify (a clean EOF, not a bare TCP
    close), counted once under reason in axle_h2_goaway_total."""
    end = time.monotonic() + 10
    while not raw.eof and time.monotonic() < end:
        raw.poll(0.5)
    check(raw.goaway is not None, 'no GOAWAY frame after %s (connection: %s)'
          % (after_what, raw.eof_reason or 'still open'))
    check(raw.goaway.error_code == ENHANCE_YOUR_CALM, 'GOAWAY code %d after %s, want ENHANCE_YOUR_CALM'
          % (raw.goaway.error_code, after_what))
    check(raw.eof, 'GOAWAY but the connection stayed open after %s' % after_what)
    check(raw.eof_reason == 'EOF', 'after %s the node closed without TLS close_notify (%s)'
          % (after_what, raw.eof_reason))
    after = goaways()
    moved = dict((k, after[k] - before.get(k, 0)) for k in after if after[k] != before.get(k, 0))
    check(moved == {reason: 1}, 'axle_h2_goaway_total moved by %s after %s, want {%r: 1}'
          % (moved, after_what, reason))


def _continuation_flood(payload_fn, what):
    before = goaways()
    raw = raw_conn()
    try:
        first = raw.block(raw.request_headers())
        raw.send(hf.HeadersFrame(1, first, flags=[]))		# no END_HEADERS

        def cont(i):
            return [hf.ContinuationFrame(1, payload_fn(raw, i), flags=[])]
        sent = flood(raw, cont, 200000, batch=500, limit_s=10)
        ended_with_goaway(raw, 'continuation', before, '%d %s CONTINUATION frames' % (sent, what))
    finally:
        raw.close()
    info_ok('%s CONTINUATION flood' % what)


@test(timeout=60)
def continuation_flood_with_headers():
    _continuation_flood(lambda raw, i: raw.block([('x-c-%d' % i, 'v' * 200)]), 'header-bearing')


@test(timeout=60)
def continuation_flood_empty():
    _continuation_flood(lambda raw, i: b'', 'empty')


@test(timeout=60)
def empty_data_flood():
    raw = raw_conn()
    try:
        raw.send(hf.HeadersFrame(1, raw.block(raw.request_headers()), flags=['END_HEADERS']))
        sent = flood(raw, lambda i: [hf.DataFrame(1, b'')], 5000, batch=200)
        seen = raw.wait_goaway_or_eof(10)
        check(seen, 'no GOAWAY or EOF after %d empty DATA frames' % sent)
        check(raw.goaway is not None or 'EOF' in seen, 'odd outcome %s' % seen)
    finally:
        raw.close()
    info_ok('empty DATA flood (%s)' % seen)


@test(timeout=60)
def ping_flood_unread():
    """PINGs without reading a single ACK: the node must not queue ACKs forever."""
    raw = raw_conn()
    try:
        raw.sock.settimeout(3)
        sent = 0
        while sent < 200000 and not raw.eof:
            raw.send(*[hf.PingFrame(0, opaque_data=(sent + i).to_bytes(8, 'big'))
                       for i in range(1000)])
            sent += 1000
        seen = raw.wait_goaway_or_eof(10)
        check(seen, 'no GOAWAY or EOF after %d unread PINGs' % sent)
    finally:
        raw.close()
    info_ok('unread PING flood (%s)' % seen)


@test(timeout=60)
def ping_flood():
    """PINGs faster than [limits] max_control_frames (per minute) allows, ACKs
    read: the node must give up on the connection, not answer forever."""
    raw = raw_conn()
    try:
        sent = flood(raw, lambda i: [hf.PingFrame(0, opaque_data=i.to_bytes(8, 'big'))], 20000,
                     batch=500)
        seen = raw.wait_goaway_or_eof(10)
        check(seen, 'no GOAWAY or EOF after %d PINGs' % sent)
    finally:
        raw.close()
    info_ok('PING flood (%s)' % seen)


@test(timeout=60)
def settings_flood():
    """Like ping_flood, with SETTINGS frames (each needs an ACK)."""
    raw = raw_conn()
    try:
        sent = flood(raw, lambda i: [hf.SettingsFrame(0, settings={hf.SettingsFrame.INITIAL_WINDOW_SIZE: 65535 + i % 7})],
                     20000, batch=500)
        seen = raw.wait_goaway_or_eof(10)
        check(seen, 'no GOAWAY or EOF after %d SETTINGS' % sent)
    finally:
        raw.close()
    info_ok('SETTINGS flood (%s)' % seen)


@test(timeout=60)
def silent_tcp_dropped_after_handshake_timeout():
    n = node()
    s = socket.create_connection((HOST, n.port), timeout=5)
    try:
        t0 = time.monotonic()
        s.settimeout(HANDSHAKE_TIMEOUT_MS / 1000 + 8)
        try:
            d = s.recv(1)
        except ConnectionResetError:
            d = b''
        except socket.timeout:
            raise AssertionError('silent connection still open after %.1fs' % (time.monotonic() - t0))
        check(d == b'', 'server sent %r to a silent client' % d)
        check(time.monotonic() - t0 >= HANDSHAKE_TIMEOUT_MS / 1000 * 0.5,
              'dropped too early (%.1fs)' % (time.monotonic() - t0))
    finally:
        s.close()
    info_ok('silent TCP connection')


@test(timeout=60)
def garbage_preface():
    n, e = node(), env()
    s = tls_connect(n.host, n.port, e['member'].chain, e['member'].key, e['fed'].ca_pem)
    try:
        s.sendall(b'GET / HTTP/1.1\r\nHost: x\r\n\r\n' + os.urandom(512))
        s.settimeout(10)
        got = b''
        try:
            while True:
                d = s.recv(4096)
                if not d:
                    break
                got += d
        except (OSError,) as ex:
            if isinstance(ex, socket.timeout):
                raise AssertionError('connection with a bad preface still open after 10 s')
        check(b'HTTP/1.1 200' not in got, 'answered HTTP/1.1: %r' % got[:100])
    finally:
        s.close()
    info_ok('garbage preface')


@test(timeout=90)
def resources_return_to_baseline():
    e = env()
    n = e['node']
    # churn: many short connections, some abandoned mid-request
    for i in range(60):
        c = n.connect(e['member'])
        try:
            if i % 3 == 0:
                c.start('POST', '/axle.v1.Node/Info', [('content-type', 'application/grpc')],
                        body=b'\x00\x00', end_stream=False)
            else:
                _, info = c.info()
                check(info is not None, 'Info failed during churn')
        finally:
            c.close()
    fd0, rss0 = e['fd0'], e['rss0']
    try:
        wait_for(lambda: n.fd_count() <= fd0 + 2, 15, interval=0.2,
                 what='fd count back near baseline %d' % fd0)
    except AssertionError:
        raise AssertionError('fd count %d, baseline %d: %s' % (
            n.fd_count(), fd0, sorted(os.readlink('/proc/%d/fd/%s' % (n.pid, f))
                                       for f in os.listdir('/proc/%d/fd' % n.pid))))
    rss = n.rss_kib()
    # ASan's quarantine keeps up to 256 MiB of freed memory resident.
    bound = 100 * 1024 + (300 * 1024 if n.sanitized() else 0)
    check(rss < rss0 + bound, 'RSS grew from %d KiB to %d KiB' % (rss0, rss))
    print('   fd %d (baseline %d), RSS %d KiB (baseline %d KiB)' % (n.fd_count(), fd0, rss, rss0))
    info_ok('churn')


@test(timeout=30)
def stops_cleanly():
    node().stop()


if __name__ == '__main__':
    main(after_failure=node_log_diag(_env))

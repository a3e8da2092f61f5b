"""test_h2_client_goaway.py -- a client that sends GOAWAY first (on an idle
connection, with streams open, in the middle of a response) is served to the
end and let go; the node stays up and keeps serving its other clients. Run
under ASan (make asan) and valgrind (make valgrind) it also shows that no
connection is touched after it was freed (issue 12, item 1)."""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from axletest import (GRPC_OK, Node, RawH2, Workspace, TIME_SCALE, check,  # noqa: E402
                      grpc_frame, grpc_stubs, main, make_federation, test, tls_connect)
from axletest import node_log_diag, shared_env  # noqa: E402

import hyperframe.frame as hf  # noqa: E402

FEDNAME = 'fame-test'
REGION = 'uk.test'
NO_ERROR = 0
_env = {}


@shared_env(_env)
def env():
    ws = Workspace()
    fed = make_federation(ws, FEDNAME, [REGION])
    grpc_stubs(ws)
    n = Node(ws, fed, REGION, limits={'idle_timeout_ms': 30000})
    member = fed.member(REGION)
    _env.update(ws=ws, fed=fed, member=member, node=n)
    # A client that was there before and stays: it must be served throughout.
    _env['bystander'] = n.connect(member)
    bystander_ok('warm-up')


def node():
    return env()['node']


def bystander_ok(after):
    """The node is alive, the long-lived client and a fresh one are both served."""
    e = _env
    n = e['node']
    check(n.alive(), 'node died after %s (rc %s):\n%s' % (after, n.proc.returncode, n.log_tail()))
    r, info = e['bystander'].info()
    check(r.grpc_status == GRPC_OK and info is not None and info.region == REGION,
          'the client connected before %s was not served: %r' % (after, r))
    r, info = n.info(e['member'])
    check(r.grpc_status == GRPC_OK and info is not None,
          'a new client was not served after %s: %r' % (after, r))


def raw_conn(settings=None, cred=None):
    """cred: the member unless given (/metrics, the large answer, needs an admin)."""
    e = env()
    n = e['node']
    cred = cred or e['member']
    raw = RawH2(tls_connect(n.host, n.port, cred.chain, cred.key, e['fed'].ca_pem))
    if settings:
        raw.send(hf.SettingsFrame(0, settings=settings))
    end = time.monotonic() + 10 * TIME_SCALE
    while not raw.eof and time.monotonic() < end and not any(
            isinstance(f, hf.SettingsFrame) and 'ACK' in f.flags for f in raw.frames):
        raw.poll(0.1)
    check(not raw.eof, 'connection closed at once: %s' % raw.eof_reason)
    return raw


def goaway(last_stream_id=0):
    return hf.GoAwayFrame(0, last_stream_id=last_stream_id, error_code=NO_ERROR)


def wait_eof(raw, what):
    """After a client GOAWAY with nothing left to do the node closes; within a bound."""
    end = time.monotonic() + 10 * TIME_SCALE
    while not raw.eof and time.monotonic() < end:
        raw.poll(0.2)
    check(raw.eof, '%s: the node kept the connection open after the client GOAWAY (frames %s)'
          % (what, summary(raw.frames[-6:])))


def summary(frames):
    return ' '.join('%s(%d)' % (type(f).__name__.replace('Frame', ''), f.stream_id) for f in frames)


def stream_frames(raw, sid):
    return [f for f in raw.frames if f.stream_id == sid]


def ended(raw, sid):
    return any('END_STREAM' in f.flags for f in stream_frames(raw, sid)
               if isinstance(f, (hf.DataFrame, hf.HeadersFrame)))


def wait_ended(raw, sid, what):
    end = time.monotonic() + 10 * TIME_SCALE
    while not raw.eof and not ended(raw, sid) and time.monotonic() < end:
        raw.poll(0.1)
    check(ended(raw, sid), '%s: stream %d never ended (frames %s, eof %s)'
          % (what, sid, summary(raw.frames[-8:]), raw.eof_reason))


def body_of(raw, sid):
    return b''.join(f.data for f in stream_frames(raw, sid) if isinstance(f, hf.DataFrame))


# --- idle ------------------------------------------------------------------------

@test(timeout=60)
def goaway_in_first_flight():
    """Preface, SETTINGS and GOAWAY in one write, before the node said anything."""
    e = env()
    n = e['node']
    for i in range(5):
        s = tls_connect(n.host, n.port, e['member'].chain, e['member'].key, e['fed'].ca_pem)
        raw = RawH2(s)			# sends the preface and SETTINGS
        raw.send(goaway())
        try:
            wait_eof(raw, 'GOAWAY in the first flight')
        finally:
            raw.close()
        bystander_ok('GOAWAY in the first flight (%d)' % i)


@test(timeout=60)
def goaway_on_idle_connection():
    """SETTINGS exchanged, no stream ever opened, then the client's GOAWAY."""
    for i in range(5):
        raw = raw_conn()
        try:
            raw.send(goaway())
            wait_eof(raw, 'GOAWAY on an idle connection')
        finally:
            raw.close()
        bystander_ok('GOAWAY on an idle connection (%d)' % i)


@test(timeout=60)
def goaway_after_finished_streams():
    """Some requests answered, then GOAWAY on the now idle connection."""
    raw = raw_conn()
    try:
        get = raw.request_headers(path='/healthz', method='GET')
        for sid in (1, 3, 5):
            raw.send(hf.HeadersFrame(sid, raw.block(get), flags=['END_HEADERS', 'END_STREAM']))
            wait_ended(raw, sid, 'healthz before GOAWAY')
        raw.send(goaway())
        wait_eof(raw, 'GOAWAY after finished streams')
    finally:
        raw.close()
    bystander_ok('GOAWAY after finished streams')


# --- streams open ------------------------------------------------------------------

def info_request(raw, sid, end_stream):
    return hf.HeadersFrame(sid, raw.block(raw.request_headers()),
                           flags=['END_HEADERS'] + (['END_STREAM'] if end_stream else []))


@test(timeout=60)
def goaway_with_streams_open_then_finish():
    """Two requests half sent, GOAWAY, then the rest of the requests: the
    client may still finish its own streams, and the node answers them."""
    raw = raw_conn()
    try:
        raw.send(info_request(raw, 1, False), info_request(raw, 3, False), goaway())
        raw.drain(0.3)
        check(not raw.eof, 'the node hung up on open streams after the client GOAWAY')
        body = grpc_frame(b'')
        raw.send(hf.DataFrame(1, body, flags=['END_STREAM']), hf.DataFrame(3, body, flags=['END_STREAM']))
        for sid in (1, 3):
            wait_ended(raw, sid, 'request finished after the client GOAWAY')
            trailers = [f for f in stream_frames(raw, sid) if isinstance(f, hf.HeadersFrame)]
            check(len(trailers) == 2, 'stream %d: want response headers and trailers, got %s'
                  % (sid, summary(stream_frames(raw, sid))))
        wait_eof(raw, 'GOAWAY with streams open, all finished')
    finally:
        raw.close()
    bystander_ok('GOAWAY with streams open')


@test(timeout=60)
def goaway_with_streams_open_then_hang_up():
    """Requests half sent, GOAWAY, then TCP closed under them."""
    for i in range(5):
        raw = raw_conn()
        try:
            raw.send(info_request(raw, 1, False), info_request(raw, 3, False), goaway())
            raw.drain(0.1 * (i % 3))
        finally:
            raw.close()
        bystander_ok('GOAWAY with streams open, then hang-up (%d)' % i)


@test(timeout=60)
def goaway_with_long_poll_open():
    """A Switch.Fetch long poll is in the node's hands (a handler at work) when
    the client sends GOAWAY and hangs up: the answer that comes later finds
    no connection, and nothing is touched."""
    e = env()
    stubs = grpc_stubs(e['ws'])
    req = stubs.switch_pb2.FetchRequest(max_messages=1, wait_ms=1500).SerializeToString()
    raw = raw_conn()
    try:
        hdrs = raw.request_headers(path='/axle.v1.Switch/Fetch')
        raw.send(hf.HeadersFrame(1, raw.block(hdrs), flags=['END_HEADERS']),
                 hf.DataFrame(1, grpc_frame(req), flags=['END_STREAM']),
                 goaway())
        raw.drain(0.3)
    finally:
        raw.close()
    time.sleep(2)		# the long poll ends (wait_ms) after its connection went
    bystander_ok('GOAWAY with a long poll open')


# --- mid-response -----------------------------------------------------------------

def metrics_mid_response(window):
    """GET /metrics with a stream window of `window` bytes: the answer stops
    after that much DATA. Returns the RawH2 and the stream id."""
    raw = raw_conn(settings={hf.SettingsFrame.INITIAL_WINDOW_SIZE: window},
                   cred=env()['fed'].admin(REGION))
    get = raw.request_headers(path='/metrics', method='GET')
    raw.send(hf.HeadersFrame(1, raw.block(get), flags=['END_HEADERS', 'END_STREAM']))
    end = time.monotonic() + 10 * TIME_SCALE
    while not raw.eof and len(body_of(raw, 1)) < window and time.monotonic() < end:
        raw.poll(0.1)
    check(len(body_of(raw, 1)) == window and not ended(raw, 1),
          'the /metrics answer did not stop at the %d-byte window: %d bytes, frames %s'
          % (window, len(body_of(raw, 1)), summary(raw.frames)))
    return raw, 1


@test(timeout=60)
def goaway_mid_response_then_read_it_all():
    """GOAWAY while the node's answer waits on the client's window, then the
    window opens: the whole answer arrives, then the node closes."""
    raw, sid = metrics_mid_response(100)
    try:
        raw.send(goaway())
        raw.drain(0.3)
        check(not raw.eof, 'the node dropped a response in flight after the client GOAWAY')
        # The stream's window and the connection's: /metrics is larger than
        # the connection's initial 65,535 bytes (histograms for every method).
        raw.send(hf.WindowUpdateFrame(sid, window_increment=1 << 24))
        raw.send(hf.WindowUpdateFrame(0, window_increment=1 << 24))
        wait_ended(raw, sid, 'response after the client GOAWAY')
        text = body_of(raw, sid).decode(errors='replace')
        check('axle_connections_open' in text, 'incomplete /metrics answer: %d bytes' % len(text))
        wait_eof(raw, 'GOAWAY mid-response, answer read')
    finally:
        raw.close()
    bystander_ok('GOAWAY mid-response')


@test(timeout=60)
def goaway_mid_response_then_hang_up():
    """GOAWAY mid-response, then TCP closed with the answer unsent."""
    for i in range(5):
        raw, _ = metrics_mid_response(100 + i)
        try:
            raw.send(goaway())
            raw.drain(0.1 * (i % 3))
        finally:
            raw.close()
        bystander_ok('GOAWAY mid-response, then hang-up (%d)' % i)


@test(timeout=60)
def goaway_while_node_writes():
    """GOAWAY while the node is still pushing a large answer out (window wide
    open, the client not reading): the connection ends cleanly either way."""
    for i in range(3):
        raw = raw_conn(settings={hf.SettingsFrame.INITIAL_WINDOW_SIZE: 2 ** 31 - 1},
                       cred=env()['fed'].admin(REGION))
        try:
            raw.send(hf.WindowUpdateFrame(0, window_increment=2 ** 31 - 1 - 65535))
            get = raw.request_headers(path='/metrics', method='GET')
            raw.send(*[hf.HeadersFrame(1 + 2 * k, raw.block(get), flags=['END_HEADERS', 'END_STREAM'])
                       for k in range(6)], goaway(0))
            raw.drain(0.05 * i)
        finally:
            raw.close()
        bystander_ok('GOAWAY while the node writes (%d)' % i)


@test(timeout=60)
def stops_cleanly():
    bystander_ok('everything')
    env()['bystander'].close()
    node().stop()


if __name__ == '__main__':
    main(after_failure=node_log_diag(_env))

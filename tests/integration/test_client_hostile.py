"""test_client_hostile.py -- gateway/net/client.c (through axlectl and loadgen) against a scripted,
misbehaving HTTP/2 server: trailers-only errors, resets, refused streams and retry, GOAWAY,
bad gRPC frames, oversize declarations, garbage bytes, hangs and deadlines.

Each case sets the server's mode, runs the tool, and checks its exit status, its message and
what the server saw (requests, RST_STREAM codes, connections).
"""

import os
import re
import socket
import ssl
import subprocess
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import axletest as at  # noqa: E402

import h2.config  # noqa: E402
import h2.connection  # noqa: E402
import h2.errors  # noqa: E402
import h2.events  # noqa: E402

GRPC_CT = ('content-type', 'application/grpc')
# InfoResponse{federation: "fame-test", region: "uk.test"}
INFO = b'\x0a\x09fame-test\x12\x07uk.test'


def frame(msg, flag=0):
    return bytes([flag]) + len(msg).to_bytes(4, 'big') + msg


class Server:
    """TLS h2 on 127.0.0.1 with the node's certificate; behaviour per self.mode."""

    def __init__(self, cred):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(cred.chain, cred.key)
        ctx.set_alpn_protocols(['h2'])
        self.ctx = ctx
        self.lsock = socket.socket()
        self.lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.lsock.bind((at.HOST, 0))
        self.lsock.listen(16)
        self.port = self.lsock.getsockname()[1]
        self.reset('ok')
        threading.Thread(target=self.accept_loop, daemon=True).start()

    def reset(self, mode):
        self.mode = mode
        self.requests = []
        self.resets = []
        self.conns = 0

    def accept_loop(self):
        while True:
            raw, _ = self.lsock.accept()
            threading.Thread(target=self.serve, args=(raw,), daemon=True).start()

    def serve(self, raw):
        try:
            raw.settimeout(20)
            sock = self.ctx.wrap_socket(raw, server_side=True)
        except (OSError, ssl.SSLError):
            raw.close()
            return
        self.conns += 1
        try:
            if self.mode == 'garbage':
                sock.sendall(b'HTTP/1.1 200 OK\r\n\r\n' + os.urandom(512))
                sock.recv(65536)
                return
            self.serve_h2(sock)
        except (OSError, ssl.SSLError, h2.exceptions.ProtocolError):
            pass
        finally:
            sock.close()

    def serve_h2(self, sock):
        conn = h2.connection.H2Connection(config=h2.config.H2Configuration(
            client_side=False, header_encoding='utf-8'))
        conn.initiate_connection()
        sock.sendall(conn.data_to_send())
        while True:
            data = sock.recv(65536)
            if not data:
                return
            for ev in conn.receive_data(data):
                if isinstance(ev, h2.events.RequestReceived):
                    self.requests.append(dict(ev.headers))
                elif isinstance(ev, h2.events.DataReceived):
                    conn.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
                elif isinstance(ev, h2.events.StreamReset):
                    self.resets.append(int(ev.error_code))
                elif isinstance(ev, h2.events.StreamEnded):
                    if self.respond(conn, ev.stream_id, sock) == 'close':
                        sock.sendall(conn.data_to_send())
                        return
            out = conn.data_to_send()
            if out:
                sock.sendall(out)

    def respond(self, conn, sid, sock):
        m = self.mode
        ok_hdrs = [(':status', '200'), GRPC_CT]
        if m == 'health':
            conn.send_headers(sid, [(':status', '200'), ('content-type', 'text/plain')])
            for part in (b'o', b'k', b'\n'):
                conn.send_data(sid, part)
            conn.end_stream(sid)
        elif m in ('ok_split', 'refuse_once'):
            if m == 'refuse_once' and len(self.requests) == 1:
                conn.reset_stream(sid, h2.errors.ErrorCodes.REFUSED_STREAM)
                return None
            conn.send_headers(sid, ok_hdrs)
            for b in frame(INFO):		# one byte per DATA frame
                conn.send_data(sid, bytes([b]))
            conn.send_headers(sid, [('grpc-status', '0')], end_stream=True)
        elif m == 'trailers_only':
            conn.send_headers(sid, ok_hdrs + [('grpc-status', '7'),
                                              ('grpc-message', 'not%20yours%1B[31m')],
                              end_stream=True)
        elif m == 'hang':
            pass
        elif m == 'no_status':
            conn.send_headers(sid, ok_hdrs)
            conn.send_data(sid, frame(INFO), end_stream=True)
        elif m == 'refuse':
            conn.reset_stream(sid, h2.errors.ErrorCodes.REFUSED_STREAM)
        elif m == 'rst_internal':
            conn.reset_stream(sid, h2.errors.ErrorCodes.INTERNAL_ERROR)
        elif m in ('compressed', 'too_big', 'bad_pb', 'two_msgs', 'half_msg'):
            body = {'compressed': frame(INFO, 1),
                    'too_big': b'\x00\x7f\xff\xff\xff' + b'x' * 100,
                    'bad_pb': frame(b'\xff\xff\xff\xff'),
                    'two_msgs': frame(INFO) + frame(INFO),
                    'half_msg': frame(INFO)[:-3]}[m]
            conn.send_headers(sid, ok_hdrs)
            conn.send_data(sid, body)
            conn.send_headers(sid, [('grpc-status', '0')], end_stream=True)
        elif m == 'http_503':
            conn.send_headers(sid, [(':status', '503')], end_stream=True)
        elif m == 'goaway':
            conn.close_connection(last_stream_id=0)
            return 'close'
        elif m == 'close':
            return 'close'
        return None


def tool(args, timeout=20):
    return subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          timeout=timeout * at.TIME_SCALE, universal_newlines=True)


def main():
    ws = at.Workspace('axle-it-client-')
    fed = at.make_federation(ws)
    srv = Server(fed.node('uk.test'))
    adm = fed.admin('uk.test')
    ident = ['--cert', adm.cert, '--key', adm.key, '--trust', fed.trust_dir,
             '--federation', 'fame-test']
    # Under AXLE_WRAP (valgrind) the tool itself is slow: its deadline scales too.
    deadline = str(int(3000 * at.TIME_SCALE))
    ctl = at.WRAP + [os.path.join(at.BUILD, 'axlectl')] + ident + [
        '--server', '%s:%d' % (at.HOST, srv.port), '--timeout', deadline]
    failures = []
    passed = 0

    def case(mode, args, rc, pattern, after=None):
        nonlocal passed
        srv.reset(mode)
        try:
            cp = tool(ctl + args)
            out = cp.stdout + cp.stderr
            at.check(cp.returncode == rc, 'exit %d, want %d' % (cp.returncode, rc))
            at.check(re.search(pattern, out, re.M), 'no /%s/' % pattern)
            at.check('\x1b' not in out, 'terminal escape passed through')
            if after:
                after(cp)
            passed += 1
            print('ok   %s' % mode)
        except (at.TestFailure, subprocess.TimeoutExpired) as e:
            failures.append(mode)
            print('FAIL %s: %s\n%s' % (mode, e, locals().get('out', '')))

    def saw(**want):
        def check(cp):
            got = {'requests': len(srv.requests), 'conns': srv.conns}
            for k, v in want.items():
                at.check(got[k] == v, '%s=%s, want %s' % (k, got[k], v))
        return check

    def request_headers(cp):
        h = srv.requests[0]
        at.check(h.get(':method') == 'POST' and h.get(':path') == '/axle.v1.Node/Info', str(h))
        at.check(h.get('content-type') == 'application/grpc' and h.get('te') == 'trailers', str(h))
        # gRPC's grammar: at most 8 digits and a unit (a scaled deadline may be "1M").
        at.check(re.match(r'^\d{1,8}[HMSmun]$', h.get('grpc-timeout', '')), 'grpc-timeout %r' % h)
        at.check(h.get(':authority') == '%s:%d' % (at.HOST, srv.port), str(h))

    def cancelled(cp):
        at.wait_for(lambda: 8 in srv.resets, 5, what='RST_STREAM CANCEL at the server')

    case('ok_split', ['--json', 'info'], 0, r'"region": "uk.test"', request_headers)
    case('health', ['health'], 0, r'^ok$')
    case('trailers_only', ['info'], 1, r'^axlectl: info: PERMISSION_DENIED: not yours\?\[31m$')
    srv_timeout = ctl.index('--timeout') + 1
    ctl[srv_timeout] = '700'
    case('hang', ['info'], 1, r'^axlectl: info: DEADLINE_EXCEEDED: deadline exceeded$', cancelled)
    ctl[srv_timeout] = deadline
    case('no_status', ['info'], 1, r'INTERNAL: stream closed without grpc-status')
    case('refuse', ['info'], 1, r'UNAVAILABLE: stream reset by server: REFUSED_STREAM',
         saw(requests=2))
    case('refuse_once', ['info'], 0, r'^region +uk.test$', saw(requests=2, conns=1))
    case('rst_internal', ['info'], 1, r'UNAVAILABLE: stream reset by server: INTERNAL_ERROR')
    case('compressed', ['info'], 1, r'INTERNAL: compressed response message')
    case('too_big', ['info'], 1, r'RESOURCE_EXHAUSTED: response message over 64 MiB')
    case('bad_pb', ['info'], 1, r'axlectl: info: INTERNAL: ')
    case('two_msgs', ['info'], 1, r'INTERNAL: unary call answered with 2 messages')
    case('half_msg', ['info'], 1, r'INTERNAL: stream ended inside a message')
    case('http_503', ['info'], 1, r'UNAVAILABLE: HTTP status 503 without grpc-status')
    case('goaway', ['info'], 1, r'axlectl: info: UNAVAILABLE: ', saw(conns=2))
    case('close', ['info'], 1, r'axlectl: info: UNAVAILABLE: ')
    case('garbage', ['info'], 1, r'UNAVAILABLE: HTTP/2 protocol error')

    # Many streams on a few connections, responses in 1-byte DATA frames.
    srv.reset('ok_split')
    lg = [os.path.join(at.BUILD, 'loadgen')] + ident + [
        '--server', '%s:%d' % (at.HOST, srv.port), '--conns', '3', '--streams', '8',
        '--requests', '300', '--duration-s', '20', '--grpc', '/axle.v1.Node/Info']
    cp = tool(lg, timeout=60)
    if cp.returncode == 0 and re.search(r'^requests=300 ok=300 errors=0 ', cp.stdout, re.M) \
            and srv.conns == 3:
        passed += 1
        print('ok   loadgen 3x8: %s' % cp.stdout.strip())
    else:
        failures.append('loadgen')
        print('FAIL loadgen (conns=%d): %s %s' % (srv.conns, cp.stdout, cp.stderr))

    print('%d passed, %d failed, 0 skipped' % (passed, len(failures)))
    return 1 if failures else 0


if __name__ == '__main__':
    sys.exit(main())

"""test_interop_grpcio.py -- a stock gRPC client (Debian's grpcio) talks to axled with generated stubs."""

import os
import sys
import time
from concurrent import futures

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from axletest import (Node, Workspace, check, grpc_stubs, main,  # noqa: E402
                      make_federation, test)
from axletest import node_log_diag, shared_env  # noqa: E402

import grpc  # noqa: E402

FEDNAME = 'fame-test'
REGION = 'uk.test'
_env = {}


@shared_env(_env)
def env():
    ws = Workspace()
    fed = make_federation(ws, FEDNAME, [REGION])
    _env.update(ws=ws, fed=fed, stubs=grpc_stubs(ws))
    _env['node'] = Node(ws, fed, REGION)


def _read(path):
    with open(path, 'rb') as f:
        return f.read()


def channel(cred, target=None, options=()):
    """A grpcio secure channel to the node as cred (None: no client cert)."""
    e = env()
    kw = {'root_certificates': _read(e['fed'].ca_pem)}
    if cred is not None:
        kw.update(private_key=_read(cred.key), certificate_chain=_read(cred.chain))
    creds = grpc.ssl_channel_credentials(**kw)
    return grpc.secure_channel(target or 'localhost:%d' % e['node'].port, creds,
                               options=list(options))


def _check_info(resp, role, caller=None):
    check(resp.federation == FEDNAME, 'federation %r' % resp.federation)
    check(resp.region == REGION, 'region %r' % resp.region)
    check(resp.version, 'empty version')
    check(resp.uptime_seconds < 3600, 'uptime_seconds %d' % resp.uptime_seconds)
    check(resp.boot_count >= 1, 'boot_count %d' % resp.boot_count)
    check(resp.caller_role == role, 'caller_role %r' % resp.caller_role)
    if caller:
        check(resp.caller == caller, 'caller %r, want %r' % (resp.caller, caller))


@test
def info_over_localhost():
    e = env()
    pb, pbg = e['stubs'].node_pb2, e['stubs'].node_pb2_grpc
    with channel(e['fed'].member(REGION)) as ch:
        grpc.channel_ready_future(ch).result(timeout=10)
        resp = pbg.NodeStub(ch).Info(pb.InfoRequest(), timeout=10)
    _check_info(resp, 'member', 'axle://%s/member/%s.hub' % (FEDNAME, REGION))


@test
def info_over_ip_as_admin():
    # The node cert carries IP:127.0.0.1 too: grpcio verifies it by IP.
    e = env()
    pb, pbg = e['stubs'].node_pb2, e['stubs'].node_pb2_grpc
    with channel(e['fed'].admin(REGION), target='127.0.0.1:%d' % e['node'].port) as ch:
        resp = pbg.NodeStub(ch).Info(pb.InfoRequest(), timeout=10)
    _check_info(resp, 'admin')
    check(resp.caller.startswith('axle://%s/admin/%s/' % (FEDNAME, REGION)), 'caller %r' % resp.caller)


@test
def unknown_method_unimplemented():
    e = env()
    with channel(e['fed'].member(REGION)) as ch:
        nope = ch.unary_unary('/axle.v1.Node/Nope', request_serializer=lambda b: b,
                              response_deserializer=lambda b: b)
        try:
            nope(b'', timeout=10)
            raise AssertionError('unknown method answered OK')
        except grpc.RpcError as err:
            check(err.code() == grpc.StatusCode.UNIMPLEMENTED,
                  'want UNIMPLEMENTED, got %s %r' % (err.code(), err.details()))


@test
def tiny_deadline_does_not_hang():
    e = env()
    pb, pbg = e['stubs'].node_pb2, e['stubs'].node_pb2_grpc
    with channel(e['fed'].member(REGION)) as ch:
        stub = pbg.NodeStub(ch)
        stub.Info(pb.InfoRequest(), timeout=10)		# connected: the deadline is the call's
        for _ in range(20):
            t0 = time.monotonic()
            try:
                stub.Info(pb.InfoRequest(), timeout=0.001)
            except grpc.RpcError as err:
                check(err.code() == grpc.StatusCode.DEADLINE_EXCEEDED,
                      'want DEADLINE_EXCEEDED or OK, got %s %r' % (err.code(), err.details()))
            check(time.monotonic() - t0 < 5, '1 ms deadline call took %.1fs' % (time.monotonic() - t0))
        resp = stub.Info(pb.InfoRequest(), timeout=10)	# channel still good
    _check_info(resp, 'member')


@test
def many_concurrent_calls():
    e = env()
    pb, pbg = e['stubs'].node_pb2, e['stubs'].node_pb2_grpc
    with channel(e['fed'].member(REGION)) as ch:
        stub = pbg.NodeStub(ch)
        calls = [stub.Info.future(pb.InfoRequest(), timeout=20) for _ in range(200)]
        done = [c.result() for c in calls]
    check(len(done) == 200 and all(r.region == REGION for r in done), 'concurrent Info calls failed')


@test
def many_channels_in_threads():
    e = env()
    pb, pbg = e['stubs'].node_pb2, e['stubs'].node_pb2_grpc

    def one(_):
        with channel(e['fed'].member(REGION)) as ch:
            return pbg.NodeStub(ch).Info(pb.InfoRequest(), timeout=20).caller_role
    with futures.ThreadPoolExecutor(8) as ex:
        roles = list(ex.map(one, range(24)))
    check(roles == ['member'] * 24, 'roles %r' % roles)


@test
def no_client_cert_unavailable():
    e = env()
    pb, pbg = e['stubs'].node_pb2, e['stubs'].node_pb2_grpc
    with channel(None) as ch:
        try:
            pbg.NodeStub(ch).Info(pb.InfoRequest(), timeout=5)
            raise AssertionError('Info answered without a client certificate')
        except grpc.RpcError as err:
            check(err.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED,
                                 grpc.StatusCode.UNAUTHENTICATED),
                  'unexpected code %s %r' % (err.code(), err.details()))


@test
def node_alive_and_stops():
    n = env()['node']
    check(n.alive(), 'node died: %s' % n.log_tail())
    n.stop()


if __name__ == '__main__':
    main(after_failure=node_log_diag(_env))

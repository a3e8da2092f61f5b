"""test_grpc_health_reflection.py -- the standard gRPC health and reflection
services, asked by a client that is not axle's: Debian's grpcio with stubs
generated from the standard protos (grpc.health.v1, grpc.reflection.v1), and
axle's own services called through descriptors fetched by reflection alone
(no axle proto in the client)."""

import os
import queue
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from axletest import (PY, TOP, Node, Workspace, check, main,  # noqa: E402
                      make_federation, run, test)
from axletest import node_log_diag, shared_env  # noqa: E402

import grpc  # noqa: E402
from google.protobuf import descriptor_pb2, descriptor_pool  # noqa: E402
from google.protobuf import message_factory  # noqa: E402

FEDNAME = 'fame-test'
REGION = 'uk.test'
REFLECT_V1 = '/grpc.reflection.v1.ServerReflection/ServerReflectionInfo'
REFLECT_V1ALPHA = '/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo'
_env = {}


def standard_stubs(ws):
    """grpc_tools generates the messages of the two standard protos (only
    those) into ws; loaded by path, since their package name `grpc` is
    grpcio's own module."""
    import importlib.util
    out = ws.mkdir('std')
    run([PY, '-m', 'grpc_tools.protoc', '-I', 'proto', '--python_out=' + out,
         'grpc/health/v1/health.proto', 'grpc/reflection/v1/reflection.proto'], cwd=TOP)
    mods = []
    for rel in ('grpc/health/v1/health_pb2.py', 'grpc/reflection/v1/reflection_pb2.py'):
        spec = importlib.util.spec_from_file_location(os.path.basename(rel)[:-3],
                                                      os.path.join(out, rel))
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        mods.append(mod)
    return mods


class HealthStub:
    """grpc.health.v1.Health on a channel, as its generated stub would be."""

    def __init__(self, ch):
        h = env()['h']
        ser, de = h.HealthCheckRequest.SerializeToString, h.HealthCheckResponse.FromString
        self.Check = ch.unary_unary('/grpc.health.v1.Health/Check', request_serializer=ser,
                                    response_deserializer=de)
        self.Watch = ch.unary_stream('/grpc.health.v1.Health/Watch', request_serializer=ser,
                                     response_deserializer=de)


@shared_env(_env)
def env():
    ws = Workspace()
    fed = make_federation(ws, FEDNAME, [REGION])
    h, r = standard_stubs(ws)
    _env.update(ws=ws, fed=fed, h=h, r=r)
    _env['node'] = Node(ws, fed, REGION)


def _read(path):
    with open(path, 'rb') as f:
        return f.read()


def channel(cred, node=None):
    e = env()
    creds = grpc.ssl_channel_credentials(root_certificates=_read(e['fed'].ca_pem),
                                         private_key=_read(cred.key),
                                         certificate_chain=_read(cred.chain))
    return grpc.secure_channel('localhost:%d' % (node or e['node']).port, creds)


def expect_code(fn, code):
    try:
        fn()
    except grpc.RpcError as err:
        check(err.code() == code, 'want %s, got %s %r' % (code, err.code(), err.details()))
        return err
    raise AssertionError('answered OK; want %s' % code)


class Reflector:
    """One ServerReflectionInfo stream, asked one request at a time: each
    request is sent only after the answer to the one before arrived, as
    interactive clients do (the node must answer before the stream ends)."""

    def __init__(self, ch, path=REFLECT_V1):
        r = env()['r']
        self.r = r
        self.q = queue.Queue()
        call = ch.stream_stream(path, request_serializer=r.ServerReflectionRequest.SerializeToString,
                                response_deserializer=r.ServerReflectionResponse.FromString)
        self.answers = call(iter(self.q.get, None), timeout=30)

    def ask(self, **kw):
        self.q.put(self.r.ServerReflectionRequest(host='localhost', **kw))
        return next(self.answers)

    def close(self):
        self.q.put(None)
        return list(self.answers)


@test
def health_check_node_and_services():
    e = env()
    h = e['h']
    serving = h.HealthCheckResponse.SERVING
    for cred in (e['fed'].member(REGION), e['fed'].admin(REGION), e['fed'].node(REGION)):
        with channel(cred) as ch:
            stub = HealthStub(ch)
            for svc in ('', 'axle.v1.Switch', 'axle.v1.Registry', 'axle.v1.Node',
                        'grpc.health.v1.Health', 'grpc.reflection.v1.ServerReflection'):
                got = stub.Check(h.HealthCheckRequest(service=svc), timeout=10).status
                check(got == serving, '%r as %s: status %d, want SERVING' % (svc, cred, got))
            err = expect_code(lambda: stub.Check(h.HealthCheckRequest(service='axle.v1.Nope'),
                                                 timeout=10), grpc.StatusCode.NOT_FOUND)
            check('axle.v1.Nope' in err.details(), 'message %r' % err.details())


@test
def health_watch_follows_drain():
    # Its own node: the test stops it.
    e = env()
    h = e['h']
    node = Node(e['ws'], e['fed'], REGION, name='watched')
    try:
        with channel(e['fed'].member(REGION), node) as ch:
            stub = HealthStub(ch)
            unknown = stub.Watch(h.HealthCheckRequest(service='no.such.Service'), timeout=60)
            first = next(unknown)
            check(first.status == h.HealthCheckResponse.SERVICE_UNKNOWN,
                  'unknown service: status %d, want SERVICE_UNKNOWN' % first.status)
            watch = stub.Watch(h.HealthCheckRequest(service=''), timeout=60)
            check(next(watch).status == h.HealthCheckResponse.SERVING, 'first status not SERVING')
            # SIGTERM: the node drains; the watch says so, then ends.
            stopper = threading.Thread(target=node.stop, kwargs={'timeout': 30})
            stopper.start()
            got = next(watch)
            check(got.status == h.HealthCheckResponse.NOT_SERVING,
                  'after SIGTERM: status %d, want NOT_SERVING' % got.status)
            expect_code(lambda: next(watch), grpc.StatusCode.UNAVAILABLE)
            stopper.join(30)
    finally:
        if node.alive():
            node.kill()


@test
def reflection_lists_and_describes_on_one_stream():
    e = env()
    with channel(e['fed'].member(REGION)) as ch:
        rf = Reflector(ch)
        ans = rf.ask(list_services='')
        names = {s.name for s in ans.list_services_response.service}
        for want in ('axle.v1.Node', 'axle.v1.Switch', 'axle.v1.Registry', 'axle.v1.Recourse',
                     'grpc.health.v1.Health', 'grpc.reflection.v1.ServerReflection'):
            check(want in names, '%s not listed: %r' % (want, sorted(names)))
        check(ans.valid_host == 'localhost' and ans.original_request.list_services == '',
              'original request not echoed: %r' % ans)
        # A symbol: its file and every file it imports, enough for a descriptor pool.
        ans = rf.ask(file_containing_symbol='axle.v1.Switch.Send')
        files = [descriptor_pb2.FileDescriptorProto.FromString(b)
                 for b in ans.file_descriptor_response.file_descriptor_proto]
        check(files and files[0].name == 'axle/v1/switch.proto',
              'first file %r' % [f.name for f in files])
        pool = descriptor_pool.DescriptorPool()
        pending = list(files)
        while pending:		# dependencies first
            f = pending.pop(0)
            if all(_has_file(pool, d) for d in f.dependency):
                pool.Add(f)
            else:
                pending.append(f)
        check(pool.FindMethodByName('axle.v1.Switch.Send').input_type.full_name,
              'Send has no input type')
        # By file name, a nested or plain message, and misses (the stream goes on).
        ans = rf.ask(file_by_filename='axle/v1/node.proto')
        check(len(ans.file_descriptor_response.file_descriptor_proto) >= 1, 'node.proto: %r' % ans)
        ans = rf.ask(file_containing_symbol='axle.v1.NoSuchThing')
        check(ans.error_response.error_code == grpc.StatusCode.NOT_FOUND.value[0],
              'unknown symbol: %r' % ans)
        ans = rf.ask(file_by_filename='nope.proto')
        check(ans.error_response.error_code == grpc.StatusCode.NOT_FOUND.value[0],
              'unknown file: %r' % ans)
        ans = rf.ask(all_extension_numbers_of_type='axle.v1.InfoRequest')
        check(ans.all_extension_numbers_response.base_type_name == 'axle.v1.InfoRequest' and
              not ans.all_extension_numbers_response.extension_number, 'extensions: %r' % ans)
        ans = rf.ask()
        check(ans.error_response.error_code == grpc.StatusCode.INVALID_ARGUMENT.value[0],
              'empty request: %r' % ans)
        check(rf.close() == [], 'answers after the last request')


def _has_file(pool, name):
    try:
        pool.FindFileByName(name)
        return True
    except KeyError:
        return False


@test
def call_axle_by_reflection_alone():
    """Node.Info called with message classes built from reflected descriptors."""
    e = env()
    with channel(e['fed'].member(REGION)) as ch:
        rf = Reflector(ch, REFLECT_V1ALPHA)	# the older name answers too
        ans = rf.ask(file_containing_symbol='axle.v1.Node')
        rf.close()
        pool = descriptor_pool.DescriptorPool()
        protos = [descriptor_pb2.FileDescriptorProto.FromString(b)
                  for b in ans.file_descriptor_response.file_descriptor_proto]
        for f in reversed(protos):
            if not _has_file(pool, f.name):
                pool.Add(f)
        m = pool.FindMethodByName('axle.v1.Node.Info')
        factory = message_factory.MessageFactory(pool)
        req_cls = factory.GetPrototype(m.input_type)
        resp_cls = factory.GetPrototype(m.output_type)
        info = ch.unary_unary('/axle.v1.Node/Info', request_serializer=req_cls.SerializeToString,
                              response_deserializer=resp_cls.FromString)(req_cls(), timeout=10)
    check(info.region == REGION and info.caller_role == 'member', 'Info: %r' % info)


@test
def reflection_for_members_and_admins_only():
    e = env()
    with channel(e['fed'].admin(REGION)) as ch:
        rf = Reflector(ch)
        check(rf.ask(list_services='').list_services_response.service, 'admin: no services')
        rf.close()
    with channel(e['fed'].node(REGION)) as ch:
        rf = Reflector(ch)
        err = expect_code(lambda: rf.ask(list_services=''), grpc.StatusCode.PERMISSION_DENIED)
        check(err.details(), 'refusal without a reason')


@test
def reflection_many_requests_one_stream():
    # Sent all at once without waiting: answered in order, one each.
    e = env()
    r = e['r']
    reqs = [r.ServerReflectionRequest(file_by_filename='axle/v1/common.proto')
            for _ in range(200)]
    with channel(e['fed'].member(REGION)) as ch:
        call = ch.stream_stream(REFLECT_V1, request_serializer=r.ServerReflectionRequest.SerializeToString,
                                response_deserializer=r.ServerReflectionResponse.FromString)
        answers = list(call(iter(reqs), timeout=30))
    check(len(answers) == 200, '%d answers for 200 requests' % len(answers))
    check(all(a.file_descriptor_response.file_descriptor_proto for a in answers), 'an answer is empty')


@test
def node_alive_and_stops():
    n = env()['node']
    check(n.alive(), 'node died: %s' % n.log_tail())
    n.stop()


if __name__ == '__main__':
    main(after_failure=node_log_diag(_env))

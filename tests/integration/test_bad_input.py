"""test_bad_input.py -- every served gRPC method fed hostile requests: each gets a clear status, the node never crashes.

Methods come from the generated stubs' service descriptors (authz_table.py), so
a new RPC gets these cases automatically; each call is made as a role its
authz rule admits, so the request reaches the decoder and the handler.
"""

import os
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from axletest import (GRPC_OK, GRPC_RESOURCE_EXHAUSTED, H2Closed, Node,  # noqa: E402
                      Workspace, check, grpc_frame, grpc_stubs, main, make_federation, test)
from axletest import shared_env  # noqa: E402
from authz_table import ALLOWED, RULES, served_methods  # noqa: E402
from google.protobuf import descriptor as _d  # noqa: E402

FEDNAME = 'fame-test'
REGION = 'uk.test'
OTHER = 'fr.test'
MAX_MSG = 65536			# [limits] max_message_size for the node under test
ADDRESS_FIELDS = {'address', 'to', 'sender', 'prefix', 'prefixes', 'region', 'redirect_to'}
# ('' is proto3's "not given", not malformed; "axle://" parses as the
# identifier axle + local id "//", so neither is here.)
BAD_ADDRESSES = ['uk.test:', ':local', 'uk..test', '.uk.test', 'UK TEST', 'uk.test/../../etc',
                 'a' * 4000, 'uk.test\x00hidden', 'uk.test.\u202ehub', '%2e%2e']
_env = {}


@shared_env(_env)
def env():
    ws = Workspace()
    fed = make_federation(ws, FEDNAME, [REGION, OTHER])
    stubs = grpc_stubs(ws)
    creds = {'member_here': fed.member(REGION), 'member_other': fed.member(OTHER),
             'admin_here': fed.admin(REGION), 'admin_other': fed.admin(OTHER),
             'peer_node': fed.node(OTHER)}
    _env.update(ws=ws, fed=fed, stubs=stubs, creds=creds, clients={},
                methods=served_methods(stubs))
    _env['node'] = Node(ws, fed, REGION, limits={'max_message_size': MAX_MSG})


def role_for(method):
    for role in ('admin_here', 'member_here', 'peer_node'):
        if role in ALLOWED[RULES[method]]:
            return role
    raise AssertionError('no admitted role for %s' % method)


def client(role):
    e = env()
    c = e['clients'].get(role)
    if c is None or c.eof or c.goaway is not None:
        if c is not None:
            c.close()
        c = e['clients'][role] = e['node'].connect(e['creds'][role])
    return c


def raw_call(method, body, timeout=6):
    """Sends body (already gRPC-framed or not) as the request of method.
    Returns (status or None if a server stream stayed open, message, Response)."""
    c = client(role_for(method))
    sid = c.start('POST', method, [('content-type', 'application/grpc'), ('te', 'trailers'),
                                   ('grpc-timeout', '2S')], body)
    st = c.streams[sid]
    deadline = time.monotonic() + timeout
    while not st.ended and time.monotonic() < deadline:
        if st.status is not None and st.header('grpc-status') is None and st.body:
            break
        if not c.pump(0.2):
            break
    return st.grpc_status, st.grpc_message, st


def varint(n):
    out = b''
    while True:
        b = n & 0x7f
        n >>= 7
        if n:
            out += bytes([b | 0x80])
        else:
            return out + bytes([b])


def key(num, wt):
    return varint((num << 3) | wt)


WIRE = {_d.FieldDescriptor.TYPE_DOUBLE: 1, _d.FieldDescriptor.TYPE_FIXED64: 1,
        _d.FieldDescriptor.TYPE_SFIXED64: 1, _d.FieldDescriptor.TYPE_FLOAT: 5,
        _d.FieldDescriptor.TYPE_FIXED32: 5, _d.FieldDescriptor.TYPE_SFIXED32: 5,
        _d.FieldDescriptor.TYPE_STRING: 2, _d.FieldDescriptor.TYPE_BYTES: 2,
        _d.FieldDescriptor.TYPE_MESSAGE: 2}


def wire_type(f):
    return WIRE.get(f.type, 0)


def wrong_wire(f):
    """One encoded field f with a wire type other than its declared one."""
    if wire_type(f) == 2:
        return key(f.number, 5) + b'\x01\x02\x03\x04'		# fixed32 where bytes expected
    return key(f.number, 2) + varint(3) + b'abc'		# bytes where a scalar expected


def msg_class(stubs, desc):
    from google.protobuf import message_factory
    try:
        return message_factory.GetMessageClass(desc)
    except AttributeError:
        return message_factory.MessageFactory().GetPrototype(desc)


def expect_status(what, status, msg, st, allow_ok=False):
    """A finished call with a status; non-OK unless allow_ok; a message with it."""
    if status is None and st.ended is False and allow_ok:
        return None		# a server stream that accepted the request
    if status is None:
        return '%s: no grpc-status (%r)' % (what, st)
    if status == GRPC_OK and not allow_ok:
        return '%s: OK, want an error status' % what
    if status != GRPC_OK and not msg:
        return '%s: status %d without a grpc-message' % (what, status)
    return None


def run_cases(name, make_cases):
    """make_cases(method, desc) yields (label, body, allow_ok); all bad results
    are collected, then the node must still be alive and answer Info."""
    e = env()
    bad, n_cases = [], 0
    for m, md in sorted(e['methods'].items()):
        for label, body, allow_ok in make_cases(m, md):
            n_cases += 1
            what = '%s %s' % (m, label)
            try:
                status, msg, st = raw_call(m, body)
            except H2Closed as ex:
                bad.append('%s: connection lost: %s' % (what, ex))
                continue
            err = expect_status(what, status, msg, st, allow_ok)
            if err:
                bad.append(err)
            check(e['node'].alive(), 'node died after %s: %s' % (what, e['node'].log_tail()))
    node_healthy()
    print('   %s: %d cases over %d methods' % (name, n_cases, len(e['methods'])))
    check(not bad, '%d bad answers:\n  %s' % (len(bad), '\n  '.join(bad)))


def node_healthy():
    e = env()
    n = e['node']
    check(n.alive(), 'axled died: %s' % n.log_tail())
    r, info = n.info(e['creds']['member_here'])
    check(info is not None, 'Info failed afterwards: %r' % r)
    log = n.log_text()
    for sig in ('AddressSanitizer', 'LeakSanitizer', 'runtime error:', 'UndefinedBehaviorSanitizer'):
        check(sig not in log, 'sanitizer report in the log: %s' % n.log_tail())


@test(timeout=180)
def truncated_frames():
    def cases(m, md):
        yield 'prefix cut', b'\x00\x00\x00', False
        yield 'message shorter than its length', struct.pack('>BI', 0, 100) + b'\x0a\x02hi', False
        yield 'compressed flag without grpc-encoding', struct.pack('>BI', 1, 2) + b'\x08\x01', False
        yield 'bad flag byte', struct.pack('>BI', 7, 0), False
    run_cases('truncated', cases)


@test(timeout=180)
def oversized_messages():
    e = env()
    bad = []
    for m in sorted(e['methods']):
        status, msg, st = raw_call(m, grpc_frame(b'\x0a' + varint(MAX_MSG + 10) + b'x' * (MAX_MSG + 10)),
                                   timeout=15)
        if status != GRPC_RESOURCE_EXHAUSTED or not msg:
            bad.append('%s: got %s %r, want RESOURCE_EXHAUSTED with a message' % (m, status, msg))
        check(e['node'].alive(), 'node died after oversized %s: %s' % (m, e['node'].log_tail()))
    node_healthy()
    check(not bad, '\n  '.join(bad))


@test(timeout=180)
def invalid_protobuf():
    def cases(m, md):
        yield 'field 0', grpc_frame(b'\x00\x01'), False
        yield 'length past the end', grpc_frame(b'\x0a\x7fabc'), False
        yield 'unterminated varint', grpc_frame(b'\x08\xff\xff\xff'), False
        yield 'wire type 7', grpc_frame(b'\x0f\x00'), False
        yield 'end-group without start', grpc_frame(b'\x0c'), False
        yield 'varint of 11 bytes', grpc_frame(b'\x08' + b'\xff' * 10 + b'\x01'), False
    run_cases('invalid protobuf', cases)


@test(timeout=180)
def wrong_wire_types():
    def cases(m, md):
        for f in md.input_type.fields:
            yield 'field %s' % f.name, grpc_frame(wrong_wire(f)), False
    run_cases('wrong wire types', cases)


def nested_path(desc, depth, seen=()):
    """Field path from desc that can nest depth messages deep, or None."""
    if depth == 0:
        return []
    for f in desc.fields:
        if f.type == _d.FieldDescriptor.TYPE_MESSAGE:
            sub = nested_path(f.message_type, depth - 1, seen + (desc.full_name,))
            if sub is not None:
                return [f] + sub
    return None


@test(timeout=180)
def deep_nesting():
    """17 levels where a request type can recurse; where it cannot, as deep as
    it goes followed by an unknown group nested 17 deep (protobuf-c must skip
    or refuse it, not recurse without bound)."""
    def cases(m, md):
        path = nested_path(md.input_type, 17) or []
        inner = b''
        for i in range(17):		# unknown field 999, start-group ... end-group
            inner = key(999, 3) + inner + key(999, 4)
        body = inner
        for f in reversed(path):
            body = key(f.number, 2) + varint(len(body)) + body
        # unknown groups are legal protobuf; a handler may accept them
        yield 'nested 17 deep', grpc_frame(body), True
    run_cases('deep nesting', cases)


@test(timeout=180)
def unknown_fields():
    """Fields this version does not know are kept and relayed, 16 at most in a
    message (each costs ~100 bytes decoded for 2 on the wire): 17 are
    refused with INVALID_ARGUMENT naming the limit, on every RPC."""
    e = env()
    bad = []
    for m, md in sorted(e['methods'].items()):
        for count, refuse in ((16, False), (17, True)):
            body = grpc_frame(b''.join(key(900 + i, 0) + b'\x01' for i in range(count)))
            try:
                status, msg, st = raw_call(m, body)
            except H2Closed as ex:
                bad.append('%s %d unknown: connection lost: %s' % (m, count, ex))
                continue
            limit = 'fields this node does not know' in (msg or '')
            if refuse and not (status == 3 and 'more than 16 fields' in (msg or '')):
                bad.append('%s 17 unknown: status %r %r, want INVALID_ARGUMENT naming the limit'
                           % (m, status, msg))
            elif not refuse and limit:
                bad.append('%s 16 unknown: refused for them: %r' % (m, msg))
    node_healthy()
    print('   unknown fields: %d methods, 16 kept, 17 refused' % len(e['methods']))
    check(not bad, '%d bad answers:\n  %s' % (len(bad), '\n  '.join(bad)))


@test(timeout=180)
def huge_repeated_fields():
    def cases(m, md):
        for f in md.input_type.fields:
            if f.label != _d.FieldDescriptor.LABEL_REPEATED:
                continue
            one = (key(f.number, 2) + b'\x00') if wire_type(f) == 2 else (key(f.number, 0) + b'\x01')
            if wire_type(f) in (1, 5):
                one = key(f.number, wire_type(f)) + b'\x00' * (8 if wire_type(f) == 1 else 4)
            count = (MAX_MSG - 64) // len(one)
            # a list this long may be valid for a filter: any clear status will do
            yield 'repeated %s x%d' % (f.name, count), grpc_frame(one * count), True
    run_cases('huge repeated', cases)


def set_field(obj, f, value):
    if f.label == _d.FieldDescriptor.LABEL_REPEATED:
        getattr(obj, f.name).append(value)
    else:
        setattr(obj, f.name, value)


@test(timeout=240)
def malformed_addresses():
    e = env()

    def cases(m, md):
        cls = msg_class(e['stubs'], md.input_type)
        targets = [(None, f) for f in md.input_type.fields
                   if f.name in ADDRESS_FIELDS and f.type == _d.FieldDescriptor.TYPE_STRING]
        targets += [(g, f) for g in md.input_type.fields
                    if g.type == _d.FieldDescriptor.TYPE_MESSAGE
                    and g.label != _d.FieldDescriptor.LABEL_REPEATED
                    for f in g.message_type.fields
                    if f.name in ADDRESS_FIELDS and f.type == _d.FieldDescriptor.TYPE_STRING]
        for outer, f in targets:
            for a in BAD_ADDRESSES:
                req = cls()
                obj = getattr(req, outer.name) if outer else req
                set_field(obj, f, a)
                label = '%s%s=%r' % (outer.name + '.' if outer else '', f.name, a[:20])
                yield label, grpc_frame(req.SerializeToString()), False
    run_cases('malformed addresses', cases)


@test(timeout=180)
def out_of_range_enums():
    def cases(m, md):
        for f in md.input_type.fields:
            if f.type != _d.FieldDescriptor.TYPE_ENUM:
                continue
            for v in (99, -1, 0x7fffffff):
                body = key(f.number, 0) + varint(v & 0xffffffffffffffff)
                yield '%s=%d' % (f.name, v), grpc_frame(body), False
    run_cases('out-of-range enums', cases)


@test
def clean_exit_after_all_of_it():
    """SIGTERM exits 0 (under ASan: no leak report) and the log has no
    sanitizer report."""
    e = env()
    for c in e['clients'].values():
        c.close()
    e['clients'].clear()
    node_healthy()
    n = e['node']
    n.stop()
    for sig in ('AddressSanitizer', 'LeakSanitizer', 'runtime error:'):
        check(sig not in n.log_text(), 'sanitizer report at exit: %s' % n.log_tail())


if __name__ == '__main__':
    main()

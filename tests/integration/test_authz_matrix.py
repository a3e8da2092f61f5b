"""test_authz_matrix.py -- every served gRPC method called by every role: the refused roles get PERMISSION_DENIED from the authz gate.

The same matrix in the Connect protocol's JSON form (docs/protocol.md) must
refuse exactly the same calls, and from a browser (an Origin header) every
role but this node's admins is refused for every method.

The rule table (authz_table.py) is copied from the GW_AUTHZ_* column of the method tables
in gateway/node/svc_*.c; the methods are enumerated from the generated python stubs'
service descriptors, so a new RPC without a row here fails the test.
"""

import json
import os
import re
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from axletest import (GRPC_PERMISSION_DENIED, H2Closed, Node, Workspace,  # noqa: E402
                      check, grpc_frame, grpc_stubs, main, make_federation, test)
from axletest import shared_env  # noqa: E402
from authz_table import ALLOWED, ROLES, RULES, served_methods  # noqa: E402

FEDNAME = 'fame-test'
REGION = 'uk.test'		# the node under test
OTHER = 'fr.test'		# another region of the same federation

# Handlers' own finer checks on top of the gate, for requests with no
# addresses (so member-prefix checks cannot apply): svc_registry.c feed_allowed
# admits only peer nodes and admins of this node to the ANY-gated Feed and
# Origins (feed_caller_ok);
# svc_switch.c axle_forward only configured peers (the node under test has none).
HANDLER_REFUSES = {
    '/axle.v1.Axle/Feed': {'member_here', 'member_other', 'admin_other'},
    '/axle.v1.Axle/Origins': {'member_here', 'member_other', 'admin_other'},
    '/axle.v1.Axle/Forward': {'peer_node'},
}

# The gate's refusal reasons (identity.c refusal(), sent unprefixed by
# h2_server.c). A handler's own finer checks (member prefix, case ownership)
# may also answer PERMISSION_DENIED for an admitted role; they prefix their own
# words, so for admitted roles we assert that the *gate* did not refuse.
GATE_RE = re.compile(r'may not administer node|only an admin of node|only members may call'
                     r'|only peer nodes may call|only members and admins of node'
                     r'|caller has no valid role')

# Methods whose answer streams (Connect's streaming form: application/connect+json).
STREAMING = {'/axle.v1.Switch/Fetch'}
# Connect's codes, indexed by gRPC status number.
CONNECT_CODES = ('ok', 'canceled', 'unknown', 'invalid_argument', 'deadline_exceeded',
                 'not_found', 'already_exists', 'permission_denied', 'resource_exhausted',
                 'failed_precondition', 'aborted', 'out_of_range', 'unimplemented',
                 'internal', 'unavailable', 'data_loss', 'unauthenticated')

_env = {}


@shared_env(_env)
def env():
    ws = Workspace()
    fed = make_federation(ws, FEDNAME, [REGION, OTHER])
    stubs = grpc_stubs(ws)
    creds = {'member_here': fed.member(REGION), 'member_other': fed.member(OTHER),
             'admin_here': fed.admin(REGION), 'admin_other': fed.admin(OTHER),
             'peer_node': fed.node(OTHER)}
    _env.update(ws=ws, fed=fed, stubs=stubs, creds=creds)
    _env['node'] = Node(ws, fed, REGION)


def call(client, path, timeout=5):
    """One gRPC call with an empty request. Returns (status, message);
    status None means the stream stayed open (a server stream that passed
    the gate: a gate refusal is always an immediate trailers-only answer)."""
    sid = client.start('POST', path, [('content-type', 'application/grpc'), ('te', 'trailers'),
                                      ('grpc-timeout', '2S')], grpc_frame(b''))
    st = client.streams[sid]
    deadline = time.monotonic() + timeout
    while not st.ended and time.monotonic() < deadline:
        if st.status is not None and st.header('grpc-status') is None and st.body:
            break		# streaming data already flowing: admitted
        if not client.pump(0.2):
            raise H2Closed('EOF during %s: %r' % (path, st))
    return st.grpc_status, st.grpc_message


def connect_call(client, path, browser=False, timeout=5):
    """The same empty request in Connect's JSON form (streaming form for
    STREAMING). Returns (status, message) as call() does: the Connect code's
    gRPC number, None while a stream stays open."""
    streaming = path in STREAMING
    hdrs = [('content-type', 'application/connect+json' if streaming else 'application/json'),
            ('connect-protocol-version', '1'), ('connect-timeout-ms', '2000')]
    if browser:
        # same origin: H2Client's :authority is 'localhost'
        hdrs += [('origin', 'https://localhost'), ('sec-fetch-site', 'same-origin')]
    body = struct.pack('>BI', 0, 2) + b'{}' if streaming else b'{}'
    sid = client.start('POST', path, hdrs, body)
    st = client.streams[sid]
    deadline = time.monotonic() + timeout
    while not st.ended and time.monotonic() < deadline:
        if streaming and int(st.status or 0) == 200 and len(st.body) >= 5 and \
                st.body[0] == 0:
            break		# a message before the end: admitted
        if not client.pump(0.2):
            raise H2Closed('EOF during %s: %r' % (path, st))
    if not st.ended:
        return None, ''
    raw = st.body
    if streaming:
        check(int(st.status) == 200 and len(raw) >= 5 and raw[0] == 2,
              '%s: not an end-of-stream envelope: %r' % (path, st))
        err = json.loads(raw[5:]).get('error')
        if err is None:
            return 0, ''
    elif int(st.status) == 200:
        return 0, ''
    else:
        err = json.loads(raw)
    check(err.get('code') in CONNECT_CODES, '%s: not a Connect error: %r' % (path, raw))
    return CONNECT_CODES.index(err['code']), err.get('message', '')


def judge(bad, m, role, status, msg, allowed):
    """Appends to bad what is wrong with (status, msg) for role calling m."""
    gate = status == GRPC_PERMISSION_DENIED and GATE_RE.match(msg or '')
    if allowed and role in HANDLER_REFUSES.get(m, ()):
        if status != GRPC_PERMISSION_DENIED or gate:
            bad.append('%s as %s: got %s %r, want the handler\'s own '
                       'PERMISSION_DENIED' % (m, role, status, msg))
    elif allowed and gate:
        bad.append('%s as %s: refused by the gate but the rule is %s: %r'
                   % (m, role, RULES[m], msg))
    elif not allowed and status != GRPC_PERMISSION_DENIED:
        bad.append('%s as %s: got status %s %r, want PERMISSION_DENIED (rule %s)'
                   % (m, role, status, msg, RULES[m]))
    elif not allowed and not msg:
        bad.append('%s as %s: PERMISSION_DENIED without a message' % (m, role))


@test
def every_served_method_has_a_rule():
    e = env()
    methods = sorted(served_methods(e["stubs"]))
    check(len(methods) >= 20, 'found only %d methods in the stubs: %s' % (len(methods), methods))
    missing = [m for m in methods if m not in RULES]
    check(not missing, 'methods without a row in RULES (add one from svc_*.c): %s' % missing)
    stale = [m for m in RULES if m not in methods]
    check(not stale, 'RULES rows for methods no proto declares: %s' % stale)


@test(timeout=180)
def each_role_refused_exactly_where_the_table_says():
    e = env()
    n = e['node']
    methods = sorted(served_methods(e["stubs"]))
    bad = []
    for role in ROLES:
        c = n.connect(e['creds'][role])
        try:
            for m in methods:
                if c.eof or c.goaway is not None:
                    c.close()
                    c = n.connect(e['creds'][role])
                status, msg = call(c, m)
                judge(bad, m, role, status, msg, role in ALLOWED[RULES[m]])
        finally:
            c.close()
        check(n.alive(), 'node died while calling as %s: %s' % (role, n.log_tail()))
    check(not bad, '%d authz mismatches:\n  %s' % (len(bad), '\n  '.join(bad)))
    r, info = n.info(e['creds']['member_here'])
    check(info is not None, 'Info after the matrix: %r' % r)


@test(timeout=240)
def connect_form_refuses_exactly_what_grpc_refuses():
    e = env()
    n = e['node']
    methods = sorted(served_methods(e["stubs"]))
    bad = []
    for role in ROLES:
        c = n.connect(e['creds'][role])
        try:
            for m in methods:
                if c.eof or c.goaway is not None:
                    c.close()
                    c = n.connect(e['creds'][role])
                status, msg = connect_call(c, m)
                judge(bad, m, role, status, msg, role in ALLOWED[RULES[m]])
                # From a browser: only this node's admins, whatever the rule.
                status, msg = connect_call(c, m, browser=True)
                if role == 'admin_here':
                    if 'from a browser' in (msg or ''):
                        bad.append('%s as %s from a browser: refused: %r' % (m, role, msg))
                elif status != GRPC_PERMISSION_DENIED or 'from a browser' not in msg:
                    bad.append('%s as %s from a browser: got %s %r, want PERMISSION_DENIED'
                               % (m, role, status, msg))
        finally:
            c.close()
        check(n.alive(), 'node died while calling as %s: %s' % (role, n.log_tail()))
    check(not bad, '%d authz mismatches in the Connect form:\n  %s'
          % (len(bad), '\n  '.join(bad)))


if __name__ == '__main__':
    main()

"""test_authz_matrix.py -- every served gRPC method called by every role: the refused roles get PERMISSION_DENIED from the authz gate.

The rule table (authz_table.py) is copied from the GW_AUTHZ_* column of the method tables
in gateway/node/svc_*.c; the methods are enumerated from the generated python stubs'
service descriptors, so a new RPC without a row here fails the test.
"""

import os
import re
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
                allowed = role in ALLOWED[RULES[m]]
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
                    bad.append('%s as %s: PERMISSION_DENIED without a grpc-message' % (m, role))
        finally:
            c.close()
        check(n.alive(), 'node died while calling as %s: %s' % (role, n.log_tail()))
    check(not bad, '%d authz mismatches:\n  %s' % (len(bad), '\n  '.join(bad)))
    r, info = n.info(e['creds']['member_here'])
    check(info is not None, 'Info after the matrix: %r' % r)


if __name__ == '__main__':
    main()

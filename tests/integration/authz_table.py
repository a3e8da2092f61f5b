"""authz_table.py -- the authorization rule of every gRPC method, as in gateway/node/svc_*.c method tables (shared by test_authz_matrix.py and test_bad_input.py)."""

# gateway/net/identity.h enum net_authz, as written in the svc_*.c method tables.
ANY, ADMIN, MEMBER, NODE, MEMBER_OR_ADMIN = 'ANY', 'ADMIN', 'MEMBER', 'NODE', 'MEMBER_OR_ADMIN'

RULES = {
    # gateway/node/svc_node.c
    '/axle.v1.Node/Info': ANY,
    # gateway/node/svc_registry.c
    '/axle.v1.Registry/Resolve': ANY,
    '/axle.v1.Registry/GetRegistrar': ANY,
    '/axle.v1.Registry/ListRegistrars': ANY,
    '/axle.v1.Registry/Delegate': ADMIN,
    '/axle.v1.Registry/SetStatus': ADMIN,
    '/axle.v1.Registry/ReHome': ADMIN,
    '/axle.v1.Registry/PublishService': MEMBER_OR_ADMIN,
    '/axle.v1.Registry/WithdrawService': MEMBER_OR_ADMIN,
    '/axle.v1.Registry/ResetMirror': ADMIN,
    '/axle.v1.Registry/PublishNode': ADMIN,
    '/axle.v1.Registry/PublishKey': MEMBER_OR_ADMIN,
    '/axle.v1.Registry/WithdrawKey': MEMBER_OR_ADMIN,
    '/axle.v1.Registry/FindKeys': ANY,
    '/axle.v1.Registry/SetPolicy': ADMIN,
    '/axle.v1.Registry/SplitRegion': ADMIN,
    '/axle.v1.Portal/Discover': ANY,
    '/axle.v1.Axle/Feed': ANY,
    '/axle.v1.Axle/Origins': ANY,
    # gateway/node/svc_escalate.c
    '/axle.v1.Axle/Escalate': NODE,
    # gateway/node/svc_switch.c
    '/axle.v1.Switch/Send': MEMBER_OR_ADMIN,
    '/axle.v1.Switch/Fetch': MEMBER,
    '/axle.v1.Switch/Ack': MEMBER,
    '/axle.v1.Switch/Reject': MEMBER,
    '/axle.v1.Switch/Status': MEMBER_OR_ADMIN,
    '/axle.v1.Switch/Queues': MEMBER_OR_ADMIN,
    '/axle.v1.Axle/Forward': NODE,
    # gateway/node/svc_recourse.c (all ADMIN)
    '/axle.v1.Recourse/List': ADMIN,
    '/axle.v1.Recourse/Show': ADMIN,
    '/axle.v1.Recourse/Claim': ADMIN,
    '/axle.v1.Recourse/Release': ADMIN,
    '/axle.v1.Recourse/Redirect': ADMIN,
    '/axle.v1.Recourse/ReturnToSender': ADMIN,
    '/axle.v1.Recourse/Discard': ADMIN,
    '/axle.v1.Recourse/Escalate': ADMIN,
    '/axle.v1.Recourse/Annotate': ADMIN,
    '/axle.v1.Recourse/VerifyAudit': ADMIN,
    # gateway/node/svc_audit.c (ADMIN)
    '/axle.v1.Recourse/AuditHead': ADMIN,
    '/axle.v1.Recourse/AuditExport': ADMIN,
}

# Which roles each rule admits (gateway/net/identity.c net_authz_allows).
ROLES = ('member_here', 'member_other', 'admin_here', 'admin_other', 'peer_node')
ALLOWED = {
    ANY: set(ROLES),
    ADMIN: {'admin_here'},
    MEMBER: {'member_here', 'member_other'},
    NODE: {'peer_node'},
    MEMBER_OR_ADMIN: {'member_here', 'member_other', 'admin_here'},
}


def served_methods(stubs):
    """'/pkg.Service/Method' -> MethodDescriptor for every rpc in every
    generated proto module of stubs (axletest.grpc_stubs)."""
    out = {}
    for name in dir(stubs):
        if not name.endswith('_pb2') or name.endswith('_grpc_pb2'):
            continue
        for svc in getattr(stubs, name).DESCRIPTOR.services_by_name.values():
            for m in svc.methods:
                out['/%s/%s' % (svc.full_name, m.name)] = m
    return out

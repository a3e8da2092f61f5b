"""test_registry_federation.py -- the register across three real nodes (uk, uk.london,
uk.westyorks) peered over mTLS: delegation, resolution from mirrors, member publication,
discovery, origin down / restart catch-up, revocation and re-homing, axlectl, feed verify.

Steps depend on each other and run in order. The third-party client is grpcio with stubs
generated from proto/; axlectl is run as a subprocess for some steps.
"""

import json
import os
import shutil
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import axletest as at  # noqa: E402
from axletest import (Workspace, check, grpc_stubs, main,  # noqa: E402
                      make_federation, test, wait_for)

import grpc  # noqa: E402

FED = 'fame-test'
REGIONS = ('uk', 'uk.london', 'uk.westyorks')
SOCIAL = 'uk.london.lewisham.social-care'
HUB_URI = 'axle://%s/member/uk.london.lewisham.hub' % FED
MIRROR_WAIT = 15		# seconds: generous for loaded CI machines
_env = {}


@at.shared_env(_env)
def env():
    ws = Workspace()
    fed = make_federation(ws, FED, list(REGIONS))
    stubs = grpc_stubs(ws)
    # REG_LOG=debug for post-mortems (with AXLE_KEEP=1).
    nodes = at.mesh(ws, fed, REGIONS, extra='\n[registry]\nmirror_interval_ms = 100\n',
                    log_level=os.environ.get('REG_LOG'))
    hub = fed.issue('member', 'uk.london.lewisham.hub', name='lewisham-hub')
    _env.update(ws=ws, fed=fed, stubs=stubs, nodes=nodes, hub=hub)


def _read(path):
    with open(path, 'rb') as f:
        return f.read()


def channel(node, cred):
    e = env()
    creds = grpc.ssl_channel_credentials(root_certificates=_read(e['fed'].ca_pem),
                                         private_key=_read(cred.key),
                                         certificate_chain=_read(cred.chain))
    return grpc.secure_channel('localhost:%d' % node.port, creds)


def registry(region, cred=None, portal=False):
    """(stub, pb, channel) for Registry (or Portal) on region's node as cred (default: its admin)."""
    e = env()
    node = e['nodes'][region]
    ch = channel(node, cred or e['fed'].admin(region))
    s = e['stubs']
    stub = (s.registry_pb2_grpc.PortalStub if portal else s.registry_pb2_grpc.RegistryStub)(ch)
    return stub, s.registry_pb2, ch


def call(region, method, req, cred=None, portal=False):
    stub, _, ch = registry(region, cred, portal)
    try:
        return getattr(stub, method)(req, timeout=10)
    finally:
        ch.close()


def expect_error(code, region, method, req, cred=None, contains=()):
    try:
        call(region, method, req, cred)
    except grpc.RpcError as err:
        check(err.code() == code, '%s: want %s, got %s %r' % (method, code, err.code(), err.details()))
        for c in contains:
            check(c in (err.details() or ''), '%s: %r does not mention %r' % (method, err.details(), c))
        return err.details()
    raise at.TestFailure('%s answered OK; want %s' % (method, code))


def pb():
    return env()['stubs'].registry_pb2


def resolve(region, address, cred=None):
    return call(region, 'Resolve', pb().ResolveRequest(address=address),
                cred or env()['fed'].member(region))


def wait_resolves(region, address, registrar, what, status=None):
    """status: also wait for the registrar's standing (its activation is a later
    feed entry than its delegation, and may reach a mirror in a later batch)."""
    def ok():
        try:
            r = resolve(region, address)
        except grpc.RpcError:
            return None
        if status is not None and r.registrar.status != status:
            return None
        return r if r.registrar.id == registrar else None
    return wait_for(ok, MIRROR_WAIT, interval=0.1, what='%s: %s resolves to %s at %s'
                    % (what, address, registrar, region))


def axlectl(region, *args, cred=None, check_rc=True):
    e = env()
    node = e['nodes'][region]
    cred = cred or e['fed'].admin(region)
    cmd = [os.path.join(at.BUILD, 'axlectl'), '--cert', cred.chain, '--key', cred.key,
           '--trust', e['fed'].trust_dir, '--federation', FED,
           '--server', '127.0.0.1:%d' % node.port] + list(args)
    return at.run(cmd, timeout=30, check_rc=check_rc)


def metrics(region):
    e = env()
    return e['nodes'][region].metrics(e['fed'].admin(region))


# --- steps ---------------------------------------------------------------------------------

@test
def delegate_and_activate_with_axlectl():
    cp = axlectl('uk.london', 'delegate', 'uk.london.Lewisham', 'lewisham',
                 '--name', 'Lewisham Council', '--cert', HUB_URI,
                 '--contact', 'Data Office,dpo,dpo@lewisham.example,020 0000')
    check('pending' in cp.stdout and 'uk.london.lewisham' in cp.stdout,
          'delegate output: %r' % cp.stdout)
    cp = axlectl('uk.london', '--json', 'registrar', 'activate', 'lewisham', '--reason', 'onboarded')
    out = json.loads(cp.stdout)
    check(out['registrar']['status'] == 'ACTIVE', 'activate: %r' % out)
    check(out['feed_seq'] == 2, 'second change should be feed entry 2: %r' % out)
    # The record as stored: folded prefix, contact, version.
    r = call('uk.london', 'GetRegistrar', pb().GetRegistrarRequest(id='lewisham')).registrar
    check(list(r.prefixes) == ['uk.london.lewisham'], 'prefixes %r' % list(r.prefixes))
    check(r.contacts[0].email == 'dpo@lewisham.example', 'contacts %r' % r.contacts)
    check(r.region == 'uk.london' and r.version == 2, 'region/version %r/%r' % (r.region, r.version))


@test
def resolves_locally_and_from_mirrors():
    r = resolve('uk.london', SOCIAL)
    check(r.outcome == pb().RESOLVE_OUTCOME_MATCHED, 'outcome %r' % r.outcome)
    check(r.matched_prefix == 'uk.london.lewisham' and not r.from_mirror, 'local: %r' % r)
    for region in ('uk.westyorks', 'uk'):
        r = wait_resolves(region, SOCIAL, 'lewisham', 'mirror',
                          status=pb().REGISTRAR_STATUS_ACTIVE)
        check(r.serving_node == 'uk.london', '%s: serving_node %r' % (region, r.serving_node))
        check(r.from_mirror, '%s: not from mirror' % region)
        check(r.registrar.status == pb().REGISTRAR_STATUS_ACTIVE, 'status %r' % r.registrar.status)
        check(r.feed_seq >= 2, 'mirror feed_seq %d' % r.feed_seq)
    # An identifier resolves by its address part; unknown addresses name the encloser.
    r = resolve('uk', 'UK.London.Lewisham.Swift:0042')
    check(r.registrar.id == 'lewisham' and r.address == 'uk.london.lewisham.swift', 'ident %r' % r)
    r = resolve('uk.westyorks', 'uk.london.southwark.x')
    check(r.outcome == pb().RESOLVE_OUTCOME_REGION and r.closest_encloser == 'uk.london'
          and r.serving_node == 'uk.london', 'region outcome %r' % r)
    r = resolve('uk.westyorks', 'fr.paris')
    check(r.outcome == pb().RESOLVE_OUTCOME_UNKNOWN, 'unknown outcome %r' % r)
    expect_error(grpc.StatusCode.INVALID_ARGUMENT, 'uk', 'Resolve',
                 pb().ResolveRequest(address='uk..london'), env()['fed'].member('uk'))


@test
def delegation_refusals():
    p = pb()
    expect_error(grpc.StatusCode.ALREADY_EXISTS, 'uk.london', 'Delegate',
                 p.DelegateRequest(registrar_id='other', prefix='uk.london.lewisham.schools',
                                   display_name='Other', cert_identity='axle://%s/member/x.y' % FED),
                 contains=('lewisham', 'uk.london.lewisham'))
    expect_error(grpc.StatusCode.ALREADY_EXISTS, 'uk.london', 'Delegate',
                 p.DelegateRequest(registrar_id='other', prefix='uk.london.lewisham',
                                   display_name='Other', cert_identity='axle://%s/member/x.y' % FED),
                 contains=('lewisham',))
    expect_error(grpc.StatusCode.PERMISSION_DENIED, 'uk.london', 'Delegate',
                 p.DelegateRequest(registrar_id='leeds', prefix='uk.westyorks.leeds',
                                   display_name='Leeds', cert_identity='axle://%s/member/x.y' % FED),
                 contains=('outside', 'uk.london'))
    # uk may not delegate inside a peer's region.
    expect_error(grpc.StatusCode.ALREADY_EXISTS, 'uk', 'Delegate',
                 p.DelegateRequest(registrar_id='grab', prefix='uk.london.grab',
                                   display_name='Grab', cert_identity='axle://%s/member/x.y' % FED),
                 contains=('uk.london',))
    expect_error(grpc.StatusCode.INVALID_ARGUMENT, 'uk.london', 'Delegate',
                 p.DelegateRequest(registrar_id='bad', prefix='uk.london.-bad',
                                   display_name='Bad', cert_identity='axle://%s/member/x.y' % FED),
                 contains=('-bad',))
    # Only this node's admins change the register.
    expect_error(grpc.StatusCode.PERMISSION_DENIED, 'uk.london', 'Delegate',
                 p.DelegateRequest(registrar_id='x', prefix='uk.london.x', display_name='X',
                                   cert_identity='axle://%s/member/x.y' % FED),
                 cred=env()['fed'].member('uk.london'))
    expect_error(grpc.StatusCode.PERMISSION_DENIED, 'uk.london', 'Delegate',
                 p.DelegateRequest(registrar_id='x', prefix='uk.london.x', display_name='X',
                                   cert_identity='axle://%s/member/x.y' % FED),
                 cred=env()['fed'].admin('uk'))


def index_service(name, address):
    p = pb()
    return p.Service(name=name, kind=env()['stubs'].common_pb2.SERVICE_KIND_INDEX,
                     message_types=['index.query'], address=address,
                     description='Children social care index for Lewisham')


@test
def member_publishes_only_under_its_prefix():
    e, p = env(), pb()
    r = call('uk.london', 'PublishService', p.PublishServiceRequest(
        registrar_id='lewisham', service=index_service('lewisham-index', SOCIAL)), cred=e['hub'])
    names = [s.name for s in r.registrar.services]
    check(names == ['lewisham-index'], 'services %r' % names)
    # Empty registrar_id: the registrar whose prefix covers the member.
    r = call('uk.london', 'PublishService', p.PublishServiceRequest(
        service=index_service('lewisham-switch', 'uk.london.lewisham.switch')), cred=e['hub'])
    check(len(r.registrar.services) == 2, 'services %r' % r.registrar.services)
    expect_error(grpc.StatusCode.PERMISSION_DENIED, 'uk.london', 'PublishService',
                 p.PublishServiceRequest(registrar_id='lewisham',
                                         service=index_service('sneaky', 'uk.london.southwark.index')),
                 cred=e['hub'], contains=('uk.london.southwark.index',))
    # uk.london.hub is not inside lewisham's prefix.
    expect_error(grpc.StatusCode.PERMISSION_DENIED, 'uk.london', 'PublishService',
                 p.PublishServiceRequest(registrar_id='lewisham',
                                         service=index_service('x', SOCIAL)),
                 cred=e['fed'].member('uk.london'))
    r = call('uk.london', 'WithdrawService', p.WithdrawServiceRequest(
        registrar_id='lewisham', name='lewisham-switch', reason='test'), cred=e['hub'])
    check([s.name for s in r.registrar.services] == ['lewisham-index'], 'withdraw %r' % r)


@test
def discover_from_another_region():
    e, p = env(), pb()

    def found():
        r = call('uk.westyorks', 'Discover', p.DiscoverRequest(
            kind=e['stubs'].common_pb2.SERVICE_KIND_INDEX, text='SOCIAL CARE'),
            cred=e['fed'].member('uk.westyorks'), portal=True)
        return r if [d.service.name for d in r.services] == ['lewisham-index'] else None
    r = wait_for(found, MIRROR_WAIT, interval=0.1, what='Discover at uk.westyorks')
    d = r.services[0]
    check(d.region == 'uk.london' and d.from_mirror and d.registrar_id == 'lewisham', 'found %r' % d)
    cp = axlectl('uk', 'discover', '--prefix', 'uk.london', '--type', 'index.query')
    check('lewisham-index' in cp.stdout, 'axlectl discover at uk: %r' % cp.stdout)


@test
def mirror_serves_while_origin_down():
    e = env()
    e['nodes']['uk.london'].stop()
    r = resolve('uk.westyorks', SOCIAL)
    check(r.registrar.id == 'lewisham' and r.from_mirror, 'with uk.london down: %r' % r)
    e['nodes']['uk.london'].start()
    call('uk.london', 'Delegate', pb().DelegateRequest(
        registrar_id='camden', prefix='uk.london.camden', display_name='Camden',
        cert_identity='axle://%s/member/uk.london.camden.hub' % FED))
    for region in ('uk.westyorks', 'uk'):
        wait_resolves(region, 'uk.london.camden.x', 'camden', 'after origin restart')


@test
def mirror_catches_up_after_restart():
    e = env()
    wy = e['nodes']['uk.westyorks']
    seq_before = metrics('uk.westyorks')['axle_mirror_last_seq{peer="uk.london"}']
    wy.stop()
    call('uk.london', 'Delegate', pb().DelegateRequest(
        registrar_id='hackney', prefix='uk.london.hackney', display_name='Hackney',
        cert_identity='axle://%s/member/uk.london.hackney.hub' % FED))
    wy.start()
    wait_resolves('uk.westyorks', 'uk.london.hackney', 'hackney', 'catch-up')
    m = metrics('uk.westyorks')
    check(m['axle_mirror_last_seq{peer="uk.london"}'] == seq_before + 1,
          'last seq %r, was %r' % (m['axle_mirror_last_seq{peer="uk.london"}'], seq_before))
    check(m['axle_mirror_broken{peer="uk.london"}'] == 0, 'broken: %r' % m)
    # It resumed from the stored seq rather than from the start.
    line = 'event=mirror_start peer=uk.london from_seq=%d' % (seq_before + 1)
    check(line in wy.log_text(), 'no "%s" in the log:\n%s' % (line, wy.log_tail()))


@test
def revoke_and_rehome_everywhere():
    e, p = env(), pb()
    call('uk.london', 'Delegate', p.DelegateRequest(
        registrar_id='lewisham-trust', prefix='uk.london.lewisham-trust',
        display_name='Lewisham Children Trust',
        cert_identity='axle://%s/member/uk.london.lewisham-trust.hub' % FED))
    axlectl('uk.london', 'registrar', 'activate', 'lewisham-trust', '--reason', 'successor')
    cp = axlectl('uk.london', 'registrar', 'revoke', 'lewisham', '--reason', 'contract ended')
    check('revoked' in cp.stdout, 'revoke output %r' % cp.stdout)
    # A revoked registrar's certificate is refused at once.
    expect_error(grpc.StatusCode.PERMISSION_DENIED, 'uk.london', 'PublishService',
                 p.PublishServiceRequest(registrar_id='lewisham',
                                         service=index_service('again', SOCIAL)),
                 cred=e['hub'], contains=('revoked',))
    # revoked -> active is illegal.
    expect_error(grpc.StatusCode.FAILED_PRECONDITION, 'uk.london', 'SetStatus',
                 p.SetStatusRequest(registrar_id='lewisham', status=p.REGISTRAR_STATUS_ACTIVE,
                                    reason='undo'), contains=('revoked',))
    r = call('uk.london', 'ReHome', p.ReHomeRequest(
        from_registrar_id='lewisham', to_registrar_id='lewisham-trust', reason='successor'))
    check('uk.london.lewisham' in r.to_registrar.prefixes, 'to %r' % r.to_registrar)
    check(r.from_registrar.successor_id == 'lewisham-trust', 'from %r' % r.from_registrar)
    for region in REGIONS:
        res = wait_resolves(region, SOCIAL, 'lewisham-trust', 'rehome')
        check(res.registrar.status == p.REGISTRAR_STATUS_ACTIVE, 'status %r' % res.registrar)
    # Still refused after re-homing: its address now falls to the successor.
    expect_error(grpc.StatusCode.PERMISSION_DENIED, 'uk.london', 'PublishService',
                 p.PublishServiceRequest(service=index_service('again', SOCIAL)),
                 cred=e['hub'], contains=('revoked',))


@test
def list_registrars_paged():
    p = pb()
    seen, token = [], ''
    while True:
        r = call('uk.westyorks', 'ListRegistrars', p.ListRegistrarsRequest(
            region='uk.london', page=e_page(2, token)), cred=env()['fed'].member('uk.westyorks'))
        seen += [x.id for x in r.registrars]
        token = r.page.next_page_token
        if not token:
            break
    check(seen == ['camden', 'hackney', 'lewisham', 'lewisham-trust'], 'listed %r' % seen)
    r = call('uk.london', 'ListRegistrars', p.ListRegistrarsRequest(status=p.REGISTRAR_STATUS_REVOKED))
    check([x.id for x in r.registrars] == ['lewisham'] and r.page.total == 1, 'revoked %r' % r)
    cp = axlectl('uk', 'registrar', 'list', '--prefix', 'uk.london.lewisham')
    check('lewisham-trust' in cp.stdout and 'uk.london.lewisham' in cp.stdout, 'list %r' % cp.stdout)


def e_page(size, token):
    return env()['stubs'].common_pb2.PageRequest(page_size=size, page_token=token)


@test
def feed_verifies_and_is_for_nodes_and_admins():
    cp = axlectl('uk.london', 'feed', 'verify')
    check('signature valid' in cp.stdout and 'hash chain intact' in cp.stdout, 'verify %r' % cp.stdout)
    out = json.loads(axlectl('uk.london', '--json', 'feed', 'verify').stdout)
    check(out['ok'] and out['entries'] == out['head_seq'] and out['entries'] >= 8, 'verify %r' % out)
    check(out['key_identity'] == 'axle://%s/node/uk.london' % FED, 'key identity %r' % out)
    cp = axlectl('uk.london', 'feed', 'show')
    check('rehomed' in cp.stdout and 'contract ended' in cp.stdout, 'show %r' % cp.stdout)
    cp = axlectl('uk', 'feed', 'verify')		# an empty feed verifies too
    check('0 entries' in cp.stdout, 'empty verify %r' % cp.stdout)
    # A member may not read the feed.
    cp = axlectl('uk.london', 'feed', 'show', cred=env()['fed'].member('uk.london'), check_rc=False)
    check(cp.returncode == 1 and 'PERMISSION_DENIED' in cp.stderr, 'member feed %r' % cp.stderr)
    for region in ('uk', 'uk.westyorks'):
        m = metrics(region)
        check(m['axle_mirror_broken{peer="uk.london"}'] == 0, '%s broken' % region)
        check(m['axle_mirror_last_seq{peer="uk.london"}'] == out['head_seq'],
              '%s last seq %r, head %r' % (region, m['axle_mirror_last_seq{peer="uk.london"}'],
                                           out['head_seq']))
    m = metrics('uk.london')
    check(m['axle_registry_prefixes'] >= 7, 'prefixes %r' % m['axle_registry_prefixes'])


@test
def forked_origin_stops_the_mirror():
    """uk.london loses its data and starts a new history: its peers must refuse the
    rewritten feed, say so (log, metric), keep what they had, and apply nothing new."""
    e = env()
    ldn = e['nodes']['uk.london']
    ldn.stop()
    shutil.rmtree(ldn.data_dir)
    os.makedirs(ldn.data_dir)
    ldn.start()
    call('uk.london', 'Delegate', pb().DelegateRequest(
        registrar_id='forked', prefix='uk.london.forked', display_name='Forked',
        cert_identity='axle://%s/member/uk.london.forked.hub' % FED))
    for region in ('uk', 'uk.westyorks'):
        wait_for(lambda: metrics(region).get('axle_mirror_broken{peer="uk.london"}') == 1,
                 MIRROR_WAIT, interval=0.1, what='%s: axle_mirror_broken{uk.london} = 1' % region)
        log = e['nodes'][region].log_text()
        # Seen empty (no signed head) or with its new entry 1 (rewound): either stops it.
        check('event=mirror_broken peer=uk.london' in log,
              '%s: no mirror_broken line:\n%s' % (region, e['nodes'][region].log_tail()))
        r = resolve(region, 'uk.london.forked.x')
        check(r.outcome == pb().RESOLVE_OUTCOME_REGION, '%s applied forked data: %r' % (region, r))
        r = resolve(region, SOCIAL)
        check(r.registrar.id == 'lewisham-trust', '%s lost its mirror: %r' % (region, r))
    # The stop is durable: after a restart the mirror stays stopped.
    wy = e['nodes']['uk.westyorks']
    wy.stop()
    wy.start()
    check(metrics('uk.westyorks')['axle_mirror_broken{peer="uk.london"}'] == 1, 'not durable')
    check(resolve('uk.westyorks', SOCIAL).registrar.id == 'lewisham-trust', 'mirror lost')


@test
def reset_mirror_follows_the_new_history():
    """An admin who has checked with uk.london resets each peer's mirror of it: the
    old history is forgotten (index included), the new one mirrored and verified."""
    e = env()
    expect_error(grpc.StatusCode.PERMISSION_DENIED, 'uk', 'ResetMirror',
                 pb().ResetMirrorRequest(region='uk.london', reason='x'),
                 cred=e['fed'].member('uk'))
    expect_error(grpc.StatusCode.INVALID_ARGUMENT, 'uk', 'ResetMirror',
                 pb().ResetMirrorRequest(region='uk.london', reason=''), contains=('reason',))
    expect_error(grpc.StatusCode.NOT_FOUND, 'uk', 'ResetMirror',
                 pb().ResetMirrorRequest(region='uk.nowhere', reason='x'),
                 contains=('not a peer',))
    r = call('uk', 'ResetMirror', pb().ResetMirrorRequest(
        region='uk.london', reason='uk.london rebuilt after disk loss, ticket 42'))
    check(r.was_broken and r.dropped_seq > 0, 'uk: %r' % r)
    out = axlectl('uk.westyorks', 'mirror', 'reset', 'uk.london', '--reason', 'ticket 42')
    check('mirroring again from seq 1' in out.stdout and 'was broken' in out.stdout,
          'axlectl said %r' % out.stdout)
    head = json.loads(axlectl('uk.london', '--json', 'feed', 'verify').stdout)['head_seq']
    for region in ('uk', 'uk.westyorks'):
        wait_for(lambda: metrics(region).get('axle_mirror_last_seq{peer="uk.london"}') == head,
                 MIRROR_WAIT, interval=0.1, what='%s: mirror of uk.london at %d' % (region, head))
        m = metrics(region)
        check(m['axle_mirror_broken{peer="uk.london"}'] == 0, '%s still broken' % region)
        r = resolve(region, 'uk.london.forked.x')
        check(r.registrar.id == 'forked', '%s does not resolve the new history: %r' % (region, r))
        r = resolve(region, SOCIAL)
        check(r.registrar.id != 'lewisham-trust', '%s still holds the old history: %r' % (region, r))
        log = e['nodes'][region].log_text()
        check('event=mirror_reset peer=uk.london by=axle://%s/admin/' % FED in log,
              '%s: no mirror_reset line naming the admin' % region)
    # The reset is durable: a restart keeps following the new history.
    wy = e['nodes']['uk.westyorks']
    wy.stop()
    wy.start()
    check(metrics('uk.westyorks')['axle_mirror_broken{peer="uk.london"}'] == 0, 'broken again')
    check(resolve('uk.westyorks', 'uk.london.forked.x').registrar.id == 'forked', 'lost')


def _after_failure(name):
    for r, n in _env.get('nodes', {}).items():
        print('--- %s log tail ---\n%s' % (r, n.log_tail(25)))


if __name__ == '__main__':
    main(_after_failure)

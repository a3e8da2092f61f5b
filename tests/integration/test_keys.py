"""test_keys.py -- keys in the register (issue 17, part 1) across two real nodes, uk.london
and uk.westyorks, peered over mTLS: a registrar's hub publishes signing and sealing
certificates issued by certs/axle-cert-issue hub-sign|hub-seal; a hub of the other region
finds them through the mirrored register; rotation with overlap, withdrawal, scope, a
revoked registrar; refusals (a TLS certificate, the wrong key usage, another registrar's
certificate, another CA's, an expired one, a member acting for another registrar).

Steps depend on each other and run in order. grpcio with stubs from proto/ and axlectl.
"""

import hashlib
import json
import os
import ssl
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import axletest as at  # noqa: E402
from axletest import (Workspace, check, grpc_stubs, main,  # noqa: E402
                      make_ca, make_federation, test, utc_stamp, wait_for)

import grpc  # noqa: E402

FED = 'fame-test'
REGIONS = ('uk.london', 'uk.westyorks')
HUB = 'uk.london.lewisham.hub'
HUB_URI = 'axle://%s/member/%s' % (FED, HUB)
MIRROR_WAIT = 15
_env = {}


@at.shared_env(_env)
def env():
    ws = Workspace()
    fed = make_federation(ws, FED, list(REGIONS))
    stubs = grpc_stubs(ws)
    nodes = at.mesh(ws, fed, REGIONS, extra='\n[registry]\nmirror_interval_ms = 100\n')
    hub = fed.issue('member', HUB, name='lewisham-hub')		# its TLS certificate
    camden_hub = fed.issue('member', 'uk.london.camden.hub', name='camden-hub')
    leeds_hub = fed.issue('member', 'uk.westyorks.leeds.hub', name='leeds-hub')
    _env.update(ws=ws, fed=fed, stubs=stubs, nodes=nodes, hub=hub, camden_hub=camden_hub,
                leeds_hub=leeds_hub)


def _read(path):
    with open(path, 'rb') as f:
        return f.read()


def der(cred):
    return ssl.PEM_cert_to_DER_cert(_read(cred.cert).decode())


def pb():
    return env()['stubs'].registry_pb2


def call(region, method, req, cred=None):
    e = env()
    cred = cred or e['fed'].admin(region)
    creds = grpc.ssl_channel_credentials(root_certificates=_read(e['fed'].ca_pem),
                                         private_key=_read(cred.key),
                                         certificate_chain=_read(cred.chain))
    ch = grpc.secure_channel('localhost:%d' % e['nodes'][region].port, creds)
    try:
        return getattr(e['stubs'].registry_pb2_grpc.RegistryStub(ch), method)(req, timeout=10)
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


def axlectl(region, *args, cred=None, check_rc=True):
    e = env()
    cred = cred or e['fed'].admin(region)
    cmd = [os.path.join(at.BUILD, 'axlectl'), '--cert', cred.chain, '--key', cred.key,
           '--trust', e['fed'].trust_dir, '--federation', FED,
           '--server', '127.0.0.1:%d' % e['nodes'][region].port] + list(args)
    return at.run(cmd, timeout=30, check_rc=check_rc)


def find(region, address, use=0, cred=None):
    return call(region, 'FindKeys', pb().FindKeysRequest(address=address, use=use),
                cred or env()['leeds_hub'])


def fingerprints(resp):
    return [k.fingerprint.hex() for k in resp.keys]


def wait_find(region, address, want, use=0, what='keys'):
    """Waits until FindKeys at region answers exactly the fingerprints want (a list)."""
    def ok():
        r = find(region, address, use)
        return r if fingerprints(r) == want else None
    return wait_for(ok, MIRROR_WAIT, interval=0.1,
                    what='%s: FindKeys %s at %s answers %s' % (what, address, region, want))


def fpr(cred):
    return hashlib.sha256(der(cred)).hexdigest()


# --- steps ---------------------------------------------------------------------------------

@test
def registrars_delegated():
    for rid, prefix in (('lewisham', 'uk.london.lewisham'), ('camden', 'uk.london.camden')):
        axlectl('uk.london', 'delegate', prefix, rid, '--name', rid.title(),
                '--cert', 'axle://%s/member/%s.hub' % (FED, prefix))
        axlectl('uk.london', 'registrar', 'activate', rid, '--reason', 'onboarded')


@test
def hub_publishes_a_signing_key_found_from_the_other_region():
    e = env()
    sign1 = e['fed'].issue('hub-sign', HUB, name='sign1')
    e['sign1'] = sign1
    cp = axlectl('uk.london', '--json', 'keys', 'publish', '--use', 'signing', sign1.cert,
                 cred=e['hub'])
    out = json.loads(cp.stdout)
    keys = out['registrar']['keys']
    check(len(keys) == 1 and keys[0]['use'] == 'SIGNING', 'published: %r' % keys)
    check(keys[0]['fingerprint'] == fpr(sign1), 'fingerprint %r, want sha256 of the DER %s'
          % (keys[0]['fingerprint'], fpr(sign1)))
    check(keys[0]['identity'] == HUB_URI and keys[0]['scope'] == '', 'key %r' % keys[0])
    check(out['registrar']['id'] == 'lewisham', 'acted for %r' % out['registrar']['id'])
    m = e['nodes']['uk.london'].metrics(e['fed'].admin('uk.london'))
    check(m.get('axle_registry_keys') == 1, 'axle_registry_keys %r' % m.get('axle_registry_keys'))
    # Locally, then from the mirror in the other region, asked by a hub there.
    r = find('uk.london', 'uk.london.lewisham.social', pb().KEY_USE_SIGNING)
    check(fingerprints(r) == [fpr(sign1)] and not r.from_mirror and r.registrar_id == 'lewisham',
          'local find %r' % r)
    r = wait_find('uk.westyorks', 'uk.london.lewisham.social', [fpr(sign1)],
                  pb().KEY_USE_SIGNING, 'mirror')
    check(r.from_mirror and r.region == 'uk.london', 'from_mirror %r region %r'
          % (r.from_mirror, r.region))
    check(r.keys[0].certificate == der(sign1), 'certificate bytes differ')
    check(r.keys[0].not_after_ms > r.keys[0].not_before_ms > 0, 'validity %r' % r.keys[0])
    # An identifier is looked up by its address part; no sealing key yet.
    r = find('uk.westyorks', 'uk.london.lewisham.social:case-1', pb().KEY_USE_SEALING)
    check(not r.keys and 'no sealing key' in r.reason, 'sealing: %r' % r)


@test
def find_writes_pem_files_for_openssl():
    e = env()
    out = e['ws'].join('pem-out')
    cp = axlectl('uk.westyorks', 'keys', 'find', 'uk.london.lewisham.x', '--use', 'signing',
                 '--pem-out', out, cred=e['leeds_hub'])
    check(fpr(e['sign1']) in cp.stdout and 'mirrored' in cp.stdout, 'table: %r' % cp.stdout)
    path = os.path.join(out, 'signing-%s.pem' % fpr(e['sign1']))
    check(os.path.exists(path), 'no %s: %r' % (path, os.listdir(out)))
    cp = at.run(['openssl', 'verify', '-CAfile', e['fed'].ca_pem, path])
    check(': OK' in cp.stdout, 'openssl verify: %r' % cp.stdout)


@test
def rotation_overlaps_then_withdrawal_removes_the_old_key():
    e = env()
    sign2 = e['fed'].issue('hub-sign', HUB, name='sign2')
    axlectl('uk.london', 'keys', 'publish', '--use', 'signing', sign2.cert, cred=e['hub'])
    # Both valid during the overlap, newest first.
    wait_find('uk.westyorks', 'uk.london.lewisham.social', [fpr(sign2), fpr(e['sign1'])],
              pb().KEY_USE_SIGNING, 'overlap')
    cp = axlectl('uk.london', 'keys', 'withdraw', fpr(e['sign1']), '--reason', 'rotated',
                 cred=e['hub'])
    check(fpr(sign2) in cp.stdout and fpr(e['sign1']) not in cp.stdout, 'withdraw: %r' % cp.stdout)
    wait_find('uk.westyorks', 'uk.london.lewisham.social', [fpr(sign2)],
              pb().KEY_USE_SIGNING, 'withdrawn')
    # The feed records both changes.
    cp = axlectl('uk.london', '--json', 'feed', 'show')
    changes = [x['change'] for x in json.loads(cp.stdout)]
    check(changes.count('KEY_PUBLISHED') == 2 and changes.count('KEY_WITHDRAWN') == 1,
          'feed changes %r' % changes)
    expect_error(grpc.StatusCode.NOT_FOUND, 'uk.london', 'WithdrawKey',
                 pb().WithdrawKeyRequest(fingerprint=bytes.fromhex(fpr(e['sign1']))),
                 cred=e['hub'], contains=(fpr(e['sign1']),))
    e['sign2'] = sign2


@test
def sealing_key_with_a_scope():
    e = env()
    seal = e['fed'].issue('hub-seal', HUB, name='seal1')
    call('uk.london', 'PublishKey', pb().PublishKeyRequest(
        registrar_id='lewisham', use=pb().KEY_USE_SEALING, certificate=der(seal),
        scope='UK.London.Lewisham.Social'))		# an admin, for the registrar
    wait_find('uk.westyorks', 'uk.london.lewisham.social.team1', [fpr(seal)],
              pb().KEY_USE_SEALING, 'scoped')
    r = find('uk.westyorks', 'uk.london.lewisham.schools', pb().KEY_USE_SEALING)
    check(not r.keys and 'no sealing key' in r.reason, 'outside the scope: %r' % r)
    # Both uses at once (UNSPECIFIED).
    r = find('uk.westyorks', 'uk.london.lewisham.social')
    check(sorted(k.use for k in r.keys) == [pb().KEY_USE_SIGNING, pb().KEY_USE_SEALING],
          'both uses: %r' % [k.use for k in r.keys])
    expect_error(grpc.StatusCode.PERMISSION_DENIED, 'uk.london', 'PublishKey',
                 pb().PublishKeyRequest(use=pb().KEY_USE_SEALING, certificate=der(seal),
                                        scope='uk.london.camden'),
                 cred=e['hub'], contains=('scope', 'outside'))


@test
def wrong_certificates_refused():
    e = env()
    p, fed = pb(), e['fed']
    inval = grpc.StatusCode.INVALID_ARGUMENT
    # A TLS certificate (the hub's own member certificate).
    expect_error(inval, 'uk.london', 'PublishKey',
                 p.PublishKeyRequest(use=p.KEY_USE_SIGNING, certificate=der(e['hub'])),
                 cred=e['hub'], contains=('TLS certificate', 'hub-sign'))
    # The wrong key usage: a sealing certificate as a signing key, and the other way.
    seal = fed.issue('hub-seal', HUB, name='seal-wrong')
    expect_error(inval, 'uk.london', 'PublishKey',
                 p.PublishKeyRequest(use=p.KEY_USE_SIGNING, certificate=der(seal)),
                 cred=e['hub'], contains=('envelope-signing',))
    expect_error(inval, 'uk.london', 'PublishKey',
                 p.PublishKeyRequest(use=p.KEY_USE_SEALING, certificate=der(e['sign2'])),
                 cred=e['hub'], contains=('payload-sealing',))
    # Another registrar's certificate.
    camden = fed.issue('hub-sign', 'uk.london.camden.hub', name='camden-sign')
    expect_error(grpc.StatusCode.PERMISSION_DENIED, 'uk.london', 'PublishKey',
                 p.PublishKeyRequest(use=p.KEY_USE_SIGNING, certificate=der(camden)),
                 cred=e['hub'], contains=('not registrar lewisham',))
    # A member acting for another registrar.
    expect_error(grpc.StatusCode.PERMISSION_DENIED, 'uk.london', 'PublishKey',
                 p.PublishKeyRequest(registrar_id='lewisham', use=p.KEY_USE_SIGNING,
                                     certificate=der(camden)),
                 cred=e['camden_hub'], contains=('camden',))
    # A certificate of a CA the node does not trust (same federation name).
    rogue = make_ca(e['ws'], FED, subdir='rogue')
    other = rogue.issue('hub-sign', HUB, name='rogue-sign')
    expect_error(inval, 'uk.london', 'PublishKey',
                 p.PublishKeyRequest(use=p.KEY_USE_SIGNING, certificate=der(other)),
                 cred=e['hub'], contains=("federation's CA",))
    # An expired certificate.
    old = fed.issue('hub-sign', HUB, name='old-sign', start=utc_stamp(-7200), end=utc_stamp(-3600))
    expect_error(inval, 'uk.london', 'PublishKey',
                 p.PublishKeyRequest(use=p.KEY_USE_SIGNING, certificate=der(old)),
                 cred=e['hub'], contains=('expired',))
    # Not a certificate at all; and axlectl says what is wrong with a bad fingerprint.
    expect_error(inval, 'uk.london', 'PublishKey',
                 p.PublishKeyRequest(use=p.KEY_USE_SIGNING, certificate=b'\x30\x03\x02\x01\x01'),
                 cred=e['hub'])
    cp = axlectl('uk.london', 'keys', 'withdraw', 'abc', cred=e['hub'], check_rc=False)
    check(cp.returncode == 2 and '64 hex digits' in cp.stderr, 'bad fingerprint: %r' % cp.stderr)
    # Nothing of that reached the register.
    r = find('uk.london', 'uk.london.lewisham.social', p.KEY_USE_SIGNING)
    check(fingerprints(r) == [fpr(e['sign2'])], 'after refusals: %r' % fingerprints(r))


@test
def revoked_or_rehomed_registrar_has_no_keys():
    e = env()
    axlectl('uk.london', 'registrar', 'revoke', 'lewisham', '--reason', 'left the federation')

    def gone():
        r = find('uk.westyorks', 'uk.london.lewisham.social')
        return r if not r.keys else None
    r = wait_for(gone, MIRROR_WAIT, interval=0.1, what='revocation reaches the mirror')
    check('revoked' in r.reason and r.registrar_id == 'lewisham', 'reason %r' % r.reason)
    r = find('uk.london', 'uk.london.lewisham.social')
    check(not r.keys and 'revoked' in r.reason, 'local: %r' % r)
    cp = axlectl('uk.london', 'keys', 'find', 'uk.london.lewisham.social', cred=e['leeds_hub'])
    check('no keys' in cp.stdout and 'revoked' in cp.stdout, 'table: %r' % cp.stdout)
    # Re-homed: the prefix answers its successor's keys, never the revoked registrar's.
    axlectl('uk.london', 'registrar', 'rehome', 'lewisham', 'camden', '--reason', 'merged')

    def successor():
        r = find('uk.westyorks', 'uk.london.lewisham.social')
        return r if r.registrar_id == 'camden' else None
    r = wait_for(successor, MIRROR_WAIT, interval=0.1, what='re-home reaches the mirror')
    check(not r.keys and 'camden publishes no key' in r.reason, 're-homed: %r' % r)
    # Nothing covers an unknown address.
    r = find('uk.westyorks', 'uk.london.nobody')
    check(not r.keys and 'no registrar' in r.reason, 'unknown: %r' % r)


if __name__ == '__main__':
    main()

"""test_signed_envelopes.py -- signed envelopes and signed trace hops (docs/protocol.md "Signed
envelopes") across three real nodes: hub -> uk.london -> uk -> uk.westyorks -> hub.

- a hub written in Python (grpcio + Debian's python3-cryptography, envsig.py written from
  protocol.md) signs an envelope; it crosses two forwards, every node signs its hop and the
  next verifies it, and `axlectl fetch` verifies the hub's signature with the certificate
  the register publishes for the sender (and with --signer-cert's, given);
- a payload changed after signing is refused on Send (PERMISSION_DENIED, "trust:");
- a header field changed after signing is refused on Send, the signer's certificate being
  published in the register (axlectl keys publish); signed with a key the register does not
  hold, the node takes it unverified and `axlectl fetch` catches it (SIGNATURE FAILED, exit 1),
  with --signer-cert, or from the register once that key is published there; a key the
  register does not publish, or a sender whose registrar publishes none, is "unverified";
- `axlectl send` signs with --sign-key/--sign-cert, and says so when it has no key;
- a hostile peer (uk.london's own node key, as if compromised) rewriting an earlier trace hop
  is refused by the next node, while the same envelope with its true trace is taken;
- a node that requires signatures ([trust] require_signed, set live by SIGHUP) refuses an
  unsigned forwarded envelope: the sender gets a REFUSED receipt naming why.

The hub's signing key is made here at run time; no private key is committed.
"""

import hashlib
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import axletest as at  # noqa: E402
from axletest import check, main, test, wait_for  # noqa: E402
import envsig  # noqa: E402
import switchtest as st  # noqa: E402

import grpc  # noqa: E402
from cryptography import x509  # noqa: E402
from cryptography.hazmat.primitives import serialization  # noqa: E402

LON, UK, WY = 'uk.london', 'uk', 'uk.westyorks'
LON_HUB, WY_HUB = 'uk.london.hub', 'uk.westyorks.hub'
_env = {}


def _read(path):
    with open(path, 'rb') as f:
        return f.read()


def signing_key(ws, name):
    """A hub's P-256 signing key and certificate (key path, cert path)."""
    return at.p256_key_cert(ws, 'sign-' + name, 'digitalSignature', '%s signing' % name)


@at.shared_env(_env)
def env():
    f = st.Fed(prefix='axle-sign-')
    _env['f'] = f
    f.leaf_hubs()
    f.wait_resolves(LON, WY_HUB, 'wy-hub')
    f.wait_resolves(WY, LON_HUB, 'lon-hub')
    # The hub's signing certificate (axle-cert-issue hub-sign), published in the register
    # by the hub; every node on the way finds it (uk.london's register, the others' mirrors).
    sign = f.fed.issue('hub-sign', LON_HUB, name='lon-sign')
    key, cert = sign.key, sign.cert
    _env['key_path'], _env['cert_path'] = key, cert
    f.axlectl(LON, 'keys', 'publish', '--use', 'signing', cert, cred=f.fed.member(LON))
    fp = hashlib.sha256(x509.load_pem_x509_certificate(_read(cert)).public_bytes(
        serialization.Encoding.DER)).digest()
    rp = f.stubs.registry_pb2
    for r in (LON, UK, WY):
        wait_for(lambda: [k.fingerprint for k in f.registry(r, 'FindKeys', rp.FindKeysRequest(
            address=LON_HUB, use=rp.KEY_USE_SIGNING)).keys] == [fp], 30, interval=0.2,
            what='the signing certificate found at %s' % r)
    _env['fp'] = fp.hex()
    _env['lon_registrar'] = f.registry(WY, 'FindKeys', rp.FindKeysRequest(
        address=LON_HUB, use=rp.KEY_USE_SIGNING)).registrar_id
    # A key the register does not hold (self-signed): nodes cannot check it.
    _env['rogue_key_path'], _env['rogue_cert_path'] = signing_key(f.ws, 'rogue')
    _env['key'] = serialization.load_pem_private_key(_read(key), None)
    _env['cert'] = x509.load_pem_x509_certificate(_read(cert))
    _env['lon'] = f.hub(LON, f.fed.member(LON))
    _env['wy'] = f.hub(WY, f.fed.member(WY))


def signed(env_msg, key=None, cert=None):
    env_msg.created_ms = int(time.time() * 1000)
    return envsig.sign(env_msg, key or _env['key'], cert or _env['cert'])


def wy_fetch(*extra, check_rc=True):
    """axlectl --json fetch at uk.westyorks as its hub: (completed process, deliveries)."""
    f = _env['f']
    cp = f.axlectl(WY, '--json', 'fetch', '--max', '1', '--wait-ms', '10000', *extra,
                   cred=f.fed.member(WY), check_rc=check_rc)
    return cp, (json.loads(cp.stdout) if cp.stdout.strip() else [])


def wait_delivery(ctx, signer_cert=None):
    """Fetches at uk.westyorks (with --signer-cert signer_cert if given, else verifying
    with the register's keys) until the message of context ctx arrives; acknowledges it.
    Returns (completed process, delivery)."""
    f = _env['f']
    extra = ('--signer-cert', signer_cert) if signer_cert else ()

    def got():
        cp, ds = wy_fetch(*extra, '--visibility-ms', '60000', check_rc=False)
        for d in ds:
            f.axlectl(WY, 'ack', d['envelope']['message_id'], cred=f.fed.member(WY))
            if d['envelope'].get('context') == ctx:
                return cp, d
        return None
    return wait_for(got, 60, interval=0.2, what='message %s at %s' % (ctx, WY_HUB))


def metric(region, name):
    f = _env['f']
    return f.nodes[region].metrics(f.fed.admin(region)).get(name, 0)


@test(timeout=180)
def python_hub_signs_through_three_nodes():
    env()
    f, lon, wy = _env['f'], _env['lon'], _env['wy']
    hops_uk, hops_wy = (metric(UK, 'axle_trust_verified_total{what="hop"}'),
                        metric(WY, 'axle_trust_verified_total{what="hop"}'))
    envs = {r: metric(r, 'axle_trust_verified_total{what="envelope"}') for r in (LON, UK, WY)}
    e = signed(lon.envelope(LON_HUB, to=WY_HUB, context='signed-1', payload=b'referral 1'))
    lon.send(e)
    got = wy.drain(lambda ds: any(d.envelope.message_id == e.message_id for d in ds),
                   timeout=60, what='the signed message at uk.westyorks.hub')
    d = [d for d in got if d.envelope.message_id == e.message_id][0].envelope
    check(d.signature == e.signature, 'the signature changed on the way')
    check([h.region for h in d.trace] == [LON, UK, WY], 'trace %r' % list(d.trace))
    # Each hop is signed by its node's key (its TLS certificate) over the envelope as the
    # hub signed it and the hop before: checked here in Python, as another hub would.
    digest = envsig.digest(envsig.fields_of(e))
    prev = b''
    for h in d.trace:
        cert = x509.load_pem_x509_certificate(_read(f.fed.node(h.region).cert))
        check(h.key_identity == envsig.cert_id(cert), 'hop of %s: key_identity' % h.region)
        check(envsig.verify(cert.public_key(), envsig.hop_canonical(
            digest, prev, h.region, h.at_ms, h.redirect_case), h.signature),
            'hop of %s does not verify in Python' % h.region)
        prev = h.signature
    # Each node verified the hops before its own.
    check(metric(UK, 'axle_trust_verified_total{what="hop"}') >= hops_uk + 1, 'uk verified no hop')
    check(metric(WY, 'axle_trust_verified_total{what="hop"}') >= hops_wy + 2,
          'uk.westyorks did not verify both hops before it')
    # Each node verified the hub's signature with the certificate the register publishes.
    for r in (LON, UK, WY):
        check(metric(r, 'axle_trust_verified_total{what="envelope"}') >= envs[r] + 1,
              '%s did not verify the hub signature' % r)
    # axlectl fetch verifies the hub's signature with the certificate the register
    # publishes for the sender (no --signer-cert), and says whose key it is.
    e = signed(lon.envelope(LON_HUB, to=WY_HUB, context='signed-1b', payload=b'referral 1b'))
    lon.send(e)
    cp, d = wait_delivery('signed-1b')
    check(d['signature'] == 'ok', 'axlectl fetch says %r, not ok' % d.get('signature'))
    check(d.get('signed_by') == '%s of %s' % (_env['fp'], _env['lon_registrar']),
          'signed_by %r' % d.get('signed_by'))
    check(d['envelope']['signature']['key_identity'] == envsig.cert_id(_env['cert']).hex(),
          'key_identity in --json: %r' % d['envelope']['signature'])
    # With --signer-cert, with that file's certificates.
    e = signed(lon.envelope(LON_HUB, to=WY_HUB, context='signed-1c', payload=b'referral 1c'))
    lon.send(e)
    cp, d = wait_delivery('signed-1c', _env['cert_path'])
    check(d['signature'] == 'ok' and 'signed_by' not in d, 'with --signer-cert: %r' % d)
    # People read it under the message's row.
    e = signed(lon.envelope(LON_HUB, to=WY_HUB, context='signed-1d', payload=b'referral 1d'))
    lon.send(e)
    out = wait_text('signed-1d')
    check('signature OK (key %s of %s)' % (_env['fp'], _env['lon_registrar']) in out,
          'fetch printed %r' % out)


def wait_text(ctx):
    """axlectl fetch (a table) at uk.westyorks, one message a call, until the message of
    context ctx comes; acknowledges what it fetched. Returns that call's stdout."""
    f = _env['f']

    def got():
        cp = f.axlectl(WY, 'fetch', '--max', '1', '--wait-ms', '10000', '--visibility-ms',
                       '60000', cred=f.fed.member(WY), check_rc=False)
        lines = cp.stdout.splitlines()
        if len(lines) < 2 or not lines[0].startswith('ID'):
            return None
        f.axlectl(WY, 'ack', lines[1].split()[0], cred=f.fed.member(WY))
        return cp.stdout if ctx in lines[1].split() else None
    return wait_for(got, 60, interval=0.2, what='message %s at %s' % (ctx, WY_HUB))


@test(timeout=60)
def changed_payload_refused_on_send():
    env()
    lon = _env['lon']
    e = signed(lon.envelope(LON_HUB, to=WY_HUB, context='signed-2', payload=b'referral 2'))
    e.payload = b'referral 2, changed'
    try:
        lon.send(e)
        raise at.TestFailure('a payload changed after signing was accepted')
    except grpc.RpcError as err:
        check(err.code() == grpc.StatusCode.PERMISSION_DENIED, 'status %s' % err.code())
        check('trust: signature: payload_digest' in err.details(), 'reason %r' % err.details())
    log = _env['f'].nodes[LON].log_text()
    check('event=trust_refused' in log and 'reason=payload_digest' in log,
          'no trust_refused log line')
    check(b'referral 2' not in _read(_env['f'].nodes[LON].log), 'the payload is in the log')
    check(metric(LON, 'axle_trust_refused_total{reason="payload_digest"}') >= 1, 'not counted')
    # A long sender (a 236-byte address and a 128-byte local id) is logged whole, beside
    # the reason (the two once shared one buffer, and the reason overwrote the sender).
    sender = LON_HUB + '.' + '.'.join(['d' * 60] * 3) + '.' + 'e' * 37 + ':' + 'c' * 128
    e = signed(lon.envelope(sender, to=WY_HUB, context='signed-2b', payload=b'referral 2b'))
    e.payload = b'referral 2b, changed'
    try:
        lon.send(e)
        raise at.TestFailure('a payload changed after signing was accepted')
    except grpc.RpcError as err:
        check(err.code() == grpc.StatusCode.PERMISSION_DENIED, 'status %s' % err.code())
    lines = [l for l in _env['f'].nodes[LON].log_text().splitlines()
             if 'event=trust_refused' in l and e.message_id.hex() in l]
    check(lines and ('sender="%s" reason=payload_digest detail="signature: payload_digest '
                     'is not the SHA-256 of the payload' % sender) in lines[-1],
          'the sender and the reason are not logged whole: %r' % lines)


@test(timeout=60)
def changed_header_refused_on_send():
    env()
    lon = _env['lon']
    e = signed(lon.envelope(LON_HUB, to=WY_HUB, context='signed-3a', payload=b'referral 3a'))
    e.message_type = 'note.v2'      # after signing
    try:
        lon.send(e)
        raise at.TestFailure('a header changed after signing was accepted')
    except grpc.RpcError as err:
        check(err.code() == grpc.StatusCode.PERMISSION_DENIED, 'status %s' % err.code())
        check('trust: signature: does not verify' in err.details(), 'reason %r' % err.details())
    check(metric(LON, 'axle_trust_refused_total{reason="bad_signature"}') >= 1, 'not counted')


@test(timeout=120)
def changed_header_caught_by_fetch():
    env()
    lon = _env['lon']
    rogue_key = serialization.load_pem_private_key(_read(_env['rogue_key_path']), None)
    rogue_cert = x509.load_pem_x509_certificate(_read(_env['rogue_cert_path']))
    before = metric(LON, 'axle_trust_unverified_total{what="envelope"}')
    e = signed(lon.envelope(LON_HUB, to=WY_HUB, context='signed-3', payload=b'referral 3'),
               rogue_key, rogue_cert)
    e.message_type = 'note.v2'      # after signing
    lon.send(e)                     # no published certificate: taken unverified
    check(metric(LON, 'axle_trust_unverified_total{what="envelope"}') == before + 1,
          'not counted as unverified')
    cp, d = wait_delivery('signed-3', _env['rogue_cert_path'])
    check(cp.returncode == 1, 'fetch exit %d with a failed signature' % cp.returncode)
    check('SIGNATURE FAILED' in cp.stderr and 'do not trust' in cp.stderr,
          'fetch did not say so: %r' % cp.stderr)
    check(d['signature'].startswith('failed: signature: does not verify'), d['signature'])


@test(timeout=180)
def fetch_checks_with_the_register():
    env()
    f, lon, wy = _env['f'], _env['lon'], _env['wy']
    rogue_key = serialization.load_pem_private_key(_read(_env['rogue_key_path']), None)
    rogue_cert = x509.load_pem_x509_certificate(_read(_env['rogue_cert_path']))
    # A key the register does not publish for the sender: unverified, not failed.
    e = signed(lon.envelope(LON_HUB, to=WY_HUB, context='reg-1', payload=b'referral r1'),
               rogue_key, rogue_cert)
    lon.send(e)
    cp, d = wait_delivery('reg-1')
    check(cp.returncode == 0, 'fetch exit %d: %r' % (cp.returncode, cp.stderr))
    check(d['signature'] == 'unverified: signature: key %s is not among the 1 signing key(s) '
          'registrar %s publishes for the sender' % (envsig.cert_id(rogue_cert).hex(),
                                                     _env['lon_registrar']), d['signature'])
    # A sender whose registrar publishes no signing key: unverified, and why.
    e = signed(wy.envelope(WY_HUB, to=WY_HUB, context='reg-2', payload=b'referral r2'),
               rogue_key, rogue_cert)
    wy.send(e)
    cp, d = wait_delivery('reg-2')
    check(cp.returncode == 0, 'fetch exit %d: %r' % (cp.returncode, cp.stderr))
    check(d['signature'].startswith('unverified: signature: the sender\'s registrar ') and
          'publishes no signing key' in d['signature'], d['signature'])
    # A header changed after signing with a key the nodes do not know yet (so they take
    # it unverified), published before the hub fetches: fetch catches it from the register.
    sign2 = f.fed.issue('hub-sign', LON_HUB, name='lon-sign-2')
    key2 = serialization.load_pem_private_key(_read(sign2.key), None)
    cert2 = x509.load_pem_x509_certificate(_read(sign2.cert))
    e = signed(lon.envelope(LON_HUB, to=WY_HUB, context='reg-3', payload=b'referral r3'),
               key2, cert2)
    e.message_type = 'note.v2'      # after signing
    lon.send(e)
    mid = e.message_id
    lon.drain(lambda got: any(
        lon.is_receipt(d) and lon.receipt_of(d).message_id == mid and
        lon.receipt_of(d).kind == lon.pb.RECEIPT_KIND_DELIVERED for d in got),
        timeout=60, what='the DELIVERED receipt of reg-3')    # in the mailbox, unverified
    f.axlectl(LON, 'keys', 'publish', '--use', 'signing', sign2.cert, cred=f.fed.member(LON))
    rp = f.stubs.registry_pb2
    wait_for(lambda: envsig.cert_id(cert2) in [k.fingerprint for k in f.registry(
        WY, 'FindKeys', rp.FindKeysRequest(address=LON_HUB, use=rp.KEY_USE_SIGNING)).keys],
        30, interval=0.2, what='the second signing certificate found at %s' % WY)
    cp, d = wait_delivery('reg-3')
    check(cp.returncode == 1, 'fetch exit %d with a failed signature' % cp.returncode)
    check('SIGNATURE FAILED: signature: does not verify' in cp.stderr and
          'do not trust' in cp.stderr, 'fetch did not say so: %r' % cp.stderr)
    check(d['signature'].startswith('failed: signature: does not verify'), d['signature'])
    check('signed_by' not in d, 'signed_by with a failed signature: %r' % d)


@test(timeout=120)
def axlectl_send_signs():
    env()
    f = _env['f']
    payload = os.path.join(f.ws.path, 'p4')
    with open(payload, 'wb') as fp:
        fp.write(b'referral 4')
    cp = f.axlectl(LON, '--sign-key', _env['key_path'], '--sign-cert', _env['cert_path'],
                   'send', '--to', WY_HUB, '--from', LON_HUB, '--type', 'note.v1',
                   '--context', 'signed-4', '--payload-file', payload, cred=f.fed.member(LON))
    check('unsigned' not in cp.stderr, 'stderr %r' % cp.stderr)
    _, d = wait_delivery('signed-4')
    check(d['signature'] == 'ok', 'signature %r' % d.get('signature'))
    sig = d['envelope']['signature']
    check(sig['key_identity'] == envsig.cert_id(_env['cert']).hex(), 'key identity %r' % sig)
    check(sig['payload_digest'] == hashlib.sha256(b'referral 4').hexdigest(), 'digest %r' % sig)
    # Without a key: sent unsigned, and said.
    cp = f.axlectl(LON, 'send', '--to', WY_HUB, '--from', LON_HUB, '--type', 'note.v1',
                   '--context', 'signed-5', cred=f.fed.member(LON))
    check('no signing key configured' in cp.stderr, 'stderr %r' % cp.stderr)
    _, d = wait_delivery('signed-5')
    check(d['signature'] == 'unsigned', 'signature %r' % d.get('signature'))


def forward_as_london(env_msg):
    """uk.london's node key calls Axle.Forward on uk with env_msg: the ForwardResult."""
    f = _env['f']
    cred = f.fed.node(LON)
    with f.channel(UK, cred) as ch:
        stub = f.stubs.axle_pb2_grpc.AxleStub(ch)
        r = stub.Forward(f.stubs.axle_pb2.ForwardRequest(envelopes=[env_msg]), timeout=10)
    return r.results[0]


def sign_hop(env_msg, region, at_ms, key, cert):
    """Appends a hop of region signed with (key, cert) (cryptography objects)."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    prev = env_msg.trace[-1].signature if len(env_msg.trace) else b''
    h = env_msg.trace.add(region=region, at_ms=at_ms)
    form = envsig.hop_canonical(envsig.digest(envsig.fields_of(env_msg)), prev, region, at_ms, '')
    h.signature = key.sign(form, ec.ECDSA(hashes.SHA256()))
    h.key_identity = envsig.cert_id(cert)
    return h


@test(timeout=120)
def forged_earlier_hop_refused():
    env()
    f = _env['f']
    lon = _env['lon']
    lkey = serialization.load_pem_private_key(_read(f.fed.node(LON).key), None)
    lcert = x509.load_pem_x509_certificate(_read(f.fed.node(LON).cert))
    wcert = x509.load_pem_x509_certificate(_read(f.fed.node(WY).cert))
    now = int(time.time() * 1000)

    # The true journey: only uk.london's own hop. Taken.
    e = signed(lon.envelope(LON_HUB, to=WY_HUB, context='hop-true', payload=b'referral 6'))
    e.hop_limit = 16
    sign_hop(e, LON, now, lkey, lcert)
    r = forward_as_london(e)
    check(r.outcome == f.stubs.axle_pb2.FORWARD_OUTCOME_COMMITTED, 'true trace: %r' % r)
    wait_delivery('hop-true')

    # A hostile uk.london claims the message passed uk.westyorks first: a hop of that
    # region with that node's key identity, signed with its own key; its own hop after
    # it is honestly signed (over the forged one).
    refused = metric(UK, 'axle_trust_refused_total{reason="hop"}')
    e = signed(lon.envelope(LON_HUB, to=WY_HUB, context='hop-forged', payload=b'referral 7'))
    e.hop_limit = 16
    forged = sign_hop(e, WY, now - 1000, lkey, lcert)
    forged.key_identity = envsig.cert_id(wcert)
    sign_hop(e, LON, now, lkey, lcert)
    r = forward_as_london(e)
    check(r.outcome == f.stubs.axle_pb2.FORWARD_OUTCOME_REFUSED, 'forged trace taken: %r' % r)
    check(r.reason.startswith('trust: trace[0]: the hop of uk.westyorks does not verify'),
          'reason %r' % r.reason)
    check(metric(UK, 'axle_trust_refused_total{reason="hop"}') == refused + 1, 'not counted')
    check('event=trust_refused' in f.nodes[UK].log_text(), 'not logged')

    # Rewriting a true hop after the fact (its time) breaks it just the same.
    e = signed(lon.envelope(LON_HUB, to=WY_HUB, context='hop-rewritten', payload=b'referral 8'))
    e.hop_limit = 16
    sign_hop(e, LON, now, lkey, lcert)
    e.trace[0].at_ms = now - 60000
    r = forward_as_london(e)
    check(r.outcome == f.stubs.axle_pb2.FORWARD_OUTCOME_REFUSED and 'trace[0]' in r.reason,
          'rewritten hop taken: %r' % r)


@test(timeout=180)
def required_signature_refused_with_receipt():
    env()
    f = _env['f']
    lon = _env['lon']
    wy = f.nodes[WY]
    wy.extra += '\n[trust]\nrequire_signed = yes\n'
    wy.write_config()
    wy.hup()
    try:
        e = lon.envelope(LON_HUB, to=WY_HUB, context='unsigned-1', payload=b'referral 9')
        lon.send(e)
        mid = e.message_id
        ds = lon.drain(lambda got: any(
            lon.is_receipt(d) and lon.receipt_of(d).message_id == mid and
            lon.receipt_of(d).kind == lon.pb.RECEIPT_KIND_REFUSED for d in got),
            timeout=60, what='REFUSED receipt')
        r = [lon.receipt_of(d) for d in ds if lon.is_receipt(d) and
             lon.receipt_of(d).kind == lon.pb.RECEIPT_KIND_REFUSED][0]
        check('node uk.westyorks refused it: trust: signature: the envelope is not signed'
              in r.detail, 'detail %r' % r.detail)
        check(metric(WY, 'axle_trust_refused_total{reason="unsigned"}') >= 1, 'not counted')
    finally:
        wy.extra = wy.extra.replace('\n[trust]\nrequire_signed = yes\n', '')
        wy.write_config()
        wy.hup()


if __name__ == '__main__':
    main()

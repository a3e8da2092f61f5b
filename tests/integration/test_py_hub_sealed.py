"""test_py_hub_sealed.py -- a hub written in Python (grpcio + Debian's python3-cryptography)
and an axlectl hub exchange signed, sealed messages through three real nodes
(uk.london.hub -> uk.london -> uk -> uk.westyorks -> uk.westyorks.hub, and back):

- the Python hub finds the recipient's sealing certificate in the register (FindKeys),
  seals a marker to it (cms_seal.py: CMS AuthEnvelopedData, ECDH P-256, AES-256-GCM,
  from primitives), signs the envelope (envsig.py) and sends it; `axlectl fetch
  --seal-key --signer-cert` at the other end verifies the signature and opens it;
- `axlectl send` signs and seals to the Python hub's sealing certificate published in
  the register; the Python hub fetches with grpcio, verifies the signature against the
  sender's published signing certificate and opens the payload with cms_seal.py;
- what Python sealed opens with `openssl cms -decrypt` (with and without -recip), what
  `openssl cms -encrypt` sealed opens in Python, and a changed byte or another key does
  not open.

Every key is made here at run time (certs/ axle-cert-issue hub-sign, hub-seal); none is
committed.
"""

import base64
import hashlib
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import axletest as at  # noqa: E402
from axletest import check, main, test, wait_for  # noqa: E402
import cms_seal  # noqa: E402
import envsig  # noqa: E402
import switchtest as st  # noqa: E402

from cryptography import x509  # noqa: E402
from cryptography.hazmat.primitives import serialization  # noqa: E402

LON, UK, WY = 'uk.london', 'uk', 'uk.westyorks'
LON_HUB, WY_HUB = 'uk.london.hub', 'uk.westyorks.hub'
SEALED_CT = 'application/pkcs7-mime; smime-type=authEnveloped-data'
_env = {}


def _read(path):
    with open(path, 'rb') as f:
        return f.read()


def marker(n):
    return ('PYSEAL-MARKER-41c7-%d: a child protection referral' % n).encode()


def publish(region, use, cred):
    """The hub of region publishes cred's certificate for use (signing or sealing)."""
    f = _env['f']
    f.axlectl(region, 'keys', 'publish', '--use', use, cred.cert, cred=f.fed.member(region))


def find_keys(region, address, use, want):
    """FindKeys at region, as that region's hub, until the certificates of `want` (Creds)
    are the ones found: the certificates (cryptography x509), as a hub would find them."""
    f = _env['f']
    rp = f.stubs.registry_pb2
    fps = sorted(envsig.cert_id(x509.load_pem_x509_certificate(_read(c.cert))) for c in want)

    def found():
        r = f.registry(region, 'FindKeys', rp.FindKeysRequest(address=address, use=use),
                       cred=f.fed.member(region))
        return r.keys if sorted(k.fingerprint for k in r.keys) == fps else None
    keys = wait_for(found, 30, interval=0.2, what='%s keys of %s at %s' % (use, address, region))
    return [x509.load_der_x509_certificate(k.certificate) for k in keys]


@at.shared_env(_env)
def env():
    f = st.Fed(prefix='axle-pyseal-')
    _env['f'] = f
    f.leaf_hubs()
    f.wait_resolves(LON, WY_HUB, 'wy-hub')
    f.wait_resolves(WY, LON_HUB, 'lon-hub')
    iss = f.fed.issue
    _env.update(lon_sign=iss('hub-sign', LON_HUB, name='lon-sign'),
                lon_seal=iss('hub-seal', LON_HUB, name='lon-seal'),
                wy_sign=iss('hub-sign', WY_HUB, name='wy-sign'),
                wy_seal=iss('hub-seal', WY_HUB, name='wy-seal'))
    publish(LON, 'signing', _env['lon_sign'])
    publish(LON, 'sealing', _env['lon_seal'])
    publish(WY, 'signing', _env['wy_sign'])
    publish(WY, 'sealing', _env['wy_seal'])
    _env['lon'] = f.hub(LON, f.fed.member(LON))


def key_of(cred):
    return serialization.load_pem_private_key(_read(cred.key), None)


def cert_of(cred):
    return x509.load_pem_x509_certificate(_read(cred.cert))


def py_send(ctx, sealed):
    """The Python hub sends a sealed payload to uk.westyorks.hub, signed (envsig.py)."""
    lon = _env['lon']
    e = lon.envelope(LON_HUB, to=WY_HUB, context=ctx, payload=sealed)
    e.content_type = SEALED_CT
    e.created_ms = int(time.time() * 1000)      # the signature covers it
    envsig.sign(e, key_of(_env['lon_sign']), cert_of(_env['lon_sign']))
    lon.send(e)


def wy_fetch_until(ctx, *extra):
    """axlectl --json fetch at uk.westyorks as its hub until the message of context ctx
    arrives (others are acknowledged); acknowledges it: (completed process, delivery)."""
    f = _env['f']

    def got():
        cp = f.axlectl(WY, '--json', 'fetch', '--max', '1', '--wait-ms', '5000',
                       '--visibility-ms', '60000', *extra, cred=f.fed.member(WY),
                       check_rc=False)
        for d in (json.loads(cp.stdout) if cp.stdout.strip() else []):
            f.axlectl(WY, 'ack', d['envelope']['message_id'], cred=f.fed.member(WY))
            if d['envelope'].get('context') == ctx:
                return cp, d
        return None
    return wait_for(got, 60, interval=0.2, what='message %s at %s' % (ctx, WY_HUB))


def openssl_open(sealed, cred, recip=True):
    args = ['openssl', 'cms', '-decrypt', '-binary', '-inform', 'DER', '-inkey', cred.key]
    if recip:
        args += ['-recip', cred.cert]
    cp = subprocess.run(args, input=sealed, capture_output=True, timeout=30)
    check(cp.returncode == 0, 'openssl cms -decrypt failed: %s' % cp.stderr.decode())
    return cp.stdout


@test(timeout=180)
def python_hub_seals_axlectl_opens():
    env()
    f = _env['f']
    # The Python hub finds uk.westyorks.hub's sealing certificate in its own node's
    # register (uk.london mirrors uk.westyorks'), seals to it, then signs.
    certs = find_keys(LON, WY_HUB, f.stubs.registry_pb2.KEY_USE_SEALING, [_env['wy_seal']])
    m = marker(1)
    sealed = cms_seal.seal(m, certs)
    check(m not in sealed, 'the marker is readable in the sealed payload')
    py_send('pyseal-1', sealed)
    _env['py_sealed'] = sealed
    save = os.path.join(f.ws.path, 'opened-1')
    cp, d = wy_fetch_until('pyseal-1', '--seal-key', _env['wy_seal'].key, '--seal-cert',
                           _env['wy_seal'].cert, '--signer-cert', _env['lon_sign'].cert,
                           '--save', save)
    check(cp.returncode == 0, 'fetch exit %d: %s' % (cp.returncode, cp.stderr))
    check(d['signature'] == 'ok', 'signature %r' % d.get('signature'))
    check(d['envelope'].get('content_type') == SEALED_CT, 'content_type %r'
          % d['envelope'].get('content_type'))
    check(base64.b64decode(d['envelope']['payload']) == sealed, 'the sealed payload changed')
    check(d.get('sealed', {}).get('opened') is True, 'not opened: %s' % d.get('sealed'))
    check(_read(d['saved']) == m, 'axlectl opened something else')
    # Without the sealing key, axlectl says it is sealed and does not open it.
    py_send('pyseal-1b', cms_seal.seal(m, certs))
    cp, d = wy_fetch_until('pyseal-1b', '--signer-cert', _env['lon_sign'].cert)
    check(d['signature'] == 'ok' and d['sealed']['opened'] is False,
          'without a key: %s %s' % (d.get('signature'), d.get('sealed')))


@test(timeout=180)
def axlectl_seals_python_hub_opens():
    env()
    f, lon = _env['f'], _env['lon']
    # uk.westyorks' register must hold uk.london.hub's sealing key before axlectl seals.
    find_keys(WY, LON_HUB, f.stubs.registry_pb2.KEY_USE_SEALING, [_env['lon_seal']])
    m = marker(2)
    payload = os.path.join(f.ws.path, 'plain-2')
    with open(payload, 'wb') as fp:
        fp.write(m)
    f.axlectl(WY, '--sign-key', _env['wy_sign'].key, '--sign-cert', _env['wy_sign'].cert,
              'send', '--to', LON_HUB, '--from', WY_HUB, '--type', 'note.v1', '--context',
              'pyseal-2', '--payload-file', payload, '--seal', cred=f.fed.member(WY))
    got = lon.drain(lambda ds: any(d.envelope.context == 'pyseal-2' for d in ds), timeout=60,
                    what='the sealed message at %s' % LON_HUB)
    e = [d.envelope for d in got if d.envelope.context == 'pyseal-2'][0]
    # The signature, against the sender's signing certificate found in the register.
    signers = find_keys(LON, WY_HUB, f.stubs.registry_pb2.KEY_USE_SIGNING, [_env['wy_sign']])
    check(e.signature.algorithm == envsig.ALG, 'algorithm %r' % e.signature.algorithm)
    check(e.signature.key_identity == envsig.cert_id(signers[0]), 'key_identity')
    check(e.signature.payload_digest == hashlib.sha256(e.payload).digest(), 'payload_digest')
    check(envsig.verify(signers[0].public_key(), envsig.canonical(envsig.fields_of(e)),
                        e.signature.signature), 'the signature does not verify in Python')
    check(e.content_type == SEALED_CT, 'content_type %r' % e.content_type)
    check(m not in e.payload, 'the marker is readable in the sealed payload')
    lseal = _env['lon_seal']
    check(cms_seal.open_sealed(e.payload, key_of(lseal), cert_of(lseal)) == m,
          'Python opened something else')
    check(cms_seal.open_sealed(e.payload, key_of(lseal)) == m,
          'Python without the certificate opened something else')
    # A key it was not sealed to does not open it.
    try:
        cms_seal.open_sealed(e.payload, key_of(_env['wy_seal']))
        raise at.TestFailure('another key opened it')
    except cms_seal.SealError as err:
        check('no recipient' in str(err), 'reason %r' % str(err))


@test(timeout=120)
def standard_tools_agree():
    env()
    f = _env['f']
    wseal, lseal = _env['wy_seal'], _env['lon_seal']
    sealed = _env.get('py_sealed') or cms_seal.seal(marker(1), [cert_of(wseal)])
    check(openssl_open(sealed, wseal) == marker(1), 'openssl -recip opened something else')
    check(openssl_open(sealed, wseal, recip=False) == marker(1),
          'openssl without -recip opened something else')
    # Sealed to two: each key opens it, with openssl and with Python.
    m = marker(3)
    two = cms_seal.seal(m, [cert_of(wseal), cert_of(lseal)])
    for c in (wseal, lseal):
        check(openssl_open(two, c) == m, 'openssl with %s' % c.cert)
        check(cms_seal.open_sealed(two, key_of(c), cert_of(c)) == m, 'Python with %s' % c.cert)
    # openssl seals (its default KDF, SHA-1 X9.63): Python opens.
    plain = os.path.join(f.ws.path, 'plain-3')
    with open(plain, 'wb') as fp:
        fp.write(m)
    cp = subprocess.run(['openssl', 'cms', '-encrypt', '-aes-256-gcm', '-binary', '-outform',
                         'DER', '-in', plain, wseal.cert], capture_output=True, timeout=30)
    check(cp.returncode == 0, 'openssl cms -encrypt: %s' % cp.stderr.decode())
    check(cms_seal.open_sealed(cp.stdout, key_of(wseal)) == m, 'Python opened something else')
    # One byte changed in the ciphertext: neither opens it.
    bad = bytearray(two)
    bad[-20] ^= 1
    try:
        cms_seal.open_sealed(bytes(bad), key_of(wseal))
        raise at.TestFailure('a changed payload opened')
    except cms_seal.SealError as err:
        check('does not authenticate' in str(err), 'reason %r' % str(err))
    cp = subprocess.run(['openssl', 'cms', '-decrypt', '-binary', '-inform', 'DER', '-inkey',
                         wseal.key], input=bytes(bad), capture_output=True, timeout=30)
    check(cp.returncode != 0 and m not in cp.stdout, 'openssl opened a changed payload')


if __name__ == '__main__':
    main()

"""envsig.py -- signed envelopes from Python, written from docs/protocol.md "Signed envelopes" alone.

A hub in another language than axle's: the canonical form of an envelope's
signed header and of a trace hop, and ECDSA P-256 SHA-256 with Debian's
python3-cryptography. Used by test_envsig_vectors.py (the shared test
vectors in tests/unit/proto/envsig_vectors.json) and test_signed_envelopes.py.
"""

import hashlib
import struct

ALG = 'ecdsa-p256-sha256'
ENV_TAG = b'axle.envelope.v1'
HOP_TAG = b'axle.hop.v1'


def item(b):
    """One item: 4-byte big-endian length, then the bytes."""
    return struct.pack('>I', len(b)) + b


def text(s):
    return item((s or '').encode('utf-8'))


def folded(s):
    """A string whose address part (up to the first ':') is lower-cased in ASCII."""
    s = s or ''
    i = s.find(':')
    addr, rest = (s, '') if i < 0 else (s[:i], s[i:])
    low = ''.join(chr(ord(c) + 32) if 'A' <= c <= 'Z' else c for c in addr)
    return text(low + rest)


def integer(v):
    return item(struct.pack('>q', v))


def canonical(f):
    """The canonical form of an envelope given as a dict of its fields.

    Keys: message_id (bytes), sender, to or to_group (dict: kind, prefix,
    message_type), message_type, context, purpose, created_ms,
    deliver_by_ms, reply_by_ms, failure_policy, content_type, payload (bytes).
    """
    out = item(ENV_TAG) + item(f.get('message_id', b'')) + folded(f.get('sender'))
    if f.get('to_group') is not None:
        g = f['to_group']
        out += text('group') + integer(g.get('kind', 0)) + folded(g.get('prefix')) + \
            text(g.get('message_type'))
    elif f.get('to') is not None:
        out += text('to') + folded(f['to'])
    else:
        out += text('none')
    out += text(f.get('message_type')) + text(f.get('context')) + text(f.get('purpose'))
    for k in ('created_ms', 'deliver_by_ms', 'reply_by_ms', 'failure_policy'):
        out += integer(f.get(k, 0))
    out += text(f.get('content_type'))
    out += item(hashlib.sha256(f.get('payload', b'')).digest())
    return out


def digest(f):
    return hashlib.sha256(canonical(f)).digest()


def hop_canonical(env_digest, prev_sig, region, at_ms, redirect_case):
    return item(HOP_TAG) + item(env_digest) + item(prev_sig or b'') + text(region) + \
        integer(at_ms) + text(redirect_case)


def fields_of(env):
    """The dict canonical() takes, from an axle.v1.Envelope message."""
    f = {k: getattr(env, k) for k in ('message_id', 'sender', 'message_type', 'context',
                                     'created_ms', 'deliver_by_ms', 'reply_by_ms',
                                     'failure_policy', 'content_type', 'payload')}
    f['purpose'] = getattr(env, 'purpose', '') if 'purpose' in env.DESCRIPTOR.fields_by_name else ''
    which = env.WhichOneof('recipient')
    if which == 'to':
        f['to'] = env.to
    elif which == 'to_group':
        f['to_group'] = {'kind': env.to_group.kind, 'prefix': env.to_group.prefix,
                         'message_type': env.to_group.message_type}
    return f


def cert_id(cert):
    """SHA-256 of a certificate's DER (cryptography x509 object)."""
    from cryptography.hazmat.primitives.serialization import Encoding
    return hashlib.sha256(cert.public_bytes(Encoding.DER)).digest()


def sign(env, key, cert):
    """Signs an axle.v1.Envelope in place with a P-256 private key and its certificate."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    env.ClearField('signature')
    env.signature.algorithm = ALG
    env.signature.key_identity = cert_id(cert)
    env.signature.payload_digest = hashlib.sha256(env.payload).digest()
    env.signature.signature = key.sign(canonical(fields_of(env)), ec.ECDSA(hashes.SHA256()))
    return env


def verify(pub, data, sig):
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    try:
        pub.verify(sig, data, ec.ECDSA(hashes.SHA256()))
        return True
    except InvalidSignature:
        return False

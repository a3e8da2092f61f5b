"""cms_seal.py -- sealed payloads from Python, from primitives: CMS AuthEnvelopedData.

A hub in another language than axle's seals a payload as axlectl and `openssl cms` do
(docs/security.md "Sealed payloads"), with only the primitives of Debian 12's
python3-cryptography (which cannot build AuthEnvelopedData with ECDH itself):

- RFC 5083 AuthEnvelopedData, content type id-data, no authenticated attributes;
- RFC 5084 id-aes256-GCM, GCMParameters { nonce 12 bytes, ICV length 16 };
- RFC 5753 one KeyAgreeRecipientInfo per recipient certificate: ephemeral-static ECDH
  on P-256 (originatorKey, id-ecPublicKey, an uncompressed point), no ukm,
  dhSinglePass-stdDH-sha256kdf-scheme, the ANSI X9.63 KDF with SHA-256 over the shared
  secret and the DER ECC-CMS-SharedInfo { keyInfo id-aes256-wrap, suppPubInfo 256 },
  the content-encryption key wrapped with id-aes256-wrap (RFC 3394), the recipient named
  by its certificate's issuer and serial number.

open_sealed() reverses it with the recipient's private key; it also takes what OpenSSL
makes by default (dhSinglePass-stdDH-sha1kdf-scheme, X9.63 with SHA-1) and AES-128/192
GCM and key wrap. A minimal DER encoder and decoder are here too: definite lengths only.
Used by test_py_hub_sealed.py.
"""

import hashlib
import os
import struct

OID_DATA = '1.2.840.113549.1.7.1'
OID_AUTH_ENVELOPED = '1.2.840.113549.1.9.16.1.23'
OID_EC_PUBLIC_KEY = '1.2.840.10045.2.1'
OID_SHA256KDF = '1.3.132.1.11.1'            # dhSinglePass-stdDH-sha256kdf-scheme
OID_SHA1KDF = '1.3.133.16.840.63.0.2'       # dhSinglePass-stdDH-sha1kdf-scheme (OpenSSL's default)
KDF_HASH = {OID_SHA256KDF: hashlib.sha256, OID_SHA1KDF: hashlib.sha1}
WRAP_KEYLEN = {'2.16.840.1.101.3.4.1.5': 16, '2.16.840.1.101.3.4.1.25': 24,
               '2.16.840.1.101.3.4.1.45': 32}  # id-aes{128,192,256}-wrap
OID_AES256_WRAP = '2.16.840.1.101.3.4.1.45'
GCM_KEYLEN = {'2.16.840.1.101.3.4.1.6': 16, '2.16.840.1.101.3.4.1.26': 24,
              '2.16.840.1.101.3.4.1.46': 32}   # id-aes{128,192,256}-GCM
OID_AES256_GCM = '2.16.840.1.101.3.4.1.46'
ICV_LEN = 16

# Tags used here.
INTEGER, BIT_STRING, OCTET_STRING, OID, SEQUENCE, SET = 0x02, 0x03, 0x04, 0x06, 0x30, 0x31


class SealError(ValueError):
    """Not a sealed payload this module can open, or not with this key."""


# --- DER encoder ---

def tlv(tag, content):
    n = len(content)
    if n < 0x80:
        head = bytes([n])
    else:
        b = n.to_bytes((n.bit_length() + 7) // 8, 'big')
        head = bytes([0x80 | len(b)]) + b
    return bytes([tag]) + head + content


def seq(*items):
    return tlv(SEQUENCE, b''.join(items))


def set_of(*items):
    return tlv(SET, b''.join(sorted(items)))   # DER: SET OF sorted by encoding


def integer(v):
    return tlv(INTEGER, v.to_bytes(v.bit_length() // 8 + 1, 'big', signed=True))


def octets(b):
    return tlv(OCTET_STRING, b)


def bits(b):
    return tlv(BIT_STRING, b'\x00' + b)


def explicit(n, content):
    """[n] EXPLICIT (constructed context tag) around DER content; also [n] IMPLICIT of a
    constructed type, whose content is the same."""
    return tlv(0xA0 | n, content)


def oid(dotted):
    parts = [int(p) for p in dotted.split('.')]
    out = bytearray([40 * parts[0] + parts[1]])
    for p in parts[2:]:
        chunk = [p & 0x7F]
        p >>= 7
        while p:
            chunk.append(0x80 | (p & 0x7F))
            p >>= 7
        out += bytes(reversed(chunk))
    return tlv(OID, bytes(out))


# --- DER decoder ---

def read(data, pos=0):
    """One TLV at pos: (tag, content, position after it). Definite lengths, one-byte tags."""
    if pos + 2 > len(data):
        raise SealError('DER: truncated at %d' % pos)
    tag, n = data[pos], data[pos + 1]
    if tag & 0x1F == 0x1F:
        raise SealError('DER: multi-byte tag at %d' % pos)
    pos += 2
    if n == 0x80:
        raise SealError('DER: indefinite length at %d (BER, not DER)' % pos)
    if n > 0x80:
        k = n & 0x7F
        if k > 4 or pos + k > len(data):
            raise SealError('DER: bad length at %d' % pos)
        n = int.from_bytes(data[pos:pos + k], 'big')
        pos += k
    if pos + n > len(data):
        raise SealError('DER: content runs past the end at %d' % pos)
    return tag, data[pos:pos + n], pos + n


def children(content):
    """The TLVs inside a constructed value: list of (tag, content, whole encoding)."""
    out, pos = [], 0
    while pos < len(content):
        tag, c, nxt = read(content, pos)
        out.append((tag, c, content[pos:nxt]))
        pos = nxt
    return out


def expect(item, tag, what):
    if item[0] != tag:
        raise SealError('%s: tag 0x%02x, expected 0x%02x' % (what, item[0], tag))
    return item[1]


def oid_text(content):
    vals, v = [], 0
    for b in content:
        v = (v << 7) | (b & 0x7F)
        if not b & 0x80:
            vals.append(v)
            v = 0
    first = min(vals[0] // 40, 2)
    return '.'.join(str(x) for x in [first, vals[0] - 40 * first] + vals[1:])


def one(data, what):
    tag, content, end = read(data)
    if end != len(data):
        raise SealError('%s: %d bytes after the end' % (what, len(data) - end))
    return tag, content


# --- the KDF and the key agreement ---

def shared_info(wrap_alg_der, ukm, keylen):
    """DER ECC-CMS-SharedInfo (RFC 5753 7.2): keyInfo, [0] ukm, [2] key length in bits."""
    return seq(wrap_alg_der, explicit(0, octets(ukm)) if ukm is not None else b'',
               explicit(2, octets(struct.pack('>I', keylen * 8))))


def x963_kdf(hashf, z, info, keylen):
    """ANSI X9.63: Hash(Z || counter || SharedInfo), counter from 1, until keylen bytes."""
    out, counter = b'', 1
    while len(out) < keylen:
        out += hashf(z + struct.pack('>I', counter) + info).digest()
        counter += 1
    return out[:keylen]


def _ec():
    from cryptography.hazmat.primitives.asymmetric import ec
    return ec


def _recipient(cek, cert):
    """A KeyAgreeRecipientInfo ([1] IMPLICIT) sealing cek to cert (cryptography x509)."""
    from cryptography.hazmat.primitives import keywrap, serialization
    ec = _ec()
    pub = cert.public_key()
    if not isinstance(pub, ec.EllipticCurvePublicKey) or pub.curve.name != 'secp256r1':
        raise SealError('certificate %s: not an EC P-256 key' % cert.subject.rfc4514_string())
    eph = ec.generate_private_key(ec.SECP256R1())
    z = eph.exchange(ec.ECDH(), pub)
    wrap_alg = seq(oid(OID_AES256_WRAP))
    kek = x963_kdf(hashlib.sha256, z, shared_info(wrap_alg, None, 32), 32)
    point = eph.public_key().public_bytes(serialization.Encoding.X962,
                                          serialization.PublicFormat.UncompressedPoint)
    originator = explicit(0, explicit(1, seq(oid(OID_EC_PUBLIC_KEY)) + bits(point)))
    rid = seq(cert.issuer.public_bytes(), integer(cert.serial_number))
    rek = seq(seq(rid, octets(keywrap.aes_key_wrap(kek, cek))))
    return explicit(1, integer(3) + originator + seq(oid(OID_SHA256KDF), wrap_alg) + rek)


def seal(plain, certs):
    """plain sealed to every certificate in certs (cryptography x509 objects, EC P-256):
    the DER ContentInfo of an AuthEnvelopedData."""
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM
    if not certs:
        raise SealError('no recipient certificate')
    cek, nonce = os.urandom(32), os.urandom(12)
    sealed = AESGCM(cek).encrypt(nonce, plain, None)
    ciphertext, mac = sealed[:-ICV_LEN], sealed[-ICV_LEN:]
    content_info = seq(oid(OID_DATA),
                       seq(oid(OID_AES256_GCM), seq(octets(nonce), integer(ICV_LEN))),
                       tlv(0x80, ciphertext))    # [0] IMPLICIT OCTET STRING
    aed = seq(integer(0), set_of(*[_recipient(cek, c) for c in certs]), content_info,
              octets(mac))
    return seq(oid(OID_AUTH_ENVELOPED), explicit(0, aed))


# --- opening ---

def _parse_kari(content):
    """A KeyAgreeRecipientInfo's parts: (ephemeral point, ukm, kdf hash, wrap alg DER,
    key length, [(issuer DER, serial, encrypted key)])."""
    items = children(content)
    if len(items) < 4 or items[0][0] != INTEGER or items[0][1] != b'\x03':
        raise SealError('KeyAgreeRecipientInfo: not version 3')
    orig = children(expect(items[1], 0xA0, 'originator'))
    if len(orig) != 1 or orig[0][0] != 0xA1:
        raise SealError('originator: not an originatorKey')
    alg, pubbits = children(orig[0][1])
    if oid_text(expect(children(expect(alg, SEQUENCE, 'originator algorithm'))[0], OID,
                       'originator algorithm')) != OID_EC_PUBLIC_KEY:
        raise SealError('originator key: not id-ecPublicKey')
    point = expect(pubbits, BIT_STRING, 'originator key')[1:]
    rest = items[2:]
    ukm = None
    if rest[0][0] == 0xA1:
        ukm = expect(children(rest[0][1])[0], OCTET_STRING, 'ukm')
        rest = rest[1:]
    kea = children(expect(rest[0], SEQUENCE, 'keyEncryptionAlgorithm'))
    scheme = oid_text(expect(kea[0], OID, 'key agreement scheme'))
    if scheme not in KDF_HASH:
        raise SealError('key agreement scheme %s not supported' % scheme)
    wrap = kea[1] if len(kea) > 1 else None
    if wrap is None or wrap[0] != SEQUENCE:
        raise SealError('no key wrap algorithm')
    wrap_oid = oid_text(expect(children(wrap[1])[0], OID, 'key wrap algorithm'))
    if wrap_oid not in WRAP_KEYLEN:
        raise SealError('key wrap %s not supported' % wrap_oid)
    keys = []
    for rek in children(expect(rest[1], SEQUENCE, 'recipientEncryptedKeys')):
        rid, ek = children(expect(rek, SEQUENCE, 'RecipientEncryptedKey'))
        if rid[0] == SEQUENCE:
            issuer, serial = children(rid[1])
            keys.append((issuer[2], int.from_bytes(serial[1], 'big', signed=True),
                         expect(ek, OCTET_STRING, 'encryptedKey')))
        else:   # rKeyId: matched by trying the key
            keys.append((None, None, expect(ek, OCTET_STRING, 'encryptedKey')))
    return point, ukm, KDF_HASH[scheme], wrap[2], WRAP_KEYLEN[wrap_oid], keys


def _unwrap(kari, key, cert):
    """The content-encryption key from one KeyAgreeRecipientInfo, or None."""
    from cryptography.hazmat.primitives import keywrap
    ec = _ec()
    point, ukm, hashf, wrap_der, keylen, keys = _parse_kari(kari)
    eph = ec.EllipticCurvePublicKey.from_encoded_point(key.curve, point)
    z = key.exchange(ec.ECDH(), eph)
    kek = x963_kdf(hashf, z, shared_info(wrap_der, ukm, keylen), keylen)
    for issuer, serial, ek in keys:
        if cert is not None and issuer is not None and (
                issuer != cert.issuer.public_bytes() or serial != cert.serial_number):
            continue
        try:
            return keywrap.aes_key_unwrap(kek, ek)
        except keywrap.InvalidUnwrap:
            continue
    return None


def open_sealed(data, key, cert=None):
    """The plain payload of a sealed one (DER ContentInfo of AuthEnvelopedData), opened
    with the recipient's private key (cryptography EC key); with cert, only the
    recipients named by its issuer and serial are tried (as `openssl cms -recip`).
    Raises SealError when it is not one or this key does not open it."""
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
    tag, ci = one(data, 'ContentInfo')
    items = children(expect((tag, ci), SEQUENCE, 'ContentInfo'))
    if len(items) != 2 or oid_text(expect(items[0], OID, 'contentType')) != OID_AUTH_ENVELOPED:
        raise SealError('not CMS AuthEnvelopedData')
    aed = children(expect(children(expect(items[1], 0xA0, 'content'))[0], SEQUENCE,
                          'AuthEnvelopedData'))
    if aed[0][:2] != (INTEGER, b'\x00'):
        raise SealError('AuthEnvelopedData: not version 0')
    rest = aed[1:]
    if rest[0][0] == 0xA0:          # originatorInfo: certificates, not needed here
        rest = rest[1:]
    ris, eci, rest = rest[0], rest[1], rest[2:]
    aad = b''
    if rest and rest[0][0] == 0xA1:  # authAttrs: authenticated as a SET OF (RFC 5083 2.2)
        aad = bytes([SET]) + rest[0][2][1:]
        rest = rest[1:]
    mac = expect(rest[0], OCTET_STRING, 'mac')
    cek = None
    for ri in children(expect(ris, SET, 'recipientInfos')):
        if ri[0] == 0xA1 and cek is None:
            cek = _unwrap(ri[1], key, cert)
    if cek is None:
        raise SealError('no recipient of it opens with this key')
    parts = children(expect(eci, SEQUENCE, 'EncryptedContentInfo'))
    alg = children(expect(parts[1], SEQUENCE, 'contentEncryptionAlgorithm'))
    alg_oid = oid_text(expect(alg[0], OID, 'content encryption'))
    if alg_oid not in GCM_KEYLEN or len(cek) != GCM_KEYLEN[alg_oid]:
        raise SealError('content encryption %s not supported' % alg_oid)
    params = children(expect(alg[1], SEQUENCE, 'GCMParameters'))
    nonce = expect(params[0], OCTET_STRING, 'GCM nonce')
    icv = int.from_bytes(params[1][1], 'big') if len(params) > 1 else 12
    if len(mac) != icv:
        raise SealError('mac is %d bytes, GCMParameters say %d' % (len(mac), icv))
    if len(parts) < 3:
        raise SealError('no encrypted content (detached)')
    if parts[2][0] == 0x80:
        ciphertext = parts[2][1]
    else:                           # constructed [0]: octet-string chunks
        ciphertext = b''.join(expect(c, OCTET_STRING, 'content chunk')
                              for c in children(expect(parts[2], 0xA0, 'encryptedContent')))
    d = Cipher(algorithms.AES(cek), modes.GCM(nonce, mac, min_tag_length=len(mac))).decryptor()
    d.authenticate_additional_data(aad)
    try:
        return d.update(ciphertext) + d.finalize()
    except InvalidTag:
        raise SealError('the content does not authenticate (altered on the way)') from None

"""test_envsig_vectors.py -- docs/protocol.md's canonical forms, implemented in Python (envsig.py), match the C library's shared vectors.

tests/unit/proto/test_envsig.c checks the same file against proto/envsig.c,
so the two implementations agree byte for byte: a hub in another language
can sign what every node verifies.
"""

import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from axletest import check, main, test  # noqa: E402
import envsig  # noqa: E402

from cryptography.hazmat.primitives import serialization  # noqa: E402

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
with open(os.path.join(TOP, 'tests', 'unit', 'proto', 'envsig_vectors.json'), encoding='utf-8') as _f:
    VEC = json.load(_f)
PUB = serialization.load_pem_public_key(VEC['public_key_pem'].encode())
BYTES = ('message_id', 'payload')


def fields(v):
    return {k: bytes.fromhex(x) if k in BYTES else x for k, x in v['fields'].items()}


@test
def envelope_forms_match():
    check(len(VEC['envelopes']) >= 3, 'too few vectors')
    for v in VEC['envelopes']:
        f = fields(v)
        can = envsig.canonical(f)
        check(can.hex() == v['canonical'], '%s: canonical form differs' % v['name'])
        check(envsig.digest(f).hex() == v['digest'], '%s: digest differs' % v['name'])
        check(envsig.verify(PUB, can, bytes.fromhex(v['signature'])),
              '%s: vector signature does not verify' % v['name'])


@test
def changed_fields_do_not_verify():
    v = VEC['envelopes'][0]
    sig = bytes.fromhex(v['signature'])
    for k, x in (('message_type', 'referral.v3'), ('context', 'case-18'), ('created_ms', 1),
                 ('to', 'uk.leeds.police'), ('payload', b'{"child":"B"}'), ('purpose', 'early-help')):
        f = fields(v)
        f[k] = x
        check(not envsig.verify(PUB, envsig.canonical(f), sig), 'changed %s still verifies' % k)
    f = fields(v)
    f['sender'] = f['sender'].upper()    # address parts are folded: the same form
    check(envsig.verify(PUB, envsig.canonical(f), sig), 'folded sender no longer verifies')


@test
def hop_forms_match():
    prev = b''
    for h in VEC['hops']:
        can = envsig.hop_canonical(bytes.fromhex(h['digest']), bytes.fromhex(h['previous_signature']),
                                   h['region'], h['at_ms'], h['redirect_case'])
        check(can.hex() == h['canonical'], 'hop %s: canonical form differs' % h['region'])
        check(bytes.fromhex(h['previous_signature']) == prev, 'hop chain broken in the vectors')
        check(envsig.verify(PUB, can, bytes.fromhex(h['signature'])), 'hop %s: does not verify' % h['region'])
        prev = bytes.fromhex(h['signature'])


if __name__ == '__main__':
    main()

"""test_seal.py -- sealed payloads (CMS AuthEnvelopedData, AES-256-GCM, ECDH P-256) between hubs
with standard tools, against one real node (uk.test) and its hub uk.test.hub:

- `axlectl send --seal-to CERT` seals; `openssl cms -decrypt` opens what the hub fetched, and
  the content type says it is sealed;
- `openssl cms -encrypt -aes-256-gcm` seals; `axlectl fetch --seal-key` opens and saves it;
- sealed to two certificates, each key opens it;
- a key it was not sealed to cannot open it: fetch says so, exits 1, saves nothing, and
  the message is not lost (it comes back);
- the hub's sealing certificates published in the register (FindKeys): `axlectl send` seals
  to all of them by default; `--no-seal` does not; `--seal` fails where none is published;
- the node holds no plain payload: the marker is in none of its data files nor its log.

The recipient's sealing keys are made here at run time (P-256, key usage keyAgreement);
none is ever committed. Steps share one node and run in order.
"""

import base64
import glob
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import axletest as at  # noqa: E402
from axletest import Node, Workspace, check, main, make_federation, test  # noqa: E402

FED = 'fame-test'
REGION = 'uk.test'
HUB = 'uk.test.hub'
SENDER = 'uk.test.sender'     # another registrar: its receipts do not reach HUB's mailbox
SEALED_CT = 'application/pkcs7-mime; smime-type=authEnveloped-data'
_env = {}


def marker(n):
    return ('SEAL-MARKER-9b2e-%d: a child protection referral' % n).encode()


@at.shared_env(_env)
def env():
    ws = Workspace(prefix='axle-seal-')
    fed = make_federation(ws, FED, [REGION])
    node = Node(ws, fed, REGION)
    _env.update(ws=ws, fed=fed, node=node)
    ctl('delegate', HUB, 'hub', '--name', 'hub', '--cert', 'axle://%s/member/%s' % (FED, HUB))
    ctl('registrar', 'activate', 'hub', '--reason', 'test')
    _env['sender'] = fed.issue('member', SENDER)
    ctl('delegate', SENDER, 'sender', '--name', 'sender', '--cert',
        'axle://%s/member/%s' % (FED, SENDER))
    ctl('registrar', 'activate', 'sender', '--reason', 'test')
    for name in ('a', 'b', 'other'):
        _env[name] = sealing_key(ws, name)


def sealing_key(ws, name):
    """A P-256 key and a certificate for key agreement: (key path, cert path)."""
    return at.p256_key_cert(ws, 'seal-' + name, 'keyAgreement', '%s sealing' % name)


def ctl(*args, member=False, cred=None, check_rc=True):
    e = _env
    cred = cred or (e['fed'].member(REGION) if member else e['fed'].admin(REGION))
    cmd = [os.path.join(at.BUILD, 'axlectl'), '--cert', cred.chain, '--key', cred.key,
           '--trust', e['fed'].trust_dir, '--federation', FED,
           '--server', '127.0.0.1:%d' % e['node'].port] + list(args)
    return at.run(cmd, timeout=30, check_rc=check_rc)


def hub(*args, **kw):
    return ctl(*args, member=True, **kw)


def send(context, *args):
    """SENDER sends to HUB."""
    return ctl('send', '--to', HUB, '--from', SENDER, '--type', 'note.v1', '--context', context,
               *args, cred=_env['sender'])


def write(name, data):
    path = os.path.join(_env['ws'].path, name)
    with open(path, 'wb') as f:
        f.write(data)
    return path


def fetch_one(*extra, again=False, check_rc=True):
    """Fetches one message (again: visible again at once, for the next fetch): (cp, delivery)."""
    cp = hub('--json', 'fetch', '--max', '1', '--wait-ms', '5000', '--visibility-ms',
             '1' if again else '60000', *extra, check_rc=check_rc)
    got = json.loads(cp.stdout) if cp.returncode == 0 else []
    return cp, (got[0] if got else None)


def ack(d):
    hub('ack', d['envelope']['message_id'])


def openssl_open(sealed, key, cert=None):
    args = ['openssl', 'cms', '-decrypt', '-binary', '-inform', 'DER', '-inkey', key]
    if cert:
        args += ['-recip', cert]
    cp = subprocess.run(args, input=sealed, capture_output=True, timeout=30)
    check(cp.returncode == 0, 'openssl cms -decrypt failed: %s' % cp.stderr.decode())
    return cp.stdout


@test(timeout=120)
def axlectl_seals_openssl_opens():
    env()
    key, cert = _env['a']
    m = marker(1)
    send('seal-1', '--payload-file', write('plain-1', m), '--seal-to', cert)
    _, d = fetch_one()
    check(d is not None, 'nothing fetched')
    e = d['envelope']
    check(e.get('content_type') == SEALED_CT, 'content_type %r' % e.get('content_type'))
    sealed = base64.b64decode(e['payload'])
    check(m not in sealed, 'the marker is readable in the sealed payload')
    check(openssl_open(sealed, key, cert) == m, 'openssl opened something else')
    check(openssl_open(sealed, key) == m, 'openssl without -recip opened something else')
    check(d.get('sealed', {}).get('opened') is False, 'fetch without a key: %s' % d.get('sealed'))
    ack(d)


@test(timeout=120)
def openssl_seals_axlectl_opens():
    env()
    key, cert = _env['a']
    m = marker(2)
    plain = write('plain-2', m)
    sealed = os.path.join(_env['ws'].path, 'sealed-2.der')
    at.run(['openssl', 'cms', '-encrypt', '-aes-256-gcm', '-binary', '-outform', 'DER',
            '-in', plain, '-out', sealed, cert])
    send('seal-2', '--payload-file', sealed, '--content-type', SEALED_CT)
    save = os.path.join(_env['ws'].path, 'opened-2')
    cp, d = fetch_one('--save', save, '--seal-key', key, '--seal-cert', cert)
    check(d is not None and d['sealed']['opened'], 'not opened: %s' % (d or {}).get('sealed'))
    with open(d['saved'], 'rb') as f:
        check(f.read() == m, 'the saved payload is not the plain one')
    ack(d)
    # The table says it too.
    send('seal-2b', '--payload-file', sealed, '--content-type', SEALED_CT)
    cp = hub('fetch', '--max', '1', '--wait-ms', '5000', '--seal-key', key)
    check('sealed payload: opened (%d bytes)' % len(m) in cp.stdout, cp.stdout)
    hub('ack', '--all')


@test(timeout=120)
def sealed_to_two_each_opens():
    env()
    (ka, ca), (kb, cb) = _env['a'], _env['b']
    m = marker(3)
    send('seal-3', '--payload-file', write('plain-3', m), '--seal-to', ca, '--seal-to', cb)
    _, d = fetch_one(again=True)
    sealed = base64.b64decode(d['envelope']['payload'])
    check(openssl_open(sealed, ka, ca) == m, 'key a did not open it')
    check(openssl_open(sealed, kb, cb) == m, 'key b did not open it')
    save = os.path.join(_env['ws'].path, 'opened-3')
    _, d = fetch_one('--save', save, '--seal-key', kb)
    with open(d['saved'], 'rb') as f:
        check(f.read() == m, 'axlectl with key b opened something else')
    ack(d)


@test(timeout=120)
def wrong_key_said_and_nothing_lost():
    env()
    (ka, ca), (ko, co) = _env['a'], _env['other']
    m = marker(4)
    send('seal-4', '--payload-file', write('plain-4', m), '--seal-to', ca)
    save = os.path.join(_env['ws'].path, 'opened-4')
    cp = hub('fetch', '--max', '1', '--wait-ms', '5000', '--visibility-ms', '1',
             '--save', save, '--seal-key', ko, '--seal-cert', co, check_rc=False)
    check(cp.returncode == 1, 'exit %d with a key it was not sealed to' % cp.returncode)
    check('CANNOT OPEN' in cp.stdout and 'could not be opened' in cp.stderr,
          'not said clearly: %s %s' % (cp.stdout, cp.stderr))
    check(not [p for p in glob.glob(os.path.join(save, '*'))], 'something was saved')
    _, d = fetch_one('--save', save, '--seal-key', ka)
    check(d is not None and d['envelope']['context'] == 'seal-4', 'the message was lost')
    with open(d['saved'], 'rb') as f:
        check(f.read() == m, 'the right key opened something else')
    ack(d)
    # Not a key at all: a usage-level failure before any call.
    cp = hub('fetch', '--seal-key', co, check_rc=False)
    check(cp.returncode == 1 and 'no PEM private key' in cp.stderr, cp.stderr)


@test(timeout=120)
def sealed_by_default_to_the_keys_in_the_register():
    """HUB publishes two sealing certificates (a rotation's old and new): a send with no
    --seal-to seals to both; --no-seal does not; --seal fails where none is published."""
    env()
    fed = _env['fed']
    old, new = fed.issue('hub-seal', HUB, name='seal-old'), fed.issue('hub-seal', HUB,
                                                                        name='seal-new')
    for c in (old, new):
        hub('keys', 'publish', '--use', 'sealing', c.cert)
    m = marker(5)
    send('seal-5', '--payload-file', write('plain-5', m))
    _, d = fetch_one(again=True)
    check(d['envelope'].get('content_type') == SEALED_CT, 'not sealed by default: %s'
          % d['envelope'].get('content_type'))
    sealed = base64.b64decode(d['envelope']['payload'])
    check(openssl_open(sealed, old.key, old.cert) == m, 'the old key does not open it')
    check(openssl_open(sealed, new.key, new.cert) == m, 'the new key does not open it')
    save = os.path.join(_env['ws'].path, 'opened-5')
    _, d = fetch_one('--save', save, '--seal-key', new.key)
    with open(d['saved'], 'rb') as f:
        check(f.read() == m, 'fetch --seal-key opened something else')
    ack(d)
    plain = b'not sealed on purpose'
    send('seal-6', '--payload-file', write('plain-6', plain), '--no-seal')
    _, d = fetch_one()
    check(base64.b64decode(d['envelope']['payload']) == plain, '--no-seal sealed it')
    ack(d)
    # SENDER publishes none: --seal refuses, saying why; a plain send stays plain.
    cp = ctl('send', '--to', SENDER, '--from', HUB, '--type', 'note.v1', '--seal',
             member=True, check_rc=False)
    check(cp.returncode == 1 and 'FAILED_PRECONDITION' in cp.stderr and
          'no sealing key' in cp.stderr, cp.stderr)
    cp = ctl('send', '--to', HUB, '--from', SENDER, '--type', 'note.v1',
             '--content-type', 'text/plain', cred=_env['sender'], check_rc=False)
    check(cp.returncode == 1 and 'leave out --content-type' in cp.stderr, cp.stderr)


@test(timeout=120)
def node_holds_no_plain_payload():
    env()
    node = _env['node']
    marks = [b'SEAL-MARKER-9b2e']
    found = []
    for path in glob.glob(os.path.join(node.data_dir, '**'), recursive=True) + [node.log]:
        if os.path.isfile(path):
            with open(path, 'rb') as f:
                data = f.read()
            found += [path for mk in marks if mk in data]
    check(not found, 'the marker is in %s' % found)


if __name__ == '__main__':
    main()

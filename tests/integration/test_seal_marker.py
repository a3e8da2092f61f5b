"""test_seal_marker.py -- the nodes cannot read what they carry. On the three-node federation of
switchtest (uk between uk.london and uk.westyorks), uk.london's hub sends payloads carrying a
unique marker, sealed with `axlectl send --seal-to` to wy-hub's sealing certificate:

- one through all three nodes into wy-hub's mailbox;
- one to an address nobody holds: a recourse case at uk.westyorks, whose payload an admin
  views (`cases show --payload`), then redirects to wy-hub;
- one held while wy-hub is suspended (left held).

Then every node's data files (LMDB), its log, its /metrics and the admin views (Recourse
Show with payload, Status, Queues, cases list) are searched for the marker (raw, base64,
hex): it is nowhere. A control proves the search can fail: an unsealed payload's marker IS
found in the LMDB files. The recipient opens what it fetched (`axlectl fetch --seal-key`)
and finds the marker; no node's files hold the recipient's private key.
"""

import base64
import glob
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import axletest as at  # noqa: E402
from axletest import check, main, test, wait_for  # noqa: E402
from switchtest import Fed  # noqa: E402

LON, WY = 'uk.london', 'uk.westyorks'
LON_HUB, WY_HUB = LON + '.hub', WY + '.hub'
MARK = b'SEALED-MARKER-e4a9d1 child protection referral'
PLAIN_MARK = b'PLAIN-MARKER-7c02f3 control, sent unsealed'
_env = {}


def forms(m):
    return (m, base64.b64encode(m), m.hex().encode(), m.hex().upper().encode())


def env():
    if 'f' not in _env:
        f = Fed(prefix='axle-sealmark-')
        f.leaf_hubs()
        key, cert = at.p256_key_cert(f.ws, 'wy-seal', 'keyAgreement', 'wy-hub sealing')
        payload = os.path.join(f.ws.path, 'payload')
        with open(payload, 'wb') as fh:
            fh.write(MARK)
        _env.update(f=f, key=key, cert=cert, payload=payload, ids={})
    return _env


def lon_ctl(*args, check_rc=True):
    f = _env['f']
    return f.axlectl(LON, *args, cred=f.fed.member(LON), check_rc=check_rc)


def wy_ctl(*args, check_rc=True):
    f = _env['f']
    return f.axlectl(WY, *args, cred=f.fed.member(WY), check_rc=check_rc)


def send_sealed(to, context):
    cp = lon_ctl('--json', 'send', '--to', to, '--from', LON_HUB, '--type', 'referral.v2',
                 '--context', context, '--payload-file', _env['payload'],
                 '--seal-to', _env['cert'])
    mid = json.loads(cp.stdout)['receipt']['message_id']
    _env['ids'][context] = mid
    return mid


def status(region, mid):
    return json.loads(_env['f'].axlectl(region, '--json', 'status', mid).stdout)


@test(timeout=300)
def sealed_through_three_nodes_a_case_a_redirect_and_a_hold():
    e = env()
    f = e['f']
    send_sealed(WY_HUB, 'through')
    case_mid = send_sealed(WY + '.nobody', 'case')

    def case():
        cp = f.axlectl(WY, '--json', 'cases', 'list')
        cs = [c for c in json.loads(cp.stdout).get('cases', [])
              if c.get('envelope', {}).get('message_id') == case_mid]
        return cs[0]['id'] if cs else None
    cid = wait_for(case, 60, interval=0.3, what='the case at uk.westyorks')
    e['case'] = cid
    shown = f.axlectl(WY, '--json', 'cases', 'show', cid, '--payload', '--reason',
                      'checking it is sealed')
    e['views'] = [shown.stdout]
    f.axlectl(WY, 'cases', 'claim', cid)
    f.axlectl(WY, 'cases', 'redirect', cid, WY_HUB, '--reason', 'typo in the address')
    rp = f.stubs.registry_pb2
    f.set_status(WY, 'wy-hub', rp.REGISTRAR_STATUS_SUSPENDED, 'audit')
    held = send_sealed(WY_HUB, 'held')
    wait_for(lambda: status(WY, held).get('state') == 'HELD', 60, interval=0.3,
             what='the message held at uk.westyorks')
    f.set_status(WY, 'wy-hub', rp.REGISTRAR_STATUS_ACTIVE, 'audit done')
    f.set_status(WY, 'wy-hub', rp.REGISTRAR_STATUS_SUSPENDED, 'audit again')
    held2 = send_sealed(WY_HUB, 'held-2')
    wait_for(lambda: status(WY, held2).get('state') == 'HELD', 60, interval=0.3,
             what='a message held again')


@test(timeout=120)
def marker_nowhere_on_any_node():
    e = env()
    f = e['f']
    views = list(e.get('views', []))
    for region in ('uk', LON, WY):
        admin = f.fed.admin(region)
        views.append(f.axlectl(region, '--json', 'cases', 'list', '--all').stdout)
        views.append(f.axlectl(region, '--json', 'outbox').stdout)
        views.append(f.axlectl(region, '--json', 'mailbox').stdout)
        for mid in e['ids'].values():
            views.append(f.axlectl(region, '--json', 'status', mid).stdout)
        c = f.nodes[region].connect(admin)
        try:
            r = c.request('GET', '/metrics', timeout=10)
            views.append(r.body.decode(errors='replace'))
        finally:
            c.close()
    for region, node in f.nodes.items():
        for path in [p for p in glob.glob(os.path.join(node.data_dir, '**'), recursive=True)
                     if os.path.isfile(p)] + [node.log]:
            with open(path, 'rb') as fh:
                data = fh.read()
            hits = [m for m in forms(MARK) if m in data]
            check(not hits, 'the marker is in %s (%s)' % (path, hits[0][:20] if hits else ''))
    for v in views:
        b = v.encode() if isinstance(v, str) else v
        check(not [m for m in forms(MARK) if m in b], 'the marker is in an admin view: %s'
              % v[:300])
    check(len(views) >= 15, 'only %d views searched' % len(views))


@test(timeout=120)
def the_search_finds_an_unsealed_marker():
    """Control: the same search on the same files does find a payload sent unsealed."""
    e = env()
    f = e['f']
    path = os.path.join(f.ws.path, 'plain')
    with open(path, 'wb') as fh:
        fh.write(PLAIN_MARK)
    f.axlectl(LON, 'send', '--to', WY + '.nobody2', '--from', LON_HUB, '--type', 'note.v1',
              '--payload-file', path, cred=f.fed.member(LON))

    def found():
        for p in glob.glob(os.path.join(f.nodes[WY].data_dir, '**'), recursive=True):
            if os.path.isfile(p):
                with open(p, 'rb') as fh:
                    if PLAIN_MARK in fh.read():
                        return p
        return None
    wait_for(found, 60, interval=0.3, what='the unsealed marker in uk.westyorks LMDB files')


@test(timeout=120)
def recipient_opens_and_nodes_hold_no_key():
    e = env()
    f = e['f']
    rp = f.stubs.registry_pb2
    f.set_status(WY, 'wy-hub', rp.REGISTRAR_STATUS_ACTIVE, 'audit over')
    save = os.path.join(f.ws.path, 'opened')
    got = {}

    def fetch():
        cp = wy_ctl('--json', 'fetch', '--max', '100', '--wait-ms', '500', '--save', save,
                    '--seal-key', e['key'], '--seal-cert', e['cert'])
        for d in json.loads(cp.stdout):
            ctx = d['envelope'].get('context')
            if ctx:
                with open(d['saved'], 'rb') as fh:
                    got[ctx] = fh.read()
                check(d.get('sealed', {}).get('opened'), 'not opened: %s' % d.get('sealed'))
            wy_ctl('ack', d['envelope']['message_id'])
        return {'through', 'case', 'held', 'held-2'} <= set(got)
    wait_for(fetch, 90, interval=0.5, what='the four sealed messages at wy-hub')
    for ctx, data in got.items():
        check(data == MARK, '%s: opened to something else: %r' % (ctx, data[:60]))
    # The private key (its DER body) is on no node.
    with open(e['key']) as fh:
        body = ''.join(ln.strip() for ln in fh if not ln.startswith('-----'))
    der = base64.b64decode(body)
    for node in f.nodes.values():
        for p in glob.glob(os.path.join(node.dir, '**'), recursive=True):
            if os.path.isfile(p):
                with open(p, 'rb') as fh:
                    data = fh.read()
                check(der not in data and body[:40].encode() not in data,
                      'the recipient key is in %s' % p)


if __name__ == '__main__':
    main()

"""test_seal_policy.py -- a registrar's traffic policy in the register requires sealed payloads,
and every node enforces it: on the three-node federation of switchtest (uk between uk.london
and uk.westyorks), an admin of uk.westyorks sets wy-hub's policy (`axlectl registrar policy`:
Registry.SetPolicy, a POLICY_SET entry in its signed feed):

- at uk.westyorks, Send of an unsealed payload of a listed type is refused
  (FAILED_PRECONDITION naming the registrar and what to do), a sealed one and an unlisted
  type are accepted; the refusal is logged without the payload;
- uk.london, from its mirror of uk.westyorks' register (relayed by uk), refuses the same
  at Send;
- a node that forwards an unsealed payload anyway (uk, by Axle.Forward) has it taken and
  refused at uk.westyorks: the sender gets a REFUSED receipt naming why, and the message
  is nowhere to be fetched;
- `--sealed all` covers every type; `--sealed none` clears the policy.
Members cannot set a policy (PERMISSION_DENIED), a reason is required.
"""

import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import axletest as at  # noqa: E402
from axletest import check, main, test, wait_for  # noqa: E402
from switchtest import Fed, new_id  # noqa: E402

import grpc  # noqa: E402

LON, WY = 'uk.london', 'uk.westyorks'
LON_HUB, WY_HUB = LON + '.hub', WY + '.hub'
SEALED_CT = 'application/pkcs7-mime; smime-type=authEnveloped-data'
MARK = b'POLICY-MARKER-51c0 unsealed child protection text'
_env = {}


def env():
    if 'f' not in _env:
        f = Fed(prefix='axle-sealpol-')
        f.leaf_hubs()
        key, cert = at.p256_key_cert(f.ws, 'wy-seal', 'keyAgreement', 'wy-hub sealing')
        _env.update(f=f, lon=f.hub(LON, f.fed.member(LON)), wy=f.hub(WY, f.fed.member(WY)),
                    cert=cert)
    return _env


def sealed(data):
    cp = subprocess.run(['openssl', 'cms', '-encrypt', '-aes-256-gcm', '-binary', '-outform',
                         'DER', _env['cert']], input=data, capture_output=True, timeout=30)
    check(cp.returncode == 0, cp.stderr.decode())
    return cp.stdout


def policy(*args, check_rc=True, cred=None):
    return _env['f'].axlectl(WY, '--json', 'registrar', 'policy', 'wy-hub', *args,
                             check_rc=check_rc, cred=cred)


def refused_at_send(hub, env_):
    try:
        hub.send(env_)
    except grpc.RpcError as e:
        return e.code(), e.details()
    return None, None


@test(timeout=240)
def policy_set_by_admin_in_the_feed():
    e = env()
    f = e['f']
    cp = policy('--sealed-type', 'referral.v2', '--sealed-type', 'strategy.v1',
                '--reason', 'ISA clause 7: sealed referrals')
    rec = json.loads(cp.stdout)['registrar']
    check(rec.get('policy', {}).get('sealed_message_types') == ['referral.v2', 'strategy.v1'],
          'policy not in the record: %s' % rec.get('policy'))
    cp = f.axlectl(WY, 'registrar', 'show', 'wy-hub')
    check('sealed: referral.v2, strategy.v1' in cp.stdout, cp.stdout)
    feed = json.loads(f.axlectl(WY, '--json', 'feed', 'show').stdout)
    last = feed[-1] if isinstance(feed, list) else feed['entries'][-1]
    check(last['change'] == 'POLICY_SET' and 'ISA clause 7' in last.get('detail', ''),
          'last feed entry: %s' % last)
    check(f.axlectl(WY, 'feed', 'verify', check_rc=False).returncode == 0, 'feed does not verify')
    # Refused: a member, no reason, a malformed type.
    cp = policy('--sealed', 'all', '--reason', 'x', check_rc=False, cred=f.fed.member(WY))
    check(cp.returncode != 0 and 'PERMISSION_DENIED' in cp.stderr, cp.stderr)
    cp = policy('--sealed', 'all', check_rc=False)
    check(cp.returncode == 2, 'no reason: exit %d' % cp.returncode)
    cp = policy('--sealed-type', 'bad type', '--reason', 'x', check_rc=False)
    check(cp.returncode == 1 and 'INVALID_ARGUMENT' in cp.stderr, cp.stderr)


@test(timeout=120)
def send_refuses_unsealed_where_required():
    e = env()
    wy, node = e['wy'], e['f'].nodes[WY]
    mid = new_id()
    code, msg = refused_at_send(wy, wy.envelope(WY_HUB, to=WY_HUB, mtype='referral.v2',
                                                payload=MARK, mid=mid))
    check(code == grpc.StatusCode.FAILED_PRECONDITION, 'unsealed referral: %s %s' % (code, msg))
    check('wy-hub' in msg and 'not sealed' in msg and '--seal-to' in msg, msg)
    check(wy.status(mid).state == e['f'].stubs.envelope_pb2.MESSAGE_STATE_UNKNOWN,
          'a refused Send left a record')
    # Sealed: taken. Another type: taken unsealed.
    s = wy.envelope(WY_HUB, to=WY_HUB, mtype='referral.v2', payload=sealed(MARK))
    s.content_type = SEALED_CT
    wy.send(s)
    wy.send(wy.envelope(WY_HUB, to=WY_HUB, mtype='note.v1', payload=b'not a referral'))
    # The content type alone is not enough.
    fake = wy.envelope(WY_HUB, to=WY_HUB, mtype='referral.v2', payload=MARK)
    fake.content_type = SEALED_CT
    code, _ = refused_at_send(wy, fake)
    check(code == grpc.StatusCode.FAILED_PRECONDITION, 'a plain payload labelled sealed: %s' % code)
    log = node.log_text()
    check('event=switch_unsealed_refused' in log and 'registrar=wy-hub' in log,
          'refusal not logged')
    check(MARK.decode() not in log, 'the payload is in the log')


@test(timeout=180)
def mirror_enforces_it_at_another_region():
    e = env()
    f, lon = e['f'], e['lon']
    rp = f.stubs.registry_pb2

    def mirrored():
        r = f.registry(LON, 'Resolve', rp.ResolveRequest(address=WY_HUB))
        return r if list(r.registrar.policy.sealed_message_types) else None
    wait_for(mirrored, 60, interval=0.2, what='uk.london mirrors wy-hub policy')
    code, msg = refused_at_send(lon, lon.envelope(LON_HUB, to=WY_HUB, mtype='referral.v2',
                                                  payload=MARK))
    check(code == grpc.StatusCode.FAILED_PRECONDITION and 'region uk.westyorks' in msg,
          'uk.london took an unsealed referral for wy-hub: %s %s' % (code, msg))


@test(timeout=180)
def forwarded_unsealed_refused_with_a_receipt():
    e = env()
    f, lon, wy = e['f'], e['lon'], e['wy']
    pb, apb = f.stubs.envelope_pb2, f.stubs.axle_pb2
    mid = new_id()
    env_ = lon.envelope(LON_HUB, to=WY_HUB, mtype='referral.v2', payload=MARK, mid=mid)
    env_.created_ms = int(time.time() * 1000)
    env_.trace.add(region=LON, at_ms=env_.created_ms)
    env_.trace.add(region='uk', at_ms=env_.created_ms)
    # uk hands it on as if its mirror had lagged.
    with f.channel(WY, f.fed.node('uk')) as ch:
        res = f.stubs.axle_pb2_grpc.AxleStub(ch).Forward(
            apb.ForwardRequest(envelopes=[env_]), timeout=10)
    check(res.results[0].outcome == apb.FORWARD_OUTCOME_COMMITTED,
          'Forward: %s' % res.results[0])
    got = lon.drain(lambda ds: any(lon.is_receipt(d) and lon.receipt_of(d).message_id == mid
                                   and lon.receipt_of(d).kind == pb.RECEIPT_KIND_REFUSED
                                   for d in ds), timeout=60, what='a REFUSED receipt')
    r = [lon.receipt_of(d) for d in got if lon.is_receipt(d) and
         lon.receipt_of(d).kind == pb.RECEIPT_KIND_REFUSED][0]
    check(r.node == WY and 'refused at uk.westyorks' in r.detail and 'wy-hub' in r.detail,
          'receipt: %s' % r)
    st = f.admin_switch(WY).status(mid)
    check(st.state == pb.MESSAGE_STATE_DISCARDED and 'refused' in st.detail + st.location,
          'status at uk.westyorks: %s' % st)
    mine = [d for d in wy.fetch(max_messages=100, wait_ms=500, visibility_ms=1)
            if d.envelope.message_id == mid]
    check(not mine, 'the refused message reached the mailbox')


@test(timeout=120)
def sealed_all_then_none():
    e = env()
    wy = e['wy']
    policy('--sealed', 'all', '--reason', 'everything sealed')
    code, _ = refused_at_send(wy, wy.envelope(WY_HUB, to=WY_HUB, mtype='note.v1'))
    check(code == grpc.StatusCode.FAILED_PRECONDITION, '--sealed all let a note through')
    rec = json.loads(policy('--sealed', 'none', '--reason', 'pilot over').stdout)['registrar']
    check(not rec.get('policy'), 'policy not cleared: %s' % rec.get('policy'))
    wy.send(wy.envelope(WY_HUB, to=WY_HUB, mtype='referral.v2', payload=b'x'))


if __name__ == '__main__':
    main()

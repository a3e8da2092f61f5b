"""test_purpose.py -- purpose-bound services across three real nodes (uk.london -> uk ->
uk.westyorks): services publish the purposes they accept, Discover finds them by purpose,
and a node refuses, before forwarding, a message whose purpose the recipient's service does
not take: with a status on Send (from the mirror of another region's register), with a
REFUSED receipt on Forward (the service's purposes changed after the message left), when
expanding a group (copies only to services that take it; none: refused), and an index query
without a purpose. Refusals are counted and logged, never with the payload.

Steps depend on each other and run in order.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import axletest as at  # noqa: E402
from axletest import check, main, test, wait_for  # noqa: E402
from switchtest import Fed, receipts_for  # noqa: E402

import grpc  # noqa: E402

LON, WY = 'uk.london', 'uk.westyorks'
LON_HUB, WY_HUB = LON + '.hub', WY + '.hub'
S47, EH = 'safeguarding-s47', 'early-help'
MARKER = b'purpose-payload-marker-7f3a'
REFUSED = 'axle_switch_refused_total{reason="purpose_refused"}'
MISSING = 'axle_switch_refused_total{reason="purpose_missing"}'
_env = {}


def publish(f, region, rid, name, kind, address, purposes):
    rp = f.stubs.registry_pb2
    f.registry(region, 'PublishService', rp.PublishServiceRequest(
        registrar_id=rid, service=rp.Service(name=name, kind=kind, address=address,
                                             purposes=list(purposes))))


def discover(f, region, **kw):
    with f.channel(region, f.fed.admin(region)) as ch:
        stub = f.stubs.registry_pb2_grpc.PortalStub(ch)
        return list(stub.Discover(f.stubs.registry_pb2.DiscoverRequest(**kw), timeout=10).services)


@at.shared_env(_env)
def env():
    f = Fed(prefix='axle-purpose-')
    f.leaf_hubs()
    k = f.stubs.common_pb2
    publish(f, WY, 'wy-hub', 'referrals', k.SERVICE_KIND_SWITCH, WY_HUB + '.referrals', [S47])
    publish(f, WY, 'wy-hub', 'who-knows', k.SERVICE_KIND_INDEX, WY_HUB + '.index', [S47, EH])
    publish(f, WY, 'wy-hub', 'old-index', k.SERVICE_KIND_INDEX, WY_HUB + '.oldindex', [])
    publish(f, LON, 'lon-hub', 'lon-index', k.SERVICE_KIND_INDEX, LON_HUB + '.index', [EH])
    # London's and uk's mirrors of westyorks' register have the services.
    for r in (LON, 'uk'):
        wait_for(lambda: len(discover(f, r, prefix=WY)) == 3, 60, interval=0.2,
                 what="westyorks' services in the mirror at %s" % r)
    _env.update(f=f, lon=f.hub(LON, f.fed.member(LON)), wy=f.hub(WY, f.fed.member(WY)))


def metric(f, region, key):
    return f.nodes[region].metrics(f.fed.admin(region)).get(key, 0)


def send_error(hub, env_):
    """The gRPC error a Send ends with (None: accepted)."""
    try:
        hub.send(env_)
    except grpc.RpcError as e:
        return e.code(), e.details()
    return None


def group(f, prefix):
    return f.stubs.envelope_pb2.ServiceGroup(kind=f.stubs.common_pb2.SERVICE_KIND_INDEX,
                                             prefix=prefix)


def envelope(hub, to=None, grp=None, purpose='', payload=MARKER):
    e = hub.envelope(LON_HUB + '.caseworker', to=to, group=grp, payload=payload)
    e.purpose = purpose
    return e


def tos(deliveries, hub):
    return sorted(d.envelope.to for d in deliveries if not hub.is_receipt(d))


# --- steps -------------------------------------------------------------------------------

@test(timeout=120)
def discover_by_purpose_from_the_mirror():
    """Discover at London (westyorks' services come from its mirror) filters by purpose:
    only services that publish it; the services carry their purposes."""
    e = env()
    f = e['f']
    got = {s.service.name: list(s.service.purposes) for s in discover(f, LON, purpose=S47)}
    check(got == {'referrals': [S47], 'who-knows': [S47, EH]}, 'Discover purpose=%s: %r' % (S47, got))
    got = sorted(s.service.name for s in discover(f, LON, purpose=EH))
    check(got == ['lon-index', 'who-knows'], 'Discover purpose=%s: %r' % (EH, got))
    try:
        discover(f, LON, purpose='Not A Purpose')
        check(False, 'a malformed purpose was taken as a filter')
    except grpc.RpcError as err:
        check(err.code() == grpc.StatusCode.INVALID_ARGUMENT and 'purpose' in err.details(),
              'malformed purpose: %s %r' % (err.code(), err.details()))
    # Publishing a malformed purpose is refused, naming it.
    try:
        publish(f, WY, 'wy-hub', 'bad', f.stubs.common_pb2.SERVICE_KIND_SWITCH, WY_HUB + '.bad',
                ['S47'])
        check(False, 'a malformed purpose was published')
    except grpc.RpcError as err:
        check(err.code() == grpc.StatusCode.INVALID_ARGUMENT and '"S47"' in err.details(),
              'publish S47: %s %r' % (err.code(), err.details()))


@test(timeout=120)
def refused_on_send_from_the_mirror():
    """London refuses, at Send, messages to westyorks' referrals service (known from its
    mirror) with another purpose (PERMISSION_DENIED) or none (INVALID_ARGUMENT), naming
    the purpose and the service; the right purpose is delivered, purpose intact. A service
    that publishes no purposes (the hub's own address) takes anything."""
    e = env()
    f, lon, wy = e['f'], e['lon'], e['wy']
    wy.drain(lambda g: True, what='an empty westyorks mailbox')
    r0, m0 = metric(f, LON, REFUSED), metric(f, LON, MISSING)
    err = send_error(lon, envelope(lon, WY_HUB + '.referrals:case-1', purpose=EH))
    check(err is not None and err[0] == grpc.StatusCode.PERMISSION_DENIED and
          '"early-help" is not accepted by service "referrals" of registrar wy-hub' in err[1] and
          S47 in err[1], 'wrong purpose: %r' % (err,))
    err = send_error(lon, envelope(lon, WY_HUB + '.referrals', purpose=''))
    check(err is not None and err[0] == grpc.StatusCode.INVALID_ARGUMENT and
          'purpose: none given' in err[1] and 'referrals' in err[1], 'no purpose: %r' % (err,))
    err = send_error(lon, envelope(lon, WY_HUB + '.referrals', purpose='Bad Purpose'))
    check(err is not None and err[0] == grpc.StatusCode.INVALID_ARGUMENT and 'purpose' in err[1],
          'malformed purpose: %r' % (err,))
    check(metric(f, LON, REFUSED) == r0 + 1 and metric(f, LON, MISSING) == m0 + 1,
          'refusal counters at London: %s %s (were %s %s)' % (
              metric(f, LON, REFUSED), metric(f, LON, MISSING), r0, m0))
    good = lon.send(envelope(lon, WY_HUB + '.referrals:case-1', purpose=S47)).message_id
    open_ = lon.send(envelope(lon, WY_HUB + ':desk', purpose='')).message_id
    got = wy.drain(lambda g: {good, open_} <= {d.envelope.message_id for d in g},
                   what='the accepted messages at westyorks')
    env_ = [d.envelope for d in got if d.envelope.message_id == good][0]
    check(env_.purpose == S47 and env_.payload == MARKER, 'delivered envelope %r' % env_)
    lines = [l for l in f.nodes[LON].log_text().splitlines() if 'event=switch_refused' in l]
    check(any('reason=purpose_refused' in l and 'stage=send' in l and
              'purpose="early-help"' in l for l in lines), 'refusal log lines %r' % lines)


@test(timeout=120)
def index_queries_must_carry_an_accepted_purpose():
    """An index query without a purpose is refused at Send (a group, and `to` an index
    service); an index service that publishes no purposes takes no index query."""
    e = env()
    f, lon = e['f'], e['lon']
    err = send_error(lon, envelope(lon, grp=group(f, WY)))
    check(err is not None and err[0] == grpc.StatusCode.INVALID_ARGUMENT and
          'index query' in err[1], 'group without purpose: %r' % (err,))
    err = send_error(lon, envelope(lon, WY_HUB + '.index'))
    check(err is not None and err[0] == grpc.StatusCode.INVALID_ARGUMENT and
          'who-knows' in err[1], 'index service without purpose: %r' % (err,))
    err = send_error(lon, envelope(lon, WY_HUB + '.oldindex', purpose=EH))
    check(err is not None and err[0] == grpc.StatusCode.PERMISSION_DENIED and
          'publishes no purposes, so it takes no index query' in err[1],
          'index service without purposes: %r' % (err,))


@test(timeout=180)
def group_copies_only_to_services_that_take_the_purpose():
    """A group of every index service under uk.westyorks (expanded at westyorks) gets
    copies only where the purpose is accepted (not the index service without purposes); a
    purpose none of them takes is refused there with a REFUSED receipt; a group expanded at
    London itself is refused at Send."""
    e = env()
    f, lon, wy = e['f'], e['lon'], e['wy']
    lon.drain(lambda g: True, what='an empty london mailbox')
    wy.drain(lambda g: True, what='an empty westyorks mailbox')
    eh = lon.send(envelope(lon, grp=group(f, WY), purpose=EH)).message_id
    s47 = lon.send(envelope(lon, grp=group(f, WY), purpose=S47)).message_id
    got = wy.drain(lambda g: len(tos(g, wy)) >= 2, what='the copies at westyorks')
    check(tos(got, wy) == [WY_HUB + '.index', WY_HUB + '.index'], 'westyorks copies: %r' % tos(got, wy))
    copies = [d.envelope for d in got if not wy.is_receipt(d)]
    check(sorted(c.original_id for c in copies) == sorted([eh, s47]) and
          sorted(c.purpose for c in copies) == sorted([EH, S47]), 'copies %r' % copies)
    nobody = lon.send(envelope(lon, grp=group(f, WY), purpose='marketing')).message_id
    got = lon.drain(lambda g: 'RECEIPT_KIND_REFUSED' in receipts_for(lon, g, nobody),
                    what='REFUSED receipt for a purpose no index service takes')
    r = [lon.receipt_of(d) for d in got if lon.is_receipt(d) and
         lon.receipt_of(d).message_id == nobody][-1]
    check(r.node == WY and 'none of its 2 services takes it' in r.detail and
          '"marketing"' in r.detail, 'receipt %r' % r)
    check(not [d for d in wy.fetch(wait_ms=300) if not wy.is_receipt(d)],
          'westyorks got a copy of the refused group message')
    err = send_error(lon, envelope(lon, grp=group(f, LON), purpose=S47))
    check(err is not None and err[0] == grpc.StatusCode.PERMISSION_DENIED and
          'lon-index' in err[1], 'group expanded at london: %r' % (err,))


@test(timeout=240)
def refused_on_forward_after_the_purposes_changed():
    """A message London accepted while westyorks' referrals took its purpose, held in
    London's outbox (uk is down) while westyorks changes the service's purposes, is refused
    on its way once uk is back (at uk from its refreshed mirror, or at westyorks): the
    sender gets a REFUSED receipt naming the purpose and the service, the recipient gets
    nothing, the refusing node counts and logs it without the payload."""
    e = env()
    f, lon, wy = e['f'], e['lon'], e['wy']
    lon.drain(lambda g: True, what='an empty london mailbox')
    wy.drain(lambda g: True, what='an empty westyorks mailbox')
    before = {r: metric(f, r, REFUSED) for r in ('uk', WY)}
    f.nodes['uk'].stop()
    mid = lon.send(envelope(lon, WY_HUB + '.referrals:case-2', purpose=S47)).message_id
    check(lon.status(mid).state == lon.pb.MESSAGE_STATE_OUTBOX, 'not waiting in the outbox')
    publish(f, WY, 'wy-hub', 'referrals', f.stubs.common_pb2.SERVICE_KIND_SWITCH,
            WY_HUB + '.referrals', [EH])
    f.nodes['uk'].start()
    got = lon.drain(lambda g: 'RECEIPT_KIND_REFUSED' in receipts_for(lon, g, mid), timeout=60,
                    what='REFUSED receipt after the purposes changed')
    r = [lon.receipt_of(d) for d in got if lon.is_receipt(d) and
         lon.receipt_of(d).message_id == mid][-1]
    check(r.node in ('uk', WY) and '"safeguarding-s47" is not accepted by service "referrals"'
          in r.detail and EH in r.detail, 'receipt %r' % r)
    wait_for(lambda: lon.status(mid).state == lon.pb.MESSAGE_STATE_DISCARDED, 10,
             what='London Status says discarded')
    check(not [d for d in wy.fetch(wait_ms=500) if d.envelope.message_id == mid],
          'the refused message reached westyorks')
    check(metric(f, r.node, REFUSED) == before[r.node] + 1,
          'refusal counter at %s: %s' % (r.node, metric(f, r.node, REFUSED)))
    lines = [l for l in f.nodes[r.node].log_text().splitlines() if 'event=switch_refused' in l
             and 'id=' + mid.hex() in l]
    check(len(lines) == 1 and 'stage=forward' in lines[0], 'refusal log %r' % lines)
    for region, node in f.nodes.items():
        check(MARKER.decode() not in node.log_text(), 'the payload is in the log of %s' % region)


@test(timeout=120)
def axlectl_publishes_discovers_and_sends_with_purposes():
    """axlectl service publish --purpose (repeatable) shows the purposes; discover
    --purpose finds it (JSON: Service.purposes); send --purpose is refused with the
    node's reason, or accepted, as the service's purposes say."""
    import json
    e = env()
    f = e['f']
    member = f.fed.member(WY)
    cp = f.axlectl(WY, 'service', 'publish', 'wy-hub', 'desk', '--kind', 'switch', '--address',
                   WY_HUB + '.desk', '--purpose', EH, '--purpose', 'la.edu-2', cred=member)
    check('PURPOSES' in cp.stdout and 'early-help,la.edu-2' in cp.stdout,
          'service publish output %r' % cp.stdout)
    cp = f.axlectl(WY, '--json', 'discover', '--purpose', 'la.edu-2', cred=member)
    found = json.loads(cp.stdout)['services']
    check([(d['service']['name'], d['service']['purposes']) for d in found] ==
          [('desk', [EH, 'la.edu-2'])], 'discover --json --purpose: %r' % found)
    cp = f.axlectl(WY, 'send', '--to', WY_HUB + '.desk', '--from', WY_HUB, '--type', 'note.v1',
                   '--purpose', S47, cred=member, check_rc=False)
    check(cp.returncode == 1 and 'PERMISSION_DENIED' in cp.stderr and
          '"safeguarding-s47" is not accepted by service "desk"' in cp.stderr,
          'send --purpose %s: rc %s %r' % (S47, cp.returncode, cp.stderr))
    cp = f.axlectl(WY, 'send', '--to', WY_HUB + '.desk', '--from', WY_HUB, '--type', 'note.v1',
                   '--purpose', 'la.edu-2', cred=member)
    check('ACCEPTED' in cp.stdout, 'send --purpose la.edu-2: %r' % cp.stdout)


def after_failure(name):
    if 'f' in _env:
        _env['f'].log_tails(40)


if __name__ == '__main__':
    main(after_failure)

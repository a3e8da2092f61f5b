"""test_peering_register.py -- peering from the register: a federation grown live, with
no [peer] section but each node's parent.

    uk ---- uk.london ---- uk.london.south   (added live: cert, one register entry, start)
     \\---- uk.westyorks                      ([peering] direct = no: the tree only)

The root has no [peer] at all: it reaches its children from the node records its admin
publishes (axlectl region publish), pinned to their certificate identity. uk.london's admin
publishes uk.london.south, which then starts with only its parent configured; no other
node's file changes and nobody restarts. Every node then resolves and discovers the new
region's registrar and service, and a hub of every node exchanges a message with the new
region's hub, both ways. uk.westyorks sends only over the tree (up to the common ancestor,
then down). An idle on-demand axle closes after [peering] idle_ms. Steps run in order.
"""

import os
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import axletest as at  # noqa: E402
import fedtest  # noqa: E402
from axletest import check, main, test, wait_for  # noqa: E402
from switchtest import FED, Hub, new_id  # noqa: E402

import grpc  # noqa: E402

ROOT, LON, WY, SOUTH = 'uk', 'uk.london', 'uk.westyorks', 'uk.london.south'
ALL = (ROOT, LON, WY, SOUTH)
WAIT = 40
EXTRA = '\n[registry]\nmirror_interval_ms = 100\n[peering]\nidle_ms = 1500\n'
_env = {}


class Fed(fedtest.Fed):
    """The federation of this file: its regions, its node settings."""

    def __init__(self):
        super().__init__('axle-peering-', [ROOT, LON, WY], ALL, EXTRA)


@at.shared_env(_env)
def env():
    f = Fed()
    f.start(ROOT)
    f.start(LON, parent=ROOT)
    f.start(WY, parent=ROOT, extra='direct = no\n')
    _env.update(f=f, hubs={})


def after_failure(name=None):
    if 'f' in _env:
        _env['f'].log_tails(40)


def wait_resolves(f, region, address, registrar):
    def ok():
        try:
            r = f.resolve(region, address)
        except grpc.RpcError:
            return None
        return r if r.registrar.id == registrar else None
    return wait_for(ok, WAIT, interval=0.2, what='%s resolves to %s at %s'
                    % (address, registrar, region))


# --- steps -------------------------------------------------------------------------------

@test(timeout=240)
def root_publishes_its_children():
    e = env()
    f = e['f']
    for child in (LON, WY):
        out = f.axlectl(ROOT, 'region', 'publish', child, '--endpoint',
                        '127.0.0.1:%d' % f.ports[child]).stdout
        check('node of region %s published as node.%s' % (child, child) in out
              and 'axle://%s/node/%s' % (FED, child) in out, 'axlectl said: %r' % out)
    for r in (ROOT, LON, WY):
        e['hubs'][r] = Hub(f, r, f.hub_registrar(r))
    # Published again (the endpoint could have moved): an update, though London's
    # own registrars now lie under the region.
    wait_resolves(f, ROOT, LON + '.hub.x', LON + '-hub')
    out = f.axlectl(ROOT, 'region', 'publish', LON, '--endpoint',
                    '127.0.0.1:%d' % f.ports[LON]).stdout
    check('node of region %s published as node.%s' % (LON, LON) in out, 'republish: %r' % out)
    # Each leaf's register reaches the other through the root, which has no [peer].
    wait_resolves(f, WY, LON + '.hub.x', LON + '-hub')
    wait_resolves(f, LON, WY + '.hub.x', WY + '-hub')
    wait_resolves(f, ROOT, WY + '.hub.x', WY + '-hub')
    # The node record resolves as the child's region, not as a registrar's mailbox.
    rp = f.stubs.registry_pb2
    r = f.resolve(WY, LON + '.nobody')
    check(r.outcome == rp.RESOLVE_OUTCOME_REGION and r.closest_encloser == LON
          and r.serving_node == LON, 'unknown London address at westyorks: %r' % r)
    # A registrar may not be given a prefix inside a published child's region.
    try:
        f.registry(ROOT, 'Delegate', rp.DelegateRequest(
            registrar_id='squatter', prefix=LON + '.squat', display_name='x',
            cert_identity='axle://%s/member/%s.squat' % (FED, LON)))
        raise at.TestFailure('root delegated a prefix inside uk.london')
    except grpc.RpcError as err:
        check(err.code() == grpc.StatusCode.ALREADY_EXISTS and 'region of another node'
              in err.details(), 'refusal: %s %s' % (err.code(), err.details()))


@test(timeout=240)
def a_grandchild_added_live():
    e = env()
    f = e['f']
    cred = f.fed.issue('node', SOUTH, name='node-south', ip=['127.0.0.1'], dns=['localhost'])
    f.creds[SOUTH] = f.fed.issue('admin', SOUTH, name='admin-south', user='admin')
    pids = {r: f.nodes[r].pid for r in (ROOT, LON, WY)}
    confs = {r: open(f.nodes[r].conf).read() for r in (ROOT, LON, WY)}
    f.axlectl(LON, 'region', 'publish', SOUTH, '--endpoint', '127.0.0.1:%d' % f.ports[SOUTH])
    f.start(SOUTH, parent=LON, cred=cred)
    e['hubs'][SOUTH] = Hub(f, SOUTH, f.hub_registrar(SOUTH))
    rp = f.stubs.registry_pb2
    for r in (ROOT, LON, WY):
        got = wait_resolves(f, r, SOUTH + '.hub.desk', SOUTH + '-hub')
        check(got.from_mirror and got.serving_node == SOUTH, 'at %s: %r' % (r, got))

        def found(r=r):
            d = f.registry(r, 'Discover', rp.DiscoverRequest(
                kind=f.stubs.common_pb2.SERVICE_KIND_SWITCH, prefix=SOUTH),
                service='PortalStub')
            return d if [s.service.name for s in d.services] == [SOUTH + '-switch'] else None
        wait_for(found, WAIT, interval=0.2, what='discover %s at %s' % (SOUTH, r))
    # The new region sees everyone else's.
    for r in (ROOT, LON, WY):
        wait_resolves(f, SOUTH, r + '.hub.x', r + '-hub')
    # Nobody else's file changed and nobody restarted.
    for r in (ROOT, LON, WY):
        check(f.nodes[r].pid == pids[r] and f.nodes[r].alive(), '%s restarted' % r)
        check(open(f.nodes[r].conf).read() == confs[r], '%s config changed' % r)


def exchange(e, a, b):
    """A hub of region a sends to b's hub; b's hub gets it once. Returns its trace."""
    ha, hb = e['hubs'][a], e['hubs'][b]
    mid = new_id()
    ha.send(ha.envelope(a + '.hub.desk', to=b + '.hub:desk', mid=mid,
                        payload=('%s to %s' % (a, b)).encode()))
    got = hb.drain(lambda g: mid in [d.envelope.message_id for d in g], timeout=WAIT,
                   what='%s -> %s' % (a, b))
    mine = [d for d in got if d.envelope.message_id == mid]
    check(len(mine) == 1 and mine[0].envelope.payload == ('%s to %s' % (a, b)).encode(),
          '%s -> %s: %r' % (a, b, mine))
    return [h.region for h in mine[0].envelope.trace]


@test(timeout=300)
def messages_to_and_from_the_new_region():
    e = env()
    for r in (ROOT, LON, WY):
        t = exchange(e, r, SOUTH)
        check(t[0] == r and t[-1] == SOUTH, '%s -> south trace %r' % (r, t))
        if r != WY:		# an axle on demand, straight there (the root too)
            check(t == [r, SOUTH], '%s -> south trace %r' % (r, t))
        t = exchange(e, SOUTH, r)
        check(t[0] == SOUTH and t[-1] == r, 'south -> %s trace %r' % (r, t))


@test(timeout=300)
def westyorks_goes_through_the_tree():
    e = env()
    f = e['f']
    # direct = no: up to the root (the common ancestor), then down; the root may then
    # reach the grandchild straight from its register.
    t = exchange(e, WY, SOUTH)
    check(t[:2] == [WY, ROOT] and t[-1] == SOUTH, 'trace %r' % t)
    t = exchange(e, WY, LON)
    check(t == [WY, ROOT, LON], 'trace %r' % t)
    # uk.london reaches westyorks straight (it opens the axle on demand).
    t = exchange(e, LON, WY)
    check(t == [LON, WY], 'trace %r' % t)
    check('event=peer_open peer=%s' % WY in f.nodes[LON].log_text(),
          'uk.london did not open an axle to uk.westyorks on demand')


@test(timeout=120)
def idle_on_demand_axle_closes():
    e = env()
    f = e['f']
    # uk.london -> uk.westyorks carries only that one message: it closes when idle.
    wait_for(lambda: 'event=peer_idle_close peer=%s' % WY in f.nodes[LON].log_text(), 20,
             interval=0.2, what='uk.london closes its idle axle to uk.westyorks')
    # And opens again on the next message.
    t = exchange(e, LON, WY)
    check(t == [LON, WY], 'trace %r' % t)


@test(timeout=180)
def sighup_reloads_peers_level_limits_keeping_connections():
    e = env()
    f = e['f']
    n = f.nodes[LON]
    hub = e['hubs'][LON]
    out = {}

    def long_poll():
        try:
            out['got'] = hub.fetch(wait_ms=6000, timeout=30)
        except grpc.RpcError as err:
            out['err'] = err
    import threading
    hub.drain(lambda g: True, what='what was left')	# the poll then waits
    t = threading.Thread(target=long_poll)
    t.start()
    time.sleep(1)			# the Fetch is parked at the node
    # A [peer] more, another log level, other connection limits: applied live.
    n.peers.append((WY, '127.0.0.1:%d' % f.ports[WY]))
    n.log_level = 'info'
    n.limits = {'max_concurrent_streams': 50}
    n.write_config()
    wait_for(lambda: 'event=reload what=config peers=2 level=info' in _hup(n), 10,
             interval=0.2, what='config reload line')
    info = f.axlectl(LON, 'info').stdout
    check(WY in info.split('PEER', 1)[-1], 'uk.london info after the reload:\n%s' % info)
    t.join(40)
    check(not t.is_alive() and 'err' not in out and 'got' in out,
          'the long poll across the reload: %r' % out)
    # A bad file is refused, logged, and the running configuration stays.
    good = open(n.conf).read()
    with open(n.conf, 'w') as fh:
        fh.write(good + '\n[peering]\nidle_ms = nonsense\n')
    before = n.log_text().count('event=reload_failed what=config')
    n.proc.send_signal(signal.SIGHUP)
    wait_for(lambda: n.log_text().count('event=reload_failed what=config') > before, 10,
             interval=0.2, what='reload_failed for a bad file')
    with open(n.conf, 'w') as fh:
        fh.write(good)
    check('note="the running configuration stays"' in n.log_text(), 'no note')
    # Still level info (no debug lines since), still serving, peers unchanged.
    t = exchange(e, LON, WY)
    check(t == [LON, WY], 'after a refused reload: trace %r' % t)
    # Changing what needs a restart is refused whole.
    with open(n.conf, 'w') as fh:
        fh.write(good.replace('region = %s' % LON, 'region = uk.elsewhere'))
    before = n.log_text().count('event=reload_failed what=config')
    n.proc.send_signal(signal.SIGHUP)
    wait_for(lambda: n.log_text().count('event=reload_failed what=config') > before, 10,
             interval=0.2, what='reload_failed for a new region')
    with open(n.conf, 'w') as fh:
        fh.write(good)
    check('change only with a restart' in n.log_text(), 'reason for the refusal')


@test(timeout=180)
def a_dead_endpoint_is_passed_by_the_tree():
    e = env()
    f = e['f']
    lon = f.nodes[LON]
    # uk.london reaches its child over a [peer] (added live) while the register now
    # publishes an endpoint where nobody listens: the root's axle to it fails, and the
    # root's queue for it moves to the tree (uk.london) instead of waiting.
    lon.peers.append((SOUTH, '127.0.0.1:%d' % f.ports[SOUTH]))
    lon.write_config()
    lon.hup()
    wait_for(lambda: 'peers=3' in lon.log_text(), 10, interval=0.2, what='3 peers at uk.london')
    dead = at.free_port()
    f.axlectl(LON, 'region', 'publish', SOUTH, '--endpoint', '127.0.0.1:%d' % dead)
    wait_for(lambda: 'event=peer_published peer=%s endpoint=127.0.0.1:%d'
             % (SOUTH, dead) in f.nodes[ROOT].log_text(), WAIT, interval=0.2,
             what='the root learns the new endpoint')
    t = exchange(e, ROOT, SOUTH)
    check(t == [ROOT, LON, SOUTH], 'trace %r' % t)
    check('event=switch_rerouted peer=%s via=%s' % (SOUTH, LON) in f.nodes[ROOT].log_text(),
          'the root did not move its queue to the tree')
    f.axlectl(LON, 'region', 'publish', SOUTH, '--endpoint', '127.0.0.1:%d' % f.ports[SOUTH])


def _hup(n):
    if not getattr(n, '_hupped', False):
        n._hupped = True
        n.proc.send_signal(signal.SIGHUP)
    return n.log_text()


if __name__ == '__main__':
    main(after_failure)

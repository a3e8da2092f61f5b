"""test_pki_rollover.py -- a CA rollover with real nodes and no refused traffic.

Two nodes (uk and its child uk.london, peered both ways, mirroring each other's
register) and a hub run on certificates of the federation's first CA, each key
made where it is used (axle-cert-request) and signed from its request. While a
hub calls both nodes without pause and the nodes pull each other's feeds, the
federation rolls its CA over, as docs/pki.md "CA rollover" says:

  1. a generation-2 CA is made and trusted beside the old one on every node
     (axle-trust-add, reload);
  2. every node, admin and hub certificate is renewed from the new CA for a
     key made where it is used (axle-cert-request --renew, axle-cert-renew
     --issuer), installed, and the node reloaded;
  3. the old CA is taken out of every trust folder (axle-trust-remove, reload).

Asserted: not one hub call failed, no node refused a handshake, the register
still mirrors after each step, and at the end a certificate of the old CA is
refused.
"""

import os
import shutil
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import axletest as at  # noqa: E402
from axletest import (Node, Workspace, certs_tool, check, free_port, grpc_stubs,  # noqa: E402
                      main, parse_metrics, run, test, tls_connect, wait_for, H2Client)

import grpc  # noqa: E402

FED = 'fame-test'
ROOT, LON = 'uk', 'uk.london'
HUB = 'uk.london.hub'
WAIT = 30
EXTRA = '\n[registry]\nmirror_interval_ms = 100\n'
_env = {}


class Party:
    """One certificate holder: its own folder with key.pem / chain.pem, the key
    made there; the CA side only ever sees the request and the certificate."""

    def __init__(self, ws, name, role, address, user=None):
        self.dir = ws.mkdir('parties', name)
        self.name, self.role, self.address, self.user = name, role, address, user
        self.key = os.path.join(self.dir, 'key.pem')
        self.chain = os.path.join(self.dir, 'chain.pem')
        self.cert = os.path.join(self.dir, 'cert.pem')

    def install(self, work, base):
        """Puts BASE.key (made here) and the CA's BASE.pem/.chain.pem in place."""
        for src, dst in (('.key', self.key), ('.pem', self.cert), ('.chain.pem', self.chain)):
            shutil.copyfile(os.path.join(work, base + src), dst + '.new')
            os.chmod(dst + '.new', 0o600 if src == '.key' else 0o644)
            os.replace(dst + '.new', dst)

    def first(self, ca_dir, ca_side):
        args = [self.role, self.address] + (['--user', self.user] if self.user else [])
        run([certs_tool('axle-cert-request')] + args + ['--out', self.dir, '--name', 'req'])
        shutil.copyfile(os.path.join(self.dir, 'req.csr'), os.path.join(ca_side, self.name + '.csr'))
        run([certs_tool('axle-cert-issue'), ca_dir] + args +
            ['--csr', os.path.join(ca_side, self.name + '.csr'), '--out', ca_side, '--name', self.name])
        for ext in ('.pem', '.chain.pem'):
            shutil.copyfile(os.path.join(ca_side, self.name + ext), os.path.join(self.dir, 'req' + ext))
        self.install(self.dir, 'req')

    def renew(self, new_ca, old_ca, ca_side):
        run([certs_tool('axle-cert-request'), '--renew', self.cert, '--out', self.dir,
             '--name', 'next', '--force'])
        csr = os.path.join(ca_side, self.name + '.next.csr')
        shutil.copyfile(os.path.join(self.dir, 'next.csr'), csr)
        shutil.copyfile(self.cert, os.path.join(ca_side, self.name + '.old.pem'))
        run([certs_tool('axle-cert-renew'), new_ca, os.path.join(ca_side, self.name + '.old.pem'),
             csr, '--issuer', old_ca, '--out', ca_side, '--name', self.name + '.next', '--force'])
        for ext in ('.pem', '.chain.pem'):
            shutil.copyfile(os.path.join(ca_side, self.name + '.next' + ext),
                            os.path.join(self.dir, 'next' + ext))
        self.install(self.dir, 'next')


class Cred:
    def __init__(self, party):
        self.cert, self.key, self.chain = party.cert, party.key, party.chain


@at.shared_env(_env)
def env():
    ws = Workspace(prefix='axle-rollover-')
    stubs = grpc_stubs(ws)
    pki = ws.mkdir('pki')
    ca_a, ca_b = os.path.join(pki, 'ca-a'), os.path.join(pki, 'ca-b')
    ca_side = ws.mkdir('pki', 'ca-side')
    run([certs_tool('axle-ca-new'), ca_a, FED])
    parties = {
        ROOT: Party(ws, 'node-uk', 'node', ROOT),
        LON: Party(ws, 'node-london', 'node', LON),
        'admin': Party(ws, 'admin-uk', 'admin', ROOT, user='ops'),
        'admin-lon': Party(ws, 'admin-london', 'admin', LON, user='ops'),
        'hub': Party(ws, 'hub', 'member', HUB),
    }
    for p in parties.values():
        p.first(ca_a, ca_side)
    trust = {r: ws.mkdir('trust-' + r) for r in (ROOT, LON)}
    for t in trust.values():
        run([certs_tool('axle-trust-add'), t, ca_a])
    # What a hub trusts: the federation's bundle, as a trust folder gives it.
    hub_trust = ws.mkdir('trust-hub')
    run([certs_tool('axle-trust-add'), hub_trust, ca_a])
    ports = {ROOT: free_port(), LON: free_port()}
    fed = at.Federation(ws, FED, pki)
    nodes = {}
    for r, peer in ((ROOT, LON), (LON, ROOT)):
        nodes[r] = Node(ws, fed, r, port=ports[r], cred=Cred(parties[r]), trust_dir=trust[r],
                        peers=[(peer, '127.0.0.1:%d' % ports[peer])], extra=EXTRA)
    _env.update(ws=ws, stubs=stubs, ca_a=ca_a, ca_b=ca_b, ca_side=ca_side, parties=parties,
                trust=trust, hub_trust=hub_trust, nodes=nodes, ports=ports,
                bundle=os.path.join(hub_trust, FED, 'ca.pem'))


def _read(path):
    with open(path, 'rb') as f:
        return f.read()


def h2(region, party):
    """A fresh mTLS HTTP/2 connection as party, verifying the node with the hub's bundle."""
    e = env()
    s = tls_connect('127.0.0.1', e['ports'][region], party.chain, party.key, e['bundle'],
                    timeout=10)
    return H2Client(s, timeout=10)


def metrics(region):
    c = h2(region, env()['parties']['admin' if region == ROOT else 'admin-lon'])
    try:
        r = c.request('GET', '/metrics', timeout=10)
    finally:
        c.close()
    check(r.status == 200, '/metrics at %s: %r' % (region, r))
    return parse_metrics(r.body.decode())


def refused_handshakes(region):
    return sum(v for k, v in metrics(region).items()
               if k.startswith('axle_handshakes_refused_total'))


class Traffic:
    """A hub calling Node.Info on both nodes, a new connection each time."""

    def __init__(self):
        self.calls = 0
        self.failures = []
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True)
        self._t.start()

    def _run(self):
        hub = env()['parties']['hub']
        while not self._stop.is_set():
            for region in (ROOT, LON):
                try:
                    c = h2(region, hub)
                    try:
                        r, _ = c.info(timeout=10)
                    finally:
                        c.close()
                    if r.grpc_status != 0:
                        self.failures.append('%s: grpc-status %s %s'
                                             % (region, r.grpc_status, r.grpc_message))
                except Exception as ex:  # noqa: BLE001 -- every failure is the finding
                    self.failures.append('%s: %s: %s' % (region, type(ex).__name__, ex))
                self.calls += 1
            time.sleep(0.02)

    def stop(self):
        self._stop.set()
        self._t.join(15)


_delegations = [0]


def mirrors_still():
    """A register change at uk reaches uk.london's mirror: the axle between them works."""
    e = env()
    _delegations[0] += 1
    n = _delegations[0]
    admin = e['parties']['admin']
    creds = grpc.ssl_channel_credentials(root_certificates=_read(e['bundle']),
                                         private_key=_read(admin.key),
                                         certificate_chain=_read(admin.chain))
    p = e['stubs'].registry_pb2
    with grpc.secure_channel('localhost:%d' % e['ports'][ROOT], creds) as ch:
        e['stubs'].registry_pb2_grpc.RegistryStub(ch).Delegate(p.DelegateRequest(
            registrar_id='reg%d' % n, prefix='uk.r%d' % n, display_name='R%d' % n,
            cert_identity='axle://%s/member/uk.r%d.hub' % (FED, n)), timeout=10)
    admin_lon = e['parties']['admin']

    def seen():
        c = h2(LON, admin_lon)
        try:
            r = c.grpc_unary('/axle.v1.Registry/Resolve',
                             p.ResolveRequest(address='uk.r%d.x' % n).SerializeToString(),
                             timeout=10)
        finally:
            c.close()
        if r.grpc_status != 0 or len(r.messages) != 1:
            return None
        out = p.ResolveResponse.FromString(r.messages[0])
        return out if out.matched_prefix == 'uk.r%d' % n and out.from_mirror else None
    wait_for(seen, WAIT, interval=0.2, what='uk.r%d delegated at uk seen at uk.london' % n)


def reload_all():
    for n in env()['nodes'].values():
        line = n.hup()
        check('what=tls' in line, 'reload did not take the TLS files: %s' % line)


@test(timeout=300)
def rollover_refuses_nothing():
    e = env()
    mirrors_still()
    traffic = Traffic()
    try:
        wait_for(lambda: traffic.calls >= 10, 20, what='traffic running')
        # 1. the new CA, trusted beside the old one everywhere.
        run([certs_tool('axle-ca-new'), e['ca_b'], FED, '--generation', '2'])
        for t in list(e['trust'].values()) + [e['hub_trust']]:
            run([certs_tool('axle-trust-add'), t, e['ca_b']])
        reload_all()
        mirrors_still()
        # 2. every certificate renewed from the new CA, key made where used.
        for name in (LON, 'hub', ROOT, 'admin', 'admin-lon'):
            e['parties'][name].renew(e['ca_b'], e['ca_a'], e['ca_side'])
            if name in e['nodes']:
                e['nodes'][name].hup()
            time.sleep(0.3)		# traffic meanwhile, on mixed generations
        for p in e['parties'].values():
            run(['openssl', 'verify', '-CAfile', os.path.join(e['ca_b'], 'ca.pem'), p.cert])
        mirrors_still()
        # 3. the old CA out of every trust folder.
        for t in list(e['trust'].values()) + [e['hub_trust']]:
            run([certs_tool('axle-trust-remove'), t, os.path.join(e['ca_a'], 'ca.pem')])
        reload_all()
        mirrors_still()
        before = traffic.calls
        wait_for(lambda: traffic.calls >= before + 10, 20, what='traffic after the rollover')
    finally:
        traffic.stop()
    check(not traffic.failures, '%d of %d hub calls failed during the rollover, first: %s'
          % (len(traffic.failures), traffic.calls, traffic.failures[:3]))
    for r in (ROOT, LON):
        check(refused_handshakes(r) == 0, '%s refused handshakes during the rollover' % r)
    print('  %d hub calls, none refused, over three reloads' % traffic.calls)


@test(timeout=120)
def old_ca_refused_after_rollover():
    e = env()
    # A certificate of the old CA, made now: it is refused, the new one is not.
    run([certs_tool('axle-cert-issue'), e['ca_a'], 'member', HUB, '--out',
         e['ca_side'], '--name', 'late-old'])
    late = at.Cred(os.path.join(e['ca_side'], 'late-old.pem'),
                   os.path.join(e['ca_side'], 'late-old.key'),
                   os.path.join(e['ca_side'], 'late-old.chain.pem'))
    for r in (ROOT, LON):
        why = at.refused('127.0.0.1', e['ports'][r], late.chain, late.key, e['bundle'])
        check(why is not None, '%s accepted a certificate of the removed CA' % r)
        check(refused_handshakes(r) >= 1, '%s did not count the refusal' % r)
        c = h2(r, e['parties']['hub'])
        try:
            resp, _ = c.info(timeout=10)
        finally:
            c.close()
        check(resp.grpc_status == 0, '%s: the renewed hub refused: %r' % (r, resp))


if __name__ == '__main__':
    def diag(name):
        for n in _env.get('nodes', {}).values():
            print('--- axled log tail (%s) ---\n%s' % (n.log, n.log_tail(25)))
    main(after_failure=diag)

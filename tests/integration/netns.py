"""netns.py -- axle nodes in network namespaces, for the federation-under-fault tests
(test_federation_faults.py, `make federation`).

Each node gets its own namespace (ip netns): one veth pair per axle between two nodes,
each end with an address of a /30 the test makes (198.19.0.0/16, RFC 2544's benchmarking
range), and one veth pair to the test's own (host) namespace on which the driver reaches
the node's API (198.18.X.0/24, X chosen free). Each node also has its own address
(198.19.255.N on its namespace's loopback; its certificate's IP name), which each
neighbour routes over their veth and no other node can reach. A node listens on every
address of its namespace and its [peer] sections name the neighbours' node addresses, so
cutting a veth (ip link set down) cuts exactly that axle. The host's loopback carries no
node traffic.

Namespaces are named PREFIX<pid>-<i>: every run removes the namespaces of earlier runs whose
process is gone (a crashed run), and its own at exit, even on failure. Needs CAP_NET_ADMIN
(root); where `ip netns add` is refused (a chroot, no capability) available() says why and
the caller counts its checks as skipped (axletest.skip), never passed.
"""

import atexit
import os
import re
import signal
import subprocess
import sys

import axletest as at

PREFIX = 'axlens'
PORT = 7443
IP = 'ip'


def _ip(*args, check_rc=True):
    return at.run([IP] + list(args), timeout=30, check_rc=check_rc)


def _pid_alive(pid):
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True


def namespaces():
    cp = _ip('netns', 'list', check_rc=False)
    return [line.split()[0] for line in cp.stdout.splitlines() if line.strip()]


def remove_stale():
    """Deletes the namespaces of earlier runs whose process has gone, after a SIGKILL to
    the nodes that run still had in them (a run killed outright leaves both). Returns
    their names."""
    gone = []
    for ns in namespaces():
        m = re.match(r'^%s(\d+)-' % PREFIX, ns)
        if m and not _pid_alive(int(m.group(1))):
            pids = _ip('netns', 'pids', ns, check_rc=False).stdout.split()
            for pid in pids:
                try:
                    os.kill(int(pid), signal.SIGKILL)
                except (ProcessLookupError, ValueError):
                    pass
            _ip('netns', 'del', ns, check_rc=False)
            gone.append(ns)
    return gone


def _exit_on_sigterm():
    """SIGTERM (tests/run.sh's timeout) ends the run through sys.exit, so that the atexit
    clean-up (nodes, then namespaces) runs."""
    if signal.getsignal(signal.SIGTERM) == signal.SIG_DFL:
        signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))


def available():
    """None when this process may make namespaces and veths; else the reason it may not."""
    probe = '%s%d-probe' % (PREFIX, os.getpid())
    cp = _ip('netns', 'add', probe, check_rc=False)
    if cp.returncode != 0:
        return 'cannot make a network namespace here (no CAP_NET_ADMIN?): %s' % cp.stderr.strip()
    try:
        cp = _ip('-n', probe, 'link', 'add', 'pa', 'type', 'veth', 'peer', 'name', 'pb',
                 check_rc=False)
        if cp.returncode != 0:
            return 'cannot make a veth pair here: %s' % cp.stderr.strip()
    finally:
        _ip('netns', 'del', probe, check_rc=False)
    return None


def netem_available():
    """None when tc netem works here (the sch_netem module); else the reason."""
    probe = '%s%d-netem' % (PREFIX, os.getpid())
    _ip('netns', 'add', probe)
    try:
        _ip('-n', probe, 'link', 'add', 'pa', 'type', 'veth', 'peer', 'name', 'pb')
        _ip('-n', probe, 'link', 'set', 'pa', 'up')
        cp = at.run([IP, 'netns', 'exec', probe, 'tc', 'qdisc', 'add', 'dev', 'pa', 'root',
                     'netem', 'loss', '1%', 'delay', '1ms'], check_rc=False)
        if cp.returncode != 0:
            return 'tc netem does not work here (kernel without sch_netem?): %s' % \
                cp.stderr.strip()
    finally:
        _ip('netns', 'del', probe, check_rc=False)
    return None


def _free_mgmt_block():
    """A /24 of 198.18.0.0/16 no address of the host namespace is in."""
    used = _ip('-4', 'addr', 'show').stdout
    for i in range(256):
        x = (os.getpid() + i) % 256
        if ' 198.18.%d.' % x not in used:
            return x
    raise at.TestFailure('no free /24 in 198.18.0.0/16 for the management veths')


class Link:
    """A veth pair between two nodes' namespaces: one axle."""

    def __init__(self, net, k, a, b):
        self.net, self.a, self.b = net, a, b
        self.dev = {a: 'x%d' % k, b: 'x%d' % k}	# same name on both ends, each in its netns
        self.addr = {a: '198.19.%d.%d' % (k // 64, (k % 64) * 4 + 1),
                     b: '198.19.%d.%d' % (k // 64, (k % 64) * 4 + 2)}
        na, nb = net.ns[a], net.ns[b]
        _ip('-n', na, 'link', 'add', self.dev[a], 'type', 'veth', 'peer', 'name', self.dev[b],
            'netns', nb)
        for r, ns in ((a, na), (b, nb)):
            _ip('-n', ns, 'addr', 'add', self.addr[r] + '/30', 'dev', self.dev[r])
            _ip('-n', ns, 'link', 'set', self.dev[r], 'up')
        self._routes()
        self.up = True

    def _routes(self):
        """Each end routes the other's node address over this link (again after a heal:
        the kernel drops a route when its device goes down)."""
        for r in (self.a, self.b):
            o = self.other(r)
            _ip('-n', self.net.ns[r], 'route', 'replace', self.net.node_addr[o] + '/32',
                'via', self.addr[o], 'dev', self.dev[r])

    def other(self, r):
        return self.b if r == self.a else self.a

    def set(self, up):
        """Cuts (False) or heals (True) the axle: both ends down or up."""
        for r in (self.a, self.b):
            _ip('-n', self.net.ns[r], 'link', 'set', self.dev[r], 'up' if up else 'down')
        if up:
            self._routes()
        self.up = up

    def netem(self, spec):
        """tc netem on both ends (e.g. ['loss', '10%', 'delay', '40ms']); None removes it."""
        for r in (self.a, self.b):
            cmd = [IP, 'netns', 'exec', self.net.ns[r], 'tc', 'qdisc']
            if spec:
                at.run(cmd + ['replace', 'dev', self.dev[r], 'root', 'netem'] + list(spec))
            else:
                at.run(cmd + ['del', 'dev', self.dev[r], 'root'], check_rc=False)

    def __repr__(self):
        return '%s<->%s' % (self.a, self.b)


class Net:
    """The namespaces of one run: a node namespace per region, its management veth to the
    host, and the links (axles) between them."""

    def __init__(self, regions):
        remove_stale()
        _exit_on_sigterm()
        self.tag = '%s%d' % (PREFIX, os.getpid())
        self.ns = {}
        self.mgmt = {}		# region -> the node's address on its management veth
        self.node_addr = {}	# region -> the node's own address (its namespace's lo)
        self.links = []
        self.block = _free_mgmt_block()
        atexit.register(self.close)
        for r in regions:
            self.add_node(r)

    def add_node(self, r):
        """A namespace for region r's node, with its management veth."""
        self._node_ns(len(self.ns), r)

    def _node_ns(self, i, r):
        check_room = i < 63
        at.check(check_room, 'at most 63 nodes in one run')
        ns = '%s-%d' % (self.tag, i)
        _ip('netns', 'add', ns)
        self.ns[r] = ns
        _ip('-n', ns, 'link', 'set', 'lo', 'up')	# the namespace's own loopback
        host_dev = 'axm%dn%d' % (os.getpid() % 100000, i)
        host_ip = '198.18.%d.%d' % (self.block, i * 4 + 1)
        node_ip = '198.18.%d.%d' % (self.block, i * 4 + 2)
        _ip('link', 'add', host_dev, 'type', 'veth', 'peer', 'name', 'mgmt', 'netns', ns)
        _ip('addr', 'add', host_ip + '/30', 'dev', host_dev)
        _ip('link', 'set', host_dev, 'up')
        _ip('-n', ns, 'addr', 'add', node_ip + '/30', 'dev', 'mgmt')
        _ip('-n', ns, 'link', 'set', 'mgmt', 'up')
        self.mgmt[r] = node_ip
        self.node_addr[r] = '198.19.255.%d' % (i + 1)
        _ip('-n', ns, 'addr', 'add', self.node_addr[r] + '/32', 'dev', 'lo')

    def link(self, a, b):
        ln = Link(self, len(self.links), a, b)
        self.links.append(ln)
        return ln

    def links_of(self, r):
        return [ln for ln in self.links if r in (ln.a, ln.b)]

    def between(self, a, b):
        for ln in self.links:
            if {ln.a, ln.b} == {a, b}:
                return ln
        return None

    def addresses(self, r):
        """The addresses r's node is reached at (its certificate's IP names): its node
        address, which each neighbour routes over their link, and its management address."""
        return [self.node_addr[r], self.mgmt[r]]

    def wrap(self, r):
        """argv prefix that runs a program in r's namespace."""
        return [IP, 'netns', 'exec', self.ns[r]]

    def close(self):
        """Deletes this run's namespaces (their veths go with them)."""
        for ns in list(self.ns.values()):
            subprocess.run([IP, 'netns', 'del', ns], stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL, timeout=30)
        self.ns.clear()


class NetNode(at.Node):
    """An axled in its namespace: listens on every address there (port PORT); the driver
    reaches it on its management address."""

    def __init__(self, net, ws, fed, region, **kw):
        self.net = net
        super().__init__(ws, fed, region, port=PORT, wrap=net.wrap(region), **kw)

    def config_text(self):
        text = super().config_text()
        return text.replace('listen = %s:%d' % (self.host, self.port),
                            'listen = 0.0.0.0:%d' % self.port, 1)

    def write_config(self):
        self.host = self.net.mgmt[self.region]
        super().write_config()


# --- a federation of NetNodes ---------------------------------------------------------------

def _switchtest():
    import switchtest
    return switchtest


class Topology:
    """A tree (region -> parent, the root's parent None) and cross links (pairs)."""

    def __init__(self, parent, cross=()):
        self.parent = dict(parent)
        self.cross = list(cross)
        self.regions = list(self.parent)

    def children(self, r):
        return [c for c, p in self.parent.items() if p == r]

    def ancestors(self, r):
        out = []
        while self.parent.get(r):
            r = self.parent[r]
            out.append(r)
        return out

    def subtree(self, r):
        out = [r]
        for c in self.children(r):
            out += self.subtree(c)
        return out

    def depth(self, r):
        return len(self.ancestors(r)) + 1

    def edges(self):
        return [(p, c) for c, p in self.parent.items() if p] + self.cross


def make_fed_class():
    """switchtest.Fed's helpers (registrars, hubs, Registry calls) over a NetFed."""
    st = _switchtest()
    import grpc

    class NetFed(st.Fed):
        """The federation of a Topology, one node per namespace; each [peer] is the
        neighbour's end of their veth, each child names its tree parent."""

        def __init__(self, topo, prefix='axle-netns-', node_extra='', log_level=None,
                     members=()):
            self.topo = topo
            self.node_extra, self.log_level = node_extra, log_level
            self.ws = at.Workspace(prefix=prefix)
            self.net = Net(topo.regions)
            for a, b in topo.edges():
                self.net.link(a, b)
            # Only the certificates the run uses (a 20-region axle-dev-federation is 60
            # more openssl runs): per region its node's (with its IP names) and its
            # admin's, and members' for the hubs named.
            self.fed = at.make_ca(self.ws, st.FED)
            self.fed.trust_add()
            self.stubs = at.grpc_stubs(self.ws)
            self.nodes = {}
            self.creds = {}
            for r in topo.regions:
                self.issue_region(r, r in members)
            for r in topo.regions:
                peers = [(ln.other(r), '%s:%d' % (self.net.node_addr[ln.other(r)], PORT))
                         for ln in self.net.links_of(r)]
                self.nodes[r] = NetNode(self.net, self.ws, self.fed, r, cred=self.creds[r],
                                        peers=peers, parent=topo.parent[r],
                                        log_level=log_level, extra=node_extra, start=False)
            for r in topo.regions:
                self.nodes[r].start()

        def add_region(self, region, parent, extra=''):
            """A new node in a new namespace, linked to parent's only, whose [peer] is its
            parent and nothing else; no other node's file changes."""
            self.topo.parent[region] = parent
            self.topo.regions.append(region)
            self.net.add_node(region)
            ln = self.net.link(parent, region)
            self.issue_region(region, True)
            self.nodes[region] = NetNode(self.net, self.ws, self.fed, region,
                                         cred=self.creds[region],
                                         peers=[(parent, '%s:%d' % (self.net.node_addr[parent],
                                                                    PORT))],
                                         parent=parent, log_level=self.log_level,
                                         extra=self.node_extra + extra, start=False)
            return ln

        def issue_region(self, region, member):
            """region's node certificate, its admin's (fed.admin) and, if member, the
            member certificate of region.hub (fed.member)."""
            d = os.path.join(self.fed.root, region)	# where fed.admin()/member() look
            todo = [('admin', region, 'admin', ['--user', 'admin'])]
            if member:
                todo.append(('member', region + '.hub', 'member', []))
            for role, addr, name, more in todo:
                at.run([at.certs_tool('axle-cert-issue'), self.fed.ca_dir, role, addr,
                        '--out', d, '--name', name] + more, timeout=120)
            self.creds[region] = self.fed.issue('node', region, name='node-' + region,
                                                dns=['localhost'], timeout=120,
                                                ip=self.net.addresses(region))

        def channel(self, region, cred):
            creds = grpc.ssl_channel_credentials(
                root_certificates=st._read(self.fed.ca_pem), private_key=st._read(cred.key),
                certificate_chain=st._read(cred.chain))
            return grpc.secure_channel('%s:%d' % (self.net.mgmt[region], PORT), creds)

        def axlectl(self, region, *args, cred=None, check_rc=True):
            cred = cred or self.fed.admin(region)
            cmd = [os.path.join(at.BUILD, 'axlectl'), '--cert', cred.chain, '--key', cred.key,
                   '--trust', self.fed.trust_dir, '--federation', st.FED,
                   '--server', '%s:%d' % (self.net.mgmt[region], PORT)] + list(args)
            return at.run(cmd, timeout=30, check_rc=check_rc)

        def close(self):
            for n in self.nodes.values():
                n.kill()
            self.net.close()

    return NetFed

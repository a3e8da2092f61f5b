"""fedtest.py -- a federation grown live for the peering tests: nodes with only their
parent as [peer], admin credentials per region, axlectl and registry calls, hub registrars
(test_peering_register.py, test_region_split.py)."""

import os

import axletest as at
from switchtest import FED

import grpc


class Fed:
    """The nodes and stubs of a federation grown live, each node with only its parent as
    [peer]; the switchtest helpers work on it (channel, registry). prefix names the
    workspace, regions get certificates at once, ports_for gets a port each (regions
    added later included), extra is every node's extra configuration."""

    def __init__(self, prefix, regions, ports_for, extra):
        self.ws = at.Workspace(prefix=prefix)
        self.fed = at.make_federation(self.ws, FED, list(regions))
        self.stubs = at.grpc_stubs(self.ws)
        self.ports = {r: at.free_port() for r in ports_for}
        self.extra = extra
        self.nodes = {}
        self.creds = {}

    def start(self, region, parent=None, extra='', cred=None):
        peers = [(parent, '127.0.0.1:%d' % self.ports[parent])] if parent else []
        self.nodes[region] = at.Node(self.ws, self.fed, region, port=self.ports[region],
                                     peers=peers, parent=parent, cred=cred,
                                     extra=self.extra + extra, log_level='debug')

    def admin(self, region):
        return self.creds.get(region) or self.fed.admin(region)

    def channel(self, region, cred):
        def rd(p):
            with open(p, 'rb') as f:
                return f.read()
        creds = grpc.ssl_channel_credentials(root_certificates=rd(self.fed.ca_pem),
                                             private_key=rd(cred.key),
                                             certificate_chain=rd(cred.chain))
        return grpc.secure_channel('localhost:%d' % self.ports[region], creds)

    def registry(self, region, method, req, cred=None, service='RegistryStub'):
        with self.channel(region, cred or self.admin(region)) as ch:
            stub = getattr(self.stubs.registry_pb2_grpc, service)(ch)
            return getattr(stub, method)(req, timeout=10)

    def axlectl(self, region, *args, check_rc=True):
        cred = self.admin(region)
        cmd = [os.path.join(at.BUILD, 'axlectl'), '--cert', cred.chain, '--key', cred.key,
               '--trust', self.fed.trust_dir, '--federation', FED,
               '--server', '127.0.0.1:%d' % self.ports[region]] + list(args)
        return at.run(cmd, timeout=30, check_rc=check_rc)

    def hub_registrar(self, region):
        """Registrar <region>-hub for <region>.hub, active, with a switch service; its
        member certificate."""
        rp, hub = self.stubs.registry_pb2, region + '.hub'
        self.registry(region, 'Delegate', rp.DelegateRequest(
            registrar_id=region + '-hub', prefix=hub, display_name=region + ' hub',
            cert_identity='axle://%s/member/%s' % (FED, hub)))
        self.registry(region, 'SetStatus', rp.SetStatusRequest(
            registrar_id=region + '-hub', status=rp.REGISTRAR_STATUS_ACTIVE, reason='onboarded'))
        self.registry(region, 'PublishService', rp.PublishServiceRequest(
            registrar_id=region + '-hub', service=rp.Service(
                name=region + '-switch', kind=self.stubs.common_pb2.SERVICE_KIND_SWITCH,
                address=hub + '.switch', message_types=['note.v1'],
                description='switch of ' + region)))
        return self.fed.issue('member', hub, name='hub-' + region)

    def resolve(self, region, address):
        rp = self.stubs.registry_pb2
        return self.registry(region, 'Resolve', rp.ResolveRequest(address=address))

    def log_tails(self, n=30):
        for r, node in self.nodes.items():
            print('--- %s log tail ---' % r)
            print(node.log_tail(n))

"""test_mtls.py -- mTLS admission of one node: good, missing and wrong certificates, revocation on SIGHUP."""

import os
import socket
import ssl
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from axletest import (GRPC_OK, GRPC_UNIMPLEMENTED, H2Client, H2Closed, Node,  # noqa: E402
                      Workspace, check, check_config, grpc_stubs, main, make_ca,
                      make_federation, refused, test, tls_context, utc_stamp, wait_for)
from axletest import node_log_diag, shared_env  # noqa: E402

FEDNAME = 'fame-test'
REGION = 'uk.test'
HUB = REGION + '.hub'
_env = {}


@shared_env(_env)
def env():
    """Workspace, federation, stubs and one running node, made once."""
    ws = Workspace()
    fed = make_federation(ws, FEDNAME, [REGION])
    grpc_stubs(ws)
    _env.update(ws=ws, fed=fed, member=fed.member(REGION))
    _env['node'] = Node(ws, fed, REGION)


def node():
    return env()['node']


def assert_refused(cred, what, reason, **kw):
    """No HTTP/2 answer is possible with cred, the node stays up, and its
    refusal counter for reason (tls.h net_tls_refusal names) went up by one."""
    n, e = node(), env()
    key = 'axle_handshakes_refused_total{reason="%s"}' % reason
    before = n.metrics(e['fed'].admin(REGION)).get(key)
    check(before is not None, '/metrics has no %s' % key)
    why = refused(n.host, n.port, cred and cred.chain, cred and cred.key, n.fed.ca_pem, **kw)
    check(why, '%s: the node answered an HTTP/2 request; it must refuse the handshake' % what)
    check(n.alive(), 'node died after %s: %s' % (what, n.log_tail()))
    print('   %s -> %s' % (what, why))
    def counted():
        m = n.metrics(e['fed'].admin(REGION))
        return m if m.get(key, 0) > before else None
    wait_for(counted, 3, interval=0.1, what='%s to count up' % key)
    time.sleep(0.2)		# a second increment for the same refusal would show by now
    after = n.metrics(e['fed'].admin(REGION))
    check(after[key] == before + 1, '%s went from %d to %d for one refusal'
          % (key, before, after[key]))
    return why


def assert_info_ok(cred, role, uri=None, prefix=None):
    r, info = node().info(cred)
    check(r.status == 200, 'http status %s: %r' % (r.status, r))
    check(r.grpc_status == GRPC_OK, 'grpc-status %s %r' % (r.grpc_status, r.grpc_message))
    check(info is not None, 'no InfoResponse in %r' % r)
    check(info.federation == FEDNAME, 'federation %r' % info.federation)
    check(info.region == REGION, 'region %r' % info.region)
    check(info.version != '', 'empty version')
    check(info.boot_count >= 1, 'boot_count %d' % info.boot_count)
    check(info.caller_role == role, 'caller_role %r, want %r' % (info.caller_role, role))
    if uri:
        check(info.caller == uri, 'caller %r, want %r' % (info.caller, uri))
    if prefix:
        check(info.caller.startswith(prefix), 'caller %r, want %s...' % (info.caller, prefix))
    return info


# --- configuration check -------------------------------------------------------

@test
def config_check_ok():
    rc, out = check_config(node().conf)
    check(rc == 0, 'axled -n exited %d: %s' % (rc, out))
    check('configuration OK' in out, 'no "configuration OK" in %r' % out)


def _bad_config(name, section_line, bad_line):
    """Writes the node's config plus one bad line in a section; returns (path, line number)."""
    n = node()
    text = n.config_text().rstrip('\n') + '\n\n' + section_line + '\n' + bad_line + '\n'
    path = os.path.join(n.dir, name)
    with open(path, 'w') as f:
        f.write(text)
    return path, text.splitlines().index(bad_line) + 1


@test
def config_check_bad_limit():
    path, line = _bad_config('bad-limit.conf', '[limits]', 'max_concurrent_streams = 0')
    rc, out = check_config(path)
    check(rc == 1, 'axled -n exited %d on a bad config: %s' % (rc, out))
    check('%s:%d:' % (path, line) in out or '%s:%d:' % (os.path.basename(path), line) in out,
          'want "FILE:%d: ..." in %r' % (line, out))
    check('configuration OK' not in out, 'bad config called OK')


@test
def config_check_unknown_key():
    path, line = _bad_config('bad-key.conf', '[limits]', 'no_such_limit = 5')
    rc, out = check_config(path)
    check(rc == 1, 'axled -n exited %d on an unknown key: %s' % (rc, out))
    check(':%d:' % line in out, 'want "FILE:%d: ..." in %r' % (line, out))


# --- good credentials ---------------------------------------------------------

@test
def info_as_member():
    assert_info_ok(env()['member'], 'member', uri='axle://%s/member/%s' % (FEDNAME, HUB))


@test
def info_as_admin():
    assert_info_ok(env()['fed'].admin(REGION), 'admin',
                   prefix='axle://%s/admin/%s/' % (FEDNAME, REGION))


@test
def info_as_issued_member():
    c = env()['fed'].issue('member', REGION + '.school', name='school')
    assert_info_ok(c, 'member', uri='axle://%s/member/%s.school' % (FEDNAME, REGION))


@test
def healthz():
    c = node().connect(env()['member'])
    try:
        status, headers, trailers, body = c.request('GET', '/healthz')
    finally:
        c.close()
    check(status == 200, 'healthz status %s' % status)
    check(body == b'ok\n', 'healthz body %r' % body)


@test
def metrics():
    c = node().connect(env()['fed'].admin(REGION))
    try:
        r = c.request('GET', '/metrics')
    finally:
        c.close()
    check(r.status == 200, 'metrics status %s' % r.status)
    check(r.header('content-type', '').startswith('text/plain'), 'content-type %r' % r.header('content-type'))
    check(b'# TYPE ' in r.body, 'no Prometheus TYPE lines in %r' % r.body[:300])


@test
def unknown_method_unimplemented():
    c = node().connect(env()['member'])
    try:
        r = c.grpc_unary('/axle.v1.Node/Nope', b'')
        r2 = c.grpc_unary('/axle.v1.NoSuchService/Info', b'')
        _, info = c.info()		# the connection is still usable
    finally:
        c.close()
    check(r.grpc_status == GRPC_UNIMPLEMENTED, 'want UNIMPLEMENTED, got %r' % r)
    check(r2.grpc_status == GRPC_UNIMPLEMENTED, 'want UNIMPLEMENTED, got %r' % r2)
    check(info is not None, 'Info after UNIMPLEMENTED failed')


# --- refusals -------------------------------------------------------------------

@test
def no_client_cert_refused():
    assert_refused(None, 'no client certificate', 'no_cert')


@test
def unknown_ca_refused():
    rogue = make_ca(env()['ws'], FEDNAME, subdir='pki-rogue')	# same name, not trusted
    c = rogue.issue('member', HUB, name='rogue-member')
    assert_refused(c, 'cert from an untrusted CA', 'untrusted')


@test
def expired_refused():
    c = env()['fed'].issue('member', HUB, name='expired',
                           start=utc_stamp(-10 * 86400), end=utc_stamp(-86400))
    assert_refused(c, 'expired cert', 'expired')


@test
def not_yet_valid_refused():
    c = env()['fed'].issue('member', HUB, name='future',
                           start=utc_stamp(86400), end=utc_stamp(10 * 86400))
    assert_refused(c, 'not-yet-valid cert', 'expired')


@test
def ca_as_leaf_refused():
    c = env()['fed'].issue('member', HUB, name='ca-leaf', ca=True)
    assert_refused(c, 'CA:TRUE cert used as a leaf', 'identity')


@test
def zero_uri_refused():
    c = env()['fed'].issue('member', HUB, name='no-uri', uris=[])
    assert_refused(c, 'cert without URI SAN', 'identity')


@test
def two_uris_refused():
    c = env()['fed'].issue('member', HUB, name='two-uris',
                           uris=['axle://%s/member/%s' % (FEDNAME, HUB),
                                 'axle://%s/member/%s.other' % (FEDNAME, REGION)])
    assert_refused(c, 'cert with two URI SANs', 'identity')


@test
def http_uri_refused():
    c = env()['fed'].issue('member', HUB, name='http-uri',
                           uris=['http://%s/member/%s' % (FEDNAME, HUB)])
    assert_refused(c, 'cert with an http:// URI', 'identity')


def _other_federation():
    """fame-other's CA, trusted by the node (trust-add + SIGHUP)."""
    e = env()
    if 'other' not in e:
        other = make_ca(e['ws'], 'fame-other')
        other.trust_add(e['fed'].trust_dir)
        check(os.path.isdir(os.path.join(e['fed'].trust_dir, 'fame-other')),
              'axle-trust-add made no fame-other folder')
        node().hup()
        e['other'] = other
    return e['other']


@test
def other_federation_identity_refused():
    c = _other_federation().issue('member', 'uk.other.hub', name='other-member')
    assert_refused(c, 'identity of another federation', 'identity')


@test
def other_ca_claiming_our_federation_refused():
    c = _other_federation().issue('member', HUB, name='other-claims-ours',
                                  uris=['axle://%s/member/%s' % (FEDNAME, HUB)])
    assert_refused(c, "fame-other's CA vouching for a fame-test identity", 'identity')


@test
def still_fine_after_other_federation():
    assert_info_ok(env()['member'], 'member', uri='axle://%s/member/%s' % (FEDNAME, HUB))


@test
def alpn_http11_refused():
    assert_refused(env()['member'], 'ALPN http/1.1 only', 'alpn', alpn=('http/1.1',))


@test
def no_alpn_refused():
    assert_refused(env()['member'], 'no ALPN', 'alpn', alpn=())


# --- revocation on reload -----------------------------------------------------

@test
def revoke_on_sighup():
    e = env()
    fed, n = e['fed'], node()
    x = fed.issue('member', REGION + '.revokee', name='revokee')
    a = n.connect(x)
    try:
        r, info = a.info()
        check(info is not None, 'Info as X before revocation: %r' % r)
        fed.revoke(x)
        fed.publish_crl()
        fed.trust_add()
        line = n.hup()
        check('error' not in line.lower() or 'errors=0' in line, 'reload reported: %s' % line)
        assert_refused(x, 'revoked cert after SIGHUP', 'revoked')
        r, info = a.info()
        check(info is not None, 'connection opened before revocation stopped answering: %r' % r)
    finally:
        a.close()
    assert_info_ok(e['member'], 'member', uri='axle://%s/member/%s' % (FEDNAME, HUB))


@test
def resumed_session_after_revocation():
    """A session got with a valid certificate cannot carry it past its
    revocation: the node issues no tickets and keeps no session cache, so the
    resumption attempt is a full handshake, and that is refused."""
    e = env()
    fed, n = e['fed'], node()
    x = fed.issue('member', REGION + '.resumer', name='resumer')
    ctx = tls_context(x.chain, x.key, fed.ca_pem)
    s = ctx.wrap_socket(socket.create_connection((n.host, n.port), timeout=10),
                        server_hostname=n.host)
    try:
        c = H2Client(s)
        r, info = c.info()		# reading lets any NewSessionTicket arrive
        check(info is not None, 'Info as X before revocation: %r' % r)
        sess = s.session
        check(sess is not None, 'no SSLSession after the handshake')
        check(not sess.has_ticket, 'the node issued a session ticket (lifetime %d s)'
              % sess.ticket_lifetime_hint)
    finally:
        s.close()
    fed.revoke(x)
    fed.publish_crl()
    fed.trust_add()
    n.hup()
    key = 'axle_handshakes_refused_total{reason="revoked"}'
    revoked0 = n.metrics(e['fed'].admin(REGION))[key]
    raw = socket.create_connection((n.host, n.port), timeout=10)
    t = None
    why = None
    try:
        t = ctx.wrap_socket(raw, server_hostname=n.host, session=sess)
        check(not t.session_reused, 'the node resumed a session of a revoked certificate')
        try:
            r = H2Client(t, timeout=10).request('GET', '/healthz', timeout=10)
            check(r.status is None, 'revoked certificate served after a resumption attempt: %r' % r)
            why = 'no response'
        except (H2Closed, ssl.SSLError, OSError) as ex:
            why = 'after handshake: %s' % ex
    except (ssl.SSLError, OSError) as ex:
        why = 'handshake: %s' % ex
    finally:
        (t or raw).close()
    check(why, 'no refusal')
    wait_for(lambda: n.metrics(e['fed'].admin(REGION))[key] == revoked0 + 1, 3, interval=0.1,
             what='%s to count the refusal' % key)
    print('   resumption attempt: not resumed, refused as revoked (%s)' % why)
    check(n.alive(), 'node died')
    assert_info_ok(e['member'], 'member', uri='axle://%s/member/%s' % (FEDNAME, HUB))


@test
def survives_and_stops_cleanly():
    assert_info_ok(env()['member'], 'member')
    n = node()
    check(n.alive(), 'node is not running')
    n.stop()


if __name__ == '__main__':
    main(after_failure=node_log_diag(_env))

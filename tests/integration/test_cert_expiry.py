"""test_cert_expiry.py -- expiry is watched: the gauges axle_cert_expiry_seconds{which}
and axle_crl_next_update_seconds, axled -n's warnings (within 30 days; a CRL within half
its validity if sooner), and the running node's log lines (within 7 days, at start,
after a reload and hourly), with real certificates from certs/ and a real node.
"""

import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import axletest as at  # noqa: E402
from axletest import Node, Workspace, check, main, make_federation, run, test, utc_stamp  # noqa: E402

FED = 'fame-test'
REGION = 'uk.test'
DAY = 86400
_env = {}


@at.shared_env(_env)
def env():
    ws = Workspace(prefix='axle-expiry-')
    fed = make_federation(ws, FED, [REGION])
    # A node certificate with just under five days left (an hour under, so that the
    # warning's whole days read 4 however fast the check follows: at exactly 5 days,
    # within the same second, it read 5 once), and a CRL with two days to its next update.
    soon = fed.issue('node', REGION, name='node-soon', start=utc_stamp(-3600),
                     end=utc_stamp(5 * DAY - 3600))
    run([at.certs_tool('axle-crl-publish'), fed.ca_dir, '2'])
    fed.trust_add()
    admin = fed.admin(REGION)
    _env.update(ws=ws, fed=fed, soon=soon, admin=admin)


def check_config(node):
    p = subprocess.run([at.axled_path(), '-n', '-c', node.conf], capture_output=True,
                       text=True, timeout=30)
    check(p.returncode == 0, 'axled -n exit %d: %s' % (p.returncode, p.stderr))
    check('configuration OK' in p.stdout, 'axled -n: %r' % p.stdout)
    return p.stderr


def gauge(m, prefix):
    vals = [v for k, v in m.items() if k.startswith(prefix)]
    check(len(vals) == 1, '%s: %d series in %r' % (prefix, len(vals),
                                                   [k for k in m if k.startswith('axle_c')]))
    return vals[0]


@test(timeout=120)
def soon_expiring_certificate_and_crl_are_told():
    e = env()
    node = Node(e['ws'], e['fed'], REGION, cred=e['soon'], start=False)
    err = check_config(node)
    check("the node's certificate" in err and 'expires in 4 days' in err
          and 'axle-cert-renew' in err, 'axled -n did not warn about the certificate: %r' % err)
    # The CRL has two days of two left: within 30 days but not within half its life.
    check('CRL' not in err, 'axled -n warned about a fresh CRL: %r' % err)
    node.start()
    try:
        log = at.wait_for(lambda: 'event=cert_expiry_soon' in node.log_text() and node.log_text(),
                          10, what='cert_expiry_soon at start')
        lines = [l for l in log.splitlines() if 'event=cert_expiry_soon' in l]
        check(any('which=node' in l for l in lines), 'no log line for the node: %r' % lines)
        check(any('which=crl' in l and 'federation=%s' % FED in l for l in lines),
              'no log line for the CRL (2 days < 7): %r' % lines)
        check(not any('which=ca' in l for l in lines), 'the ten-year CA was logged: %r' % lines)
        m = node.metrics(e['admin'])
        left = gauge(m, 'axle_cert_expiry_seconds{which="node"}')
        check(4 * DAY < left <= 5 * DAY, 'node cert gauge %r' % left)
        ca = gauge(m, 'axle_cert_expiry_seconds{which="ca",federation="%s"' % FED)
        check(ca > 3000 * DAY, 'CA gauge %r' % ca)
        crl = gauge(m, 'axle_crl_next_update_seconds{federation="%s"' % FED)
        check(1 * DAY < crl <= 2 * DAY, 'CRL gauge %r' % crl)
        # A renewed certificate: the gauge follows the reload.
        renewed = e['fed'].issue('node', REGION, name='node-renewed', days=365)
        os.replace(renewed.chain, e['soon'].chain)
        os.replace(renewed.key, e['soon'].key)
        node.hup()
        left = gauge(node.metrics(e['admin']), 'axle_cert_expiry_seconds{which="node"}')
        check(left > 360 * DAY, 'after the reload the node gauge is %r' % left)
    finally:
        node.stop()


@test(timeout=60)
def nothing_told_when_nothing_is_near():
    e = env()
    run([at.certs_tool('axle-crl-publish'), e['fed'].ca_dir, '30'])
    e['fed'].trust_add()
    node = Node(e['ws'], e['fed'], REGION, name='fresh', start=False)
    err = check_config(node)
    check('warning' not in err, 'axled -n warned with a fresh certificate and CRL: %r' % err)
    node.start()
    try:
        node.metrics(e['admin'])
        check('event=cert_expiry_soon' not in node.log_text(), 'a fresh node logged expiry')
    finally:
        node.stop()


@test(timeout=60)
def expired_crl_is_named():
    """A CRL past its next update: axled -n names it and says what to do (the node
    refuses every certificate of that CA then: the warning an operator must not miss)."""
    e = env()
    ca = os.path.abspath(e['fed'].ca_dir)
    stale = e['ws'].mkdir('stale-ca')
    run(['openssl', 'ca', '-batch', '-config', os.path.join(ca, 'ca.cnf'), '-gencrl',
         '-crlsec', '1', '-out', os.path.join(stale, 'crl.pem')],
        env=dict(os.environ, AXLE_CADIR=ca))
    with open(os.path.join(ca, 'ca.pem')) as src, open(os.path.join(stale, 'ca.pem'), 'w') as dst:
        dst.write(src.read())
    trust = e['ws'].mkdir('stale-trust')
    run([at.certs_tool('axle-trust-add'), trust, stale])
    time.sleep(2)
    node = Node(e['ws'], e['fed'], REGION, name='stale', trust_dir=trust, start=False)
    err = check_config(node)
    check('the CRL of CA' in err and 'expired at' in err and 'axle-crl-publish' in err,
          'axled -n did not name the expired CRL: %r' % err)


if __name__ == '__main__':
    main(after_failure=lambda name: None)

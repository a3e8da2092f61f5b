"""test_console_browser.py -- the escalation console in a real browser: Debian's chromium,
headless, driven by puppeteer-core (tests/browser/, pinned in its package-lock.json and
installed here with `npm ci` when missing), against real axled nodes over mutual TLS.

The admin's certificate reaches the browser the way an admin's does: certs/axle-cert-p12
makes a PKCS#12, pk12util puts it in an NSS database under the browser's own HOME, and the
AutoSelectCertificateForUrls policy names https://127.0.0.1:* so no dialog is needed (the
policy lives in /etc/chromium/policies/managed: this test needs root, and one run at a time
holds it, under a lock). A browser test that cannot run fails; it never passes.

A three-node federation (switchtest.Fed); a hub at uk.london sends to addresses nobody holds,
which opens real cases at uk.london. Screenshots of every page go to build/console-shots/.
"""

import atexit
import base64
import fcntl
import http.server
import json
import os
import shutil
import subprocess
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import axletest as at  # noqa: E402
from axletest import check, main, run, test, wait_for  # noqa: E402
from switchtest import Fed, new_id  # noqa: E402

LON = 'uk.london'
WY = 'uk.westyorks'
TO = 'uk.westyorks.hub'         # active, registered at uk.westyorks
MARK = b'console-payload-5d1c: who this child is'
BROWSER_DIR = os.path.join(at.TOP, 'tests', 'browser')
SHOTS = os.path.join(at.BUILD, 'console-shots')
CHROMIUM = '/usr/bin/chromium'
POLICY_DIR = '/etc/chromium/policies/managed'
POLICY = os.path.join(POLICY_DIR, 'axle-console-tests.json')
LOCK = '/tmp/axle-console-browser-tests.lock'
_env = {}


def need_tools():
    """Everything the browser needs, or a failure that says what to install."""
    missing = [t for t in (CHROMIUM, 'certutil', 'pk12util', 'node', 'npm')
               if not shutil.which(t)]
    check(not missing, 'browser tests cannot run: missing %s (run .ci/deps.sh as root)'
          % ' '.join(missing))
    check(os.geteuid() == 0, 'browser tests need root: the client-certificate policy lives '
          'in %s' % POLICY_DIR)
    if not os.path.isdir(os.path.join(BROWSER_DIR, 'node_modules', 'puppeteer-core')):
        run(['npm', 'ci', '--no-audit', '--no-fund'], cwd=BROWSER_DIR, timeout=600)


def hold_policy():
    """One browser run at a time owns the policy file; it goes when we exit."""
    lockf = open(LOCK, 'w')
    fcntl.flock(lockf, fcntl.LOCK_EX)
    os.makedirs(POLICY_DIR, exist_ok=True)
    rule = json.dumps({'pattern': 'https://127.0.0.1:*', 'filter': {}})
    with open(POLICY, 'w') as f:
        json.dump({'AutoSelectCertificateForUrls': [rule]}, f)

    def drop():
        try:
            os.unlink(POLICY)
        except FileNotFoundError:
            pass
        lockf.close()
    atexit.register(drop)


def nss_home(f, name, cred):
    """A HOME whose NSS database holds cred (via axle-cert-p12) and trusts the CA."""
    home = f.ws.mkdir('homes', name)
    db = 'sql:' + os.path.join(home, '.pki', 'nssdb')
    os.makedirs(os.path.join(home, '.pki', 'nssdb'))
    base = cred.key[:-len('.key')]
    p12 = os.path.join(home, name + '.p12')
    run(['sh', at.certs_tool('axle-cert-p12'), base, '--no-password', '--out', p12])
    run(['certutil', '-N', '-d', db, '--empty-password'])
    run(['pk12util', '-i', p12, '-d', db, '-W', ''])
    run(['certutil', '-A', '-d', db, '-n', 'axle federation CA', '-t', 'CT,,', '-i', f.fed.ca_pem])
    return home


def cases(f, *args):
    cp = f.axlectl(LON, '--json', 'cases', 'list', *args)
    return json.loads(cp.stdout).get('cases', [])


def open_case(f, hub, to, payload=b'hello'):
    """A real undeliverable Send: waits for the case it opens at uk.london."""
    known = {c['id'] for c in cases(f, '--all')}
    hub.send(hub.envelope(LON + '.hub', to=to, payload=payload))

    def new():
        ids = [c['id'] for c in cases(f) if c['id'] not in known]
        return ids[0] if ids else None
    return wait_for(new, 30, interval=0.2, what='a case for %s' % to)


def env():
    if 'f' not in _env:
        need_tools()
        f = Fed(prefix='axle-console-')
        f.leaf_hubs()
        # The redirect dialog looks TO up at uk.london, which knows wy-hub only from its
        # mirror of uk.westyorks: wait for the mirror (a fast machine reached the dialog
        # first once, and the lookup never said "matched").
        f.wait_resolves(LON, TO, 'wy-hub', f.stubs.registry_pb2.REGISTRAR_STATUS_ACTIVE)
        hub = f.hub(LON, f.fed.member(LON))
        _env.update(f=f, hub=hub)
        _env['case'] = open_case(f, hub, LON + '.nobody1', MARK)
        _env['csrf_case'] = open_case(f, hub, LON + '.nobody2')
        f.registrar(LON, 'spare', LON + '.spare', 'axle://fame-test/member/%s.spare' % LON,
                    services=[('records-index', f.stubs.common_pb2.SERVICE_KIND_INDEX,
                               LON + '.spare.index')])
        _env['admin_home'] = nss_home(f, 'admin', f.fed.admin(LON))
        _env['member_home'] = nss_home(f, 'member', f.fed.member(LON))
        _env['base'] = 'https://127.0.0.1:%d' % f.nodes[LON].port
        hold_policy()
    return _env


def browse(scenario, params, on_wait=None, timeout=180, own_pages=True):
    """Runs tests/browser/console.mjs SCENARIO; returns its RESULT (a dict). With
    own_pages, the console's pages must not break their Content-Security-Policy
    (an attacker's page, which the node refuses to be framed by, is not ours)."""
    p = subprocess.Popen(['node', 'console.mjs', scenario, json.dumps(params)], cwd=BROWSER_DIR,
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         text=True, bufsize=1)
    timer = threading.Timer(timeout, p.kill)
    timer.start()
    result = None
    try:
        for line in p.stdout:
            line = line.rstrip('\n')
            if line.startswith('RESULT '):
                result = json.loads(line[len('RESULT '):])
            elif line.startswith('WAIT '):
                answer = on_wait(line[len('WAIT '):]) if on_wait else ''
                p.stdin.write(answer + '\n')
                p.stdin.flush()
            else:
                print('   browser: %s' % line[:300])
        rc = p.wait()
    finally:
        timer.cancel()
    check(result is not None, 'the browser gave no result (rc=%s)' % p.returncode)
    page_errors = [e for e in result.get('errors', []) if e.startswith('pageerror')]
    check(rc == 0 and not result.get('failure'),
          'browser scenario %s failed: %s\nerrors: %s' % (scenario, result.get('failure'),
                                                         result.get('errors')))
    check(not page_errors, 'script errors in the console: %s' % page_errors)
    csp = [e for e in result.get('errors', []) if 'Content Security Policy' in e or 'Refused to' in e]
    check(not own_pages or not csp, 'the pages break their own Content-Security-Policy: %s' % csp)
    return result


def history(f, cid):
    cp = f.axlectl(LON, '--json', 'cases', 'show', cid)
    return json.loads(cp.stdout)['record']


def short(v, prefix):
    """An enum as axlectl --json gives it (short name; docs/axlectl-json.md)."""
    return v[len(prefix):] if v.startswith(prefix) else v


@test(timeout=300)
def admin_claims_and_redirects_a_real_case():
    e = env()
    f, cid = e['f'], e['case']
    r = browse('resolve', {'base': e['base'], 'home': e['admin_home'], 'shots': SHOTS,
                           'case': cid, 'to': TO, 'claimNote': 'mine: checking the address',
                           'viewReason': 'ticket 77: who is it for',
                           'redirectReason': 'address typo, confirmed by phone'})
    kinds = [k.replace('CASE_ACTION_KIND_', '') for k in r['history']]
    check(kinds == ['OPENED', 'CLAIMED', 'ANNOTATED', 'PAYLOAD_VIEWED', 'REDIRECTED'],
          'the timeline shows %s' % kinds)
    check(r['payload'] == MARK.decode(), 'the payload shown: %r' % r['payload'])
    check('wy-hub' in r['lookup'] and 'active' in r['lookup'],
          'the address lookup said %r' % r['lookup'])
    check('verified' in r['audit'], 'audit verification shown as %r' % r['audit'])
    rec = history(f, cid)
    check(short(rec['state'], 'CASE_STATE_') == 'RESOLVED', 'case state %s' % rec['state'])
    admin = 'axle://fame-test/admin/%s/admin' % LON
    steps = {short(h['kind'], 'CASE_ACTION_KIND_'): h for h in rec['history']}
    check(steps['CLAIMED']['actor'] == admin, 'claimed by %s' % steps['CLAIMED'])
    check(steps['PAYLOAD_VIEWED'].get('reason') == 'ticket 77: who is it for',
          'payload view recorded as %s' % steps['PAYLOAD_VIEWED'])
    red = steps['REDIRECTED']
    check(red['redirect_to'] == TO and red['actor'] == admin
          and red.get('reason') == 'address typo, confirmed by phone', 'redirect recorded as %s' % red)
    want = rec['envelope']['message_id']		# hex
    wyhub = f.fed.member(WY)

    def fetched():
        cp = f.axlectl(WY, '--json', 'fetch', '--max', '50', '--wait-ms', '500', cred=wyhub)
        return [d for d in json.loads(cp.stdout or '[]') if d['envelope']['message_id'] == want]
    got = wait_for(fetched, 60, interval=0.3, what='the redirected message at %s' % TO)
    check(base64.b64decode(got[0]['envelope']['payload']) == MARK, 'payload changed on the way')
    print('   %s redirected to %s and fetched there' % (cid, TO))
    for name in ('queue', 'case', 'register', 'node', 'queue-narrow', 'redirect-dialog'):
        check(os.path.getsize(os.path.join(SHOTS, name + '.png')) > 1000, 'no screenshot ' + name)


@test(timeout=240)
def new_case_appears_without_reload_and_keyboard_works():
    e = env()
    opened = {}

    def on_wait(what):
        check(what == 'new-case', 'unexpected request %r' % what)
        opened['id'] = open_case(e['f'], e['hub'], LON + '.nobody3')
        return opened['id']
    r = browse('live', {'base': e['base'], 'home': e['admin_home']}, on_wait)
    check(opened['id'] not in r['before'], 'the case was there before it was opened')
    check(r['noReload'] == 'still here', 'the page reloaded to show it')
    check(r['indicator'] == 'live', 'the page is not on the node\'s event stream: '
          'it says %r' % r['indicator'])
    check(r.get('tabbedTo'), 'Tab never reached the new case\'s link')
    check(r.get('tabbedToAction'), 'Tab never reached the Annotate button on the case page')
    check(r.get('dialogFocus', '').startswith('Note'), 'the dialog\'s field has no label '
          'or no focus: %r' % r.get('dialogFocus'))
    check(r.get('escClosed'), 'Esc did not close the dialog')


@test(timeout=180)
def admin_discards_a_case_with_its_reason():
    e = env()
    f = e['f']
    cid = open_case(f, e['hub'], LON + '.nobody4')
    r = browse('discard', {'base': e['base'], 'home': e['admin_home'], 'case': cid,
                           'reason': 'test message sent by mistake (ticket 5)'})
    check(r['emptyKeptOpen'], 'the discard dialog closed without its required reason')
    check(r['history'][-1] == 'CASE_ACTION_KIND_DISCARDED' and r['state'].startswith('resolved'),
          'the page shows %s, state %r' % (r['history'], r['state']))
    rec = history(f, cid)
    last = rec['history'][-1]
    check(short(last['kind'], 'CASE_ACTION_KIND_') == 'DISCARDED'
          and last['reason'] == 'test message sent by mistake (ticket 5)',
          'the node recorded %s' % last)


@test(timeout=180)
def admin_suspends_and_reactivates_a_registrar():
    e = env()
    f = e['f']
    r = browse('register', {'base': e['base'], 'home': e['admin_home'], 'registrar': 'spare',
                            'suspendReason': 'contract lapsed (ticket 12)',
                            'reactivateReason': 'contract renewed (ticket 13)'})
    check((r['before'], r['suspended'], r['after']) == ('active', 'suspended', 'active'),
          'standing shown: %s' % r)
    check('%s.spare' % LON in r['tree'] and '%s.hub' % LON in r['tree'],
          'the delegation tree lacks a prefix: %r' % r['tree'])
    cp = f.axlectl(LON, '--json', 'feed', 'show')
    entries = json.loads(cp.stdout)
    mine = [(x['registrar']['status'], x['detail'], x['actor']) for x in entries
            if x['registrar']['id'] == 'spare' and short(x['change'], 'FEED_CHANGE_') == 'STATUS']
    admin = 'axle://fame-test/admin/%s/admin' % LON
    check(any(st.endswith('SUSPENDED') and 'ticket 12' in d and a == admin for st, d, a in mine)
          and any(st.endswith('ACTIVE') and 'ticket 13' in d and a == admin for st, d, a in mine),
          'the feed does not record both changes with their reasons and the admin: %s' % mine)


@test(timeout=180)
def member_gets_403_and_no_data():
    e = env()
    r = browse('forbidden', {'base': e['base'], 'home': e['member_home'], 'shots': SHOTS})
    check(r['status'] == 403, 'a member got HTTP %s for /console/' % r['status'])
    check('admin' in r['text'].lower(), 'the 403 page does not say who may: %r' % r['text'][:300])
    for cid in (e['case'], e['csrf_case']):
        check(cid not in r['text'] and cid not in r['rpc']['body'],
              'a member saw case %s: %r %r' % (cid, r['text'][:200], r['rpc']))
    check(r['rpc']['status'] in (401, 403), 'a member\'s Recourse.List answered HTTP %s: %s'
          % (r['rpc']['status'], r['rpc']['body'][:200]))


EVIL = '''<!DOCTYPE html><html><body><h1>cat pictures</h1>
<iframe name="sink" title="sink"></iframe>
<form id="f1" method="POST" target="sink" enctype="text/plain" action="%(base)s/axle.v1.Recourse/Discard">
<input name='{"id":"%(case)s","reason":"evil","x":"' value='"}'></form>
<form id="f2" method="POST" target="sink" action="%(base)s/axle.v1.Recourse/Claim">
<input name="id" value="%(case)s"></form>
<script src="evil.js"></script></body></html>'''

EVIL_JS = '''window.evilLog = [];
const base = %(base)s, id = %(case)s;
const log = (s) => window.evilLog.push(s);
async function tryFetch(what, opts) {
  try { const r = await fetch(base + what, opts); log(what + ' answered ' + r.type + ' ' + r.status); }
  catch (e) { log(what + ' threw ' + e.message); }
}
(async () => {
  const body = JSON.stringify({ id, reason: 'evil' });
  await tryFetch('/axle.v1.Recourse/Claim', { method: 'POST', mode: 'no-cors', credentials: 'include',
    headers: { 'Content-Type': 'text/plain' }, body: JSON.stringify({ id }) });
  await tryFetch('/axle.v1.Recourse/Discard', { method: 'POST', credentials: 'include',
    headers: { 'Content-Type': 'application/json', 'Connect-Protocol-Version': '1' }, body });
  await tryFetch('/axle.v1.Recourse/Annotate', { method: 'POST', mode: 'no-cors', credentials: 'include',
    headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ id, note: 'evil' }) });
  document.getElementById('f1').submit();
  await new Promise((r) => setTimeout(r, 500));
  document.getElementById('f2').submit();
  await new Promise((r) => setTimeout(r, 500));
  window.evilDone = true;
})();'''


def serve_evil(ws, base, case):
    d = ws.mkdir('evil')
    with open(os.path.join(d, 'index.html'), 'w') as f:
        f.write(EVIL % {'base': base, 'case': case})
    with open(os.path.join(d, 'evil.js'), 'w') as f:
        f.write(EVIL_JS % {'base': json.dumps(base), 'case': json.dumps(case)})

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *a, **kw):
            super().__init__(*a, directory=d, **kw)

        def log_message(self, *a):
            pass
    srv = http.server.ThreadingHTTPServer(('127.0.0.1', 0), Quiet)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv


@test(timeout=180)
def another_origin_cannot_make_the_console_act():
    e = env()
    f, cid = e['f'], e['csrf_case']
    srv = serve_evil(f.ws, e['base'], cid)
    try:
        r = browse('csrf', {'base': e['base'], 'home': e['admin_home'],
                            'evil': 'http://127.0.0.1:%d/index.html' % srv.server_address[1]},
                   own_pages=False)
    finally:
        srv.shutdown()
    print('   evil page: %s' % r['evil'])
    check(len(r['evil']) == 3, 'the evil page did not make its calls: %s' % r['evil'])
    rec = history(f, cid)
    kinds = [short(h['kind'], 'CASE_ACTION_KIND_') for h in rec['history']]
    check(short(rec['state'], 'CASE_STATE_') == 'OPEN' and kinds == ['OPENED'],
          'a cross-site page acted on case %s: %s %s' % (cid, rec['state'], kinds))


def after_failure(name):
    if 'f' in _env:
        _env['f'].log_tails(20)


if __name__ == '__main__':
    main(after_failure)

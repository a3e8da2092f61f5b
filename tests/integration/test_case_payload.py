"""test_case_payload.py -- a recourse case's payload (child-protection content) is shown to an
admin only on request: `axlectl cases show ID --payload` (Recourse.Show with_payload). Every
other answer, text or --json, of list, show and every action leaves it out; each view is in
the case's history and audit chain naming the admin who looked.

A hub at uk.london sends a marked payload to an address nobody holds: a case opens at
uk.london (UNKNOWN_ADDRESS). Steps run in order.
"""

import base64
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from axletest import check, main, test  # noqa: E402
from switchtest import Fed, new_id  # noqa: E402

LON = 'uk.london'
HUB = 'uk.london.hub'
MARK = b'PAYLOAD-MARK-7f3a child-protection text'
FORMS = (MARK, base64.b64encode(MARK), MARK.hex().encode())
_env = {}


def env():
    if 'f' not in _env:
        f = Fed(prefix='axle-casepl-')
        f.wait_registry(LON)
        f.registrar(LON, 'lon-hub', HUB, 'axle://fame-test/member/' + HUB)
        hub = f.hub(LON, f.fed.member(LON))
        mid = new_id()
        hub.send(hub.envelope(HUB, to='uk.london.nobody1', mid=mid, payload=MARK))
        _env.update(f=f, hub=hub, mid=mid)
        _env['case'] = case_id()
    return _env


def ctl(*args, check_rc=True):
    return env()['f'].axlectl(LON, *args, check_rc=check_rc)


def case_id():
    from axletest import wait_for

    def find():
        cp = _env['f'].axlectl(LON, '--json', 'cases', 'list')
        cases = json.loads(cp.stdout).get('cases', [])
        return cases[0]['id'] if cases else None
    return wait_for(find, 20, interval=0.2, what='a case at uk.london')


def leaked(text):
    b = text.encode() if isinstance(text, str) else text
    return [f for f in FORMS if f in b]


def no_payload(cp, what):
    check(not leaked(cp.stdout), '%s printed the payload: %r' % (what, cp.stdout[:400]))


@test(timeout=180)
def payload_not_shown_unless_asked():
    e = env()
    cid = e['case']
    for args in (('cases', 'list'), ('--json', 'cases', 'list'), ('cases', 'list', '--all'),
                 ('cases', 'show', cid), ('--json', 'cases', 'show', cid)):
        no_payload(ctl(*args), 'axlectl ' + ' '.join(args))
    cp = ctl('cases', 'show', cid)
    check('%d bytes, not shown' % len(MARK) in cp.stdout,
          'cases show does not say the payload is withheld and its size: %s' % cp.stdout)
    j = json.loads(ctl('--json', 'cases', 'show', cid).stdout)['record']
    check(int(j.get('payloadBytes', j.get('payload_bytes', 0))) == len(MARK),
          'payload size not in the JSON answer: %s' % j)
    for args in (('--json', 'cases', 'claim', cid),
                 ('--json', 'cases', 'annotate', cid, 'looked at the envelope'),
                 ('cases', 'annotate', cid, 'again'),
                 ('--json', 'cases', 'release', cid)):
        no_payload(ctl(*args), 'axlectl ' + ' '.join(args))
    hist = [h.get('kind') for h in json.loads(ctl('--json', 'cases', 'show', cid).stdout)
            ['record'].get('history', [])]
    check('PAYLOAD_VIEWED' not in hist, 'a view recorded without one: %s' % hist)


@test(timeout=120)
def payload_shown_on_request_and_audited():
    e = env()
    cid = e['case']
    admin = 'axle://fame-test/admin/%s/admin' % LON
    cp = ctl('--json', 'cases', 'show', cid, '--payload', '--reason', 'ticket 42')
    rec = json.loads(cp.stdout)['record']
    check(base64.b64decode(rec['envelope']['payload']) == MARK,
          'cases show --payload --json did not show the payload: %s' % cp.stdout[:400])
    cp = ctl('cases', 'show', cid, '--payload')
    check(base64.b64encode(MARK).decode() in cp.stdout,
          'cases show --payload did not print the payload: %s' % cp.stdout)
    hist = json.loads(ctl('--json', 'cases', 'show', cid).stdout)['record']['history']
    views = [h for h in hist if h.get('kind') == 'PAYLOAD_VIEWED']
    check(len(views) == 2, 'want 2 PAYLOAD_VIEWED entries, history: %s' % hist)
    check(all(h.get('actor', '').startswith('axle://fame-test/admin/%s/' % LON) for h in views),
          'a view does not name the admin: %s' % views)
    check(views[0].get('reason') == 'ticket 42', 'the reason is not recorded: %s' % views[0])
    print('   viewed by %s' % views[0]['actor'])
    check('PAYLOAD_VIEWED' in ctl('cases', 'show', cid).stdout, 'text history lacks the view')
    cp = ctl('audit', 'verify')
    check('audit OK' in cp.stdout, 'audit chain: %s' % cp.stdout)
    log = e['f'].nodes[LON].log_text()
    check('action=view_payload' in log and admin.rsplit('/', 1)[0] in log,
          'no recourse_action log line for the view')
    check(not leaked(log), 'the payload is in the log')
    cp = ctl('cases', 'claim', cid, '--payload', check_rc=False)
    check(cp.returncode != 0 and '--payload goes with cases show only' in cp.stderr,
          'claim --payload accepted: %r %r' % (cp.stdout, cp.stderr))


if __name__ == '__main__':
    main()

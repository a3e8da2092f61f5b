"""test_console_events.py -- the console's live updates (GET /console/events, Server-Sent Events) and a state-changing Connect call on a real case, with curl over mTLS.

A hub at uk.london sends to an address nobody holds: the switch opens a case
(UNKNOWN_ADDRESS) and an admin's open event stream gets `event: change`
without asking; the admin claims the case with the console's JSON call (same
origin, X-Axle-Console: 1) and the stream says so again. A member's
certificate gets 403 for the stream.
"""

import json
import os
import subprocess
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from axletest import check, main, test, wait_for  # noqa: E402
from switchtest import Fed, new_id  # noqa: E402

LON = 'uk.london'
HUB = 'uk.london.hub'
_env = {}


def env():
    if 'f' not in _env:
        f = Fed(prefix='axle-cev-')
        f.wait_registry(LON)
        f.registrar(LON, 'lon-hub', HUB, 'axle://fame-test/member/' + HUB)
        _env.update(f=f, hub=f.hub(LON, f.fed.member(LON)))
    return _env


def base_cmd(cred):
    f = env()['f']
    return ['curl', '-sS', '--http2', '--cert', cred.cert, '--key', cred.key,
            '--cacert', f.fed.ca_pem]


def url(path):
    return 'https://127.0.0.1:%d%s' % (env()['f'].nodes[LON].port, path)


class EventStream:
    """curl -N on /console/events; the lines it printed so far."""

    def __init__(self, cred):
        self.lines = []
        self.proc = subprocess.Popen(base_cmd(cred) + ['-N', url('/console/events')],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     universal_newlines=True)
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        for line in self.proc.stdout:
            self.lines.append(line.rstrip('\n'))

    def changes(self):
        return sum(1 for line in self.lines if line == 'event: change')

    def close(self):
        self.proc.kill()
        self.proc.wait()


def connect_call(cred, method, body):
    port = env()['f'].nodes[LON].port
    cp = subprocess.run(base_cmd(cred) + [
        '-H', 'Content-Type: application/json', '-H', 'X-Axle-Console: 1',
        '-H', 'Origin: https://127.0.0.1:%d' % port, '-H', 'Sec-Fetch-Site: same-origin',
        '-w', '\n%{http_code}', '--data-binary', json.dumps(body), url('/axle.v1.' + method)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, timeout=30)
    check(cp.returncode == 0, 'curl failed: %s' % cp.stderr)
    text, status = cp.stdout.rsplit('\n', 1)
    return int(status), json.loads(text)


@test(timeout=180)
def new_case_pushed_to_an_open_stream():
    e = env()
    f = e['f']
    admin = f.fed.admin(LON)
    s = EventStream(admin)
    try:
        wait_for(lambda: ': axle console events' in s.lines, 20, what='the stream to open')
        check(s.changes() == 0, 'an event before anything changed: %r' % s.lines)
        hub = e['hub']
        hub.send(hub.envelope(HUB, to='uk.london.nobody1', mid=new_id(), payload=b'x'))
        wait_for(lambda: s.changes() >= 1, 20, what='event: change after a case opened')
        i = s.lines.index('event: change')
        check(s.lines[i + 1] == 'data: {"what":"cases"}', repr(s.lines))
        status, j = connect_call(admin, 'Recourse/List', {})
        check(status == 200 and len(j.get('cases', [])) == 1, repr(j))
        case = j['cases'][0]
        check(case['reason'] == 'CASE_REASON_UNKNOWN_ADDRESS' and
              case['state'] == 'CASE_STATE_OPEN', repr(case))
        before = s.changes()
        status, j = connect_call(admin, 'Recourse/Claim', {'id': case['id']})
        check(status == 200 and j['record']['state'] == 'CASE_STATE_CLAIMED' and
              j['record']['assignee'].startswith('axle://fame-test/admin/uk.london/'), repr(j))
        wait_for(lambda: s.changes() > before, 20, what='event: change after the claim')
    finally:
        s.close()


@test
def stream_refused_to_a_member():
    f = env()['f']
    cp = subprocess.run(base_cmd(f.fed.member(LON)) + ['-w', '\n%{http_code} %{content_type}',
                                                       url('/console/events')],
                        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                        universal_newlines=True, timeout=30)
    body, tail = cp.stdout.rsplit('\n', 1)
    check(tail == '403 text/html; charset=utf-8', repr(tail))
    check('event:' not in body, repr(body))


if __name__ == '__main__':
    main()

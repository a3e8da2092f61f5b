"""test_console_events.py -- the console's live updates (GET /console/events, Server-Sent Events) and a state-changing Connect call on a real case, with curl over mTLS.

A hub at uk.london sends to an address nobody holds: the switch opens a case
(UNKNOWN_ADDRESS) and an admin's open event stream gets `event: change`
without asking; the admin claims the case with the console's JSON call (same
origin, X-Axle-Console: 1) and the stream says so again. A member's
certificate gets 403 for the stream.
"""

import json
import os
import struct
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


def fetch_stream(cred, body, timeout_ms=None):
    """Switch.Fetch in Connect's streaming form; the (flags, JSON) envelopes."""
    f = env()['f']
    raw = json.dumps(body).encode()
    req = f.ws.join('fetch.bin')
    with open(req, 'wb') as fh:
        fh.write(struct.pack('>BI', 0, len(raw)) + raw)
    hdrs = ['-H', 'Content-Type: application/connect+json', '-H', 'Connect-Protocol-Version: 1']
    if timeout_ms is not None:
        hdrs += ['-H', 'Connect-Timeout-Ms: %d' % timeout_ms]
    cp = subprocess.run(base_cmd(cred) + hdrs + ['--data-binary', '@' + req, '-o', '-',
                                                 url('/axle.v1.Switch/Fetch')],
                        stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
    check(cp.returncode == 0, 'curl failed: %s' % cp.stderr)
    out, raw = [], cp.stdout
    while raw:
        check(len(raw) >= 5, 'truncated envelope: %r' % raw)
        n = struct.unpack('>I', raw[1:5])[0]
        out.append((raw[0], json.loads(raw[5:5 + n])))
        raw = raw[5 + n:]
    check(out and out[-1][0] == 2 and all(fl == 0 for fl, _ in out[:-1]),
          'not messages then one end-of-stream: %r' % out)
    return out


@test
def fetch_streams_json_deliveries():
    """The hub's receipts (its send above) come as proto3 JSON envelopes, then {}."""
    env()
    out = fetch_stream(env()['f'].fed.member(LON), {'waitMs': 2000, 'maxMessages': 1})
    check(len(out) == 2 and out[-1][1] == {}, repr(out))
    d = out[0][1]
    check(d['envelope']['messageType'] == 'axle.receipt' and d['mailbox'] == 'lon-hub' and
          isinstance(d['envelope']['createdMs'], str), repr(d))


@test
def connect_timeout_ends_a_long_poll():
    """An empty mailbox, a 20 s wait, Connect-Timeout-Ms 300: deadline_exceeded at the end."""
    f = env()['f']
    if 'quiet' not in _env:
        f.registrar(LON, 'lon-quiet', LON + '.quiet', 'axle://fame-test/member/uk.london.quiet')
        _env['quiet'] = f.fed.issue('member', LON + '.quiet')
    out = fetch_stream(_env['quiet'], {'waitMs': 20000, 'maxMessages': 1}, timeout_ms=300)
    check(len(out) == 1 and out[0][1].get('error', {}).get('code') == 'deadline_exceeded',
          repr(out))

if __name__ == '__main__':
    main()

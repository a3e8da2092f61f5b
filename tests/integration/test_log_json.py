"""test_log_json.py -- [log] format = json: every line axled writes is one JSON object with
ts, level and event, and the event's pairs as members (numbers as numbers, quoted values
unescaped), from start to stop, including lines about hostile input; axled -n refuses a
format it does not know.
"""

import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import axletest as at  # noqa: E402
from axletest import Node, Workspace, check, main, make_federation, test  # noqa: E402

FED = 'fame-test'
REGION = 'uk.test'
_env = {}


@at.shared_env(_env)
def env():
    ws = Workspace(prefix='axle-logjson-')
    fed = make_federation(ws, FED, [REGION])
    node = Node(ws, fed, REGION, extra='\n[log]\nformat = json\n')
    _env.update(ws=ws, fed=fed, node=node)


def lines(node):
    out = []
    for raw in node.log_text().splitlines():
        if not raw.strip():
            continue
        try:
            out.append(json.loads(raw))
        except ValueError as ex:
            raise at.TestFailure('not one JSON object: %r (%s)' % (raw, ex))
    return out


@test(timeout=60)
def every_line_is_json():
    e = env()
    node = e['node']
    r, _ = node.info(e['fed'].member(REGION))
    check(r.grpc_status == 0, 'Node.Info: %r' % r)
    # Something hostile: a client without a certificate (a refusal is logged).
    at.refused(node.host, node.port)
    node.hup()
    node.stop()
    got = lines(node)
    check(len(got) >= 5, 'only %d lines' % len(got))
    for o in got:
        check(isinstance(o.get('ts'), str) and o['ts'].endswith('Z'), 'ts: %r' % o)
        check(o.get('level') in ('debug', 'info', 'warn', 'error'), 'level: %r' % o)
        check(isinstance(o.get('event'), str) and o['event'], 'event: %r' % o)
        check('unparsed' not in o and 'cut' not in o, 'a line lost its form: %r' % o)
    listening = [o for o in got if o['event'] == 'listening']
    check(len(listening) == 1, 'listening: %r' % listening)
    check(listening[0]['port'] == node.port and listening[0]['region'] == REGION,
          'listening fields: %r' % listening[0])
    events = {o['event'] for o in got}
    for want in ('reload', 'stopped'):
        check(want in events, 'no %s event in %s' % (want, sorted(events)))


@test(timeout=30)
def unknown_format_refused():
    e = env()
    node = Node(e['ws'], e['fed'], REGION, name='badfmt', extra='\n[log]\nformat = xml\n',
                start=False)
    p = subprocess.run([at.axled_path(), '-n', '-c', node.conf], capture_output=True,
                       text=True, timeout=30)
    check(p.returncode != 0 and 'must be kv or json' in p.stderr, 'axled -n: %r' % p.stderr)


if __name__ == '__main__':
    main(after_failure=at.node_log_diag(_env))

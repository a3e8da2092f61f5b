"""test_ctl_switch.py -- axlectl's switch commands as a hub operator uses them, against one
real node (uk.test) with its hub uk.test.hub: fetch prints a header and never cuts a long
address, fetch --save DIR writes payloads to files named by message id (and the node's log
never holds a payload), fetch --receipts shows receipts only, ack --all empties the mailbox,
acking an unknown id fails (exit 1, the id named), status prints words and times.

Steps share one node and run in order.
"""

import json
import os
import re
import stat
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import axletest as at  # noqa: E402
from axletest import Node, Workspace, check, main, make_federation, test, wait_for  # noqa: E402

FED = 'fame-test'
REGION = 'uk.test'
HUB = 'uk.test.hub'
# Longer than any fixed column: it must come out whole.
LONG = HUB + '.' + 'a-very-long-mailbox-name-for-the-referrals-team-in-the-north'
MARK = b'PAYLOAD-MARK-c41e: not for logs'
HEXID = re.compile(r'^[0-9a-f]{32}$')
_env = {}


@at.shared_env(_env)
def env():
    ws = Workspace(prefix='axle-ctlsw-')
    fed = make_federation(ws, FED, [REGION])
    node = Node(ws, fed, REGION)
    _env.update(ws=ws, fed=fed, node=node)
    ctl('delegate', HUB, 'hub', '--name', 'hub', '--cert', 'axle://%s/member/%s' % (FED, HUB))
    ctl('registrar', 'activate', 'hub', '--reason', 'test')


def ctl(*args, member=False, check_rc=True, stdin=None):
    e = _env
    cred = e['fed'].member(REGION) if member else e['fed'].admin(REGION)
    cmd = [os.path.join(at.BUILD, 'axlectl'), '--cert', cred.chain, '--key', cred.key,
           '--trust', e['fed'].trust_dir, '--federation', FED,
           '--server', '127.0.0.1:%d' % e['node'].port] + list(args)
    if stdin is None:
        return at.run(cmd, timeout=30, check_rc=check_rc)
    import subprocess
    cp = subprocess.run(cmd, input=stdin, capture_output=True, text=True, timeout=30)
    check(not check_rc or cp.returncode == 0, '%s: exit %d\n%s%s'
          % (' '.join(args), cp.returncode, cp.stdout, cp.stderr))
    return cp


def hub(*args, **kw):
    return ctl(*args, member=True, **kw)


def send(context, payload=None, sender=HUB):
    args = ['--json', 'send', '--to', HUB, '--from', sender, '--type', 'note.v1',
            '--context', context]
    if payload is not None:
        path = os.path.join(_env['ws'].path, 'payload-%s' % context)
        with open(path, 'wb') as f:
            f.write(payload)
        args += ['--payload-file', path]
    return hub(*args)


def drain():
    """Empties the hub's mailbox (everything visible now) with ack --all."""
    hub('ack', '--all')


def rows(out):
    """The table's data rows (after the header), split on runs of spaces."""
    lines = [ln for ln in out.splitlines() if ln.strip()]
    return [ln.split() for ln in lines[1:] if HEXID.match(ln.split()[0])]


# --- steps ----------------------------------------------------------------------------------

@test(timeout=120)
def fetch_prints_a_header_and_whole_addresses():
    env()
    send('ctx-long-' + 'x' * 40, sender=LONG)
    cp = wait_for(lambda: (lambda c: c if LONG in c.stdout else None)(
        hub('fetch', '--max', '100', '--wait-ms', '300')), 20, what='the long-sender message')
    head = cp.stdout.splitlines()[0].split()
    check(head[:3] == ['ID', 'ATTEMPT', 'FROM'] and 'TO' in head and 'BYTES' in head,
          'fetch prints no header line: %r' % cp.stdout[:300])
    line = [ln for ln in cp.stdout.splitlines() if LONG in ln]
    check(line and ('ctx-long-' + 'x' * 40) in line[0],
          'a long address or context was cut: %r' % cp.stdout)
    # Columns line up: every row's TO starts where the header's TO does.
    col = cp.stdout.splitlines()[0].index(' TO ') + 1
    for ln in cp.stdout.splitlines()[1:]:
        if HEXID.match(ln[:32]):
            check(ln[col:col + len(HUB)] == HUB, 'TO column misaligned: %r' % ln)
    drain()


@test(timeout=120)
def ack_of_an_unknown_id_fails():
    env()
    unknown = 'ab' * 16
    cp = hub('ack', unknown, check_rc=False)
    check(cp.returncode == 1, 'ack of an id never seen: exit %d, want 1 (stdout %r, stderr %r)'
          % (cp.returncode, cp.stdout, cp.stderr))
    check(unknown in cp.stderr and 'not in flight' in cp.stderr,
          'ack of an unknown id does not name it on stderr: %r' % cp.stderr)
    # One known among unknown ones: it is acknowledged, and the call still fails.
    send('ack-mixed')
    got = wait_for(lambda: [d for d in json.loads(hub('--json', 'fetch', '--wait-ms', '300').stdout)
                            if d['envelope']['context'] == 'ack-mixed'], 20, what='ack-mixed')
    mid = msg_id(got[0])
    cp = hub('ack', mid, unknown, check_rc=False)
    check(cp.returncode == 1 and 'acknowledged 1' in cp.stdout and unknown in cp.stderr
          and mid not in cp.stderr, 'mixed ack: exit %d %r %r' % (cp.returncode, cp.stdout, cp.stderr))
    drain()


def msg_id(delivery):
    """A delivery's message id as hex, whatever form --json gives it in."""
    v = delivery['envelope']['message_id']
    if HEXID.match(v):
        return v
    import base64
    return base64.b64decode(v).hex()


@test(timeout=120)
def fetch_save_writes_payloads_to_files():
    e = env()
    out = os.path.join(e['ws'].path, 'saved')
    r = json.loads(send('save-1', payload=MARK).stdout)
    mid = msg_id({'envelope': {'message_id': r['receipt']['message_id']}})

    def saved():
        hub('fetch', '--wait-ms', '300', '--save', out)
        return os.path.exists(os.path.join(out, mid))
    wait_for(saved, 20, what='the payload saved as %s/%s' % (out, mid))
    path = os.path.join(out, mid)
    with open(path, 'rb') as f:
        check(f.read() == MARK, 'saved payload differs')
    check(stat.S_IMODE(os.stat(path).st_mode) & 0o077 == 0,
          'saved payload readable by others: %o' % os.stat(path).st_mode)
    check(MARK.decode() not in e['node'].log_text(), 'the payload is in the node log')
    # DIR is made if missing (the test did not make it); a path that is not a
    # directory: a clear usage error, nothing fetched.
    cp = hub('fetch', '--save', os.path.join(out, mid), check_rc=False)
    check(cp.returncode == 2 and 'not a directory' in cp.stderr,
          '--save FILE: exit %d %r' % (cp.returncode, cp.stderr))
    drain()


@test(timeout=120)
def fetch_receipts_shows_receipts_only():
    env()
    drain()
    send('rcpt-1')

    def receipts():
        cp = hub('--json', 'fetch', '--receipts', '--wait-ms', '300')
        return json.loads(cp.stdout) or None
    got = wait_for(receipts, 20, what='receipts')
    check(all(d['envelope']['message_type'] == 'axle.receipt' and d.get('receipt')
              for d in got), 'fetch --receipts showed a message that is not a receipt: %r' % got)
    cp = hub('fetch', '--receipts', '--wait-ms', '300')
    check('rcpt-1' not in cp.stdout, 'the message itself shown with --receipts: %r' % cp.stdout)
    drain()


@test(timeout=120)
def ack_all_empties_the_mailbox():
    env()
    for i in range(3):
        send('all-%d' % i)
    cp = hub('ack', '--all')
    n = int(re.search(r'acknowledged (\d+)', cp.stdout).group(1))
    check(n >= 3, 'ack --all acknowledged %d, want >= 3: %r' % (n, cp.stdout))
    for i in range(3):
        check('all-%d' % i in cp.stdout, 'ack --all does not list what it acknowledged: %r'
              % cp.stdout)
    cp = hub('--json', 'fetch', '--wait-ms', '0')
    # Acknowledging makes receipts (to this same hub): only the messages must be gone.
    left = [d for d in json.loads(cp.stdout) if d['envelope']['context'].startswith('all-')
            and d['envelope']['message_type'] != 'axle.receipt']
    check(not left, 'ack --all left messages behind: %r' % left)


@test(timeout=120)
def status_prints_words_and_times():
    env()
    r = json.loads(send('status-1').stdout)
    mid = msg_id({'envelope': {'message_id': r['receipt']['message_id']}})
    cp = hub('status', mid)
    fields = dict(ln.split(None, 1) for ln in cp.stdout.splitlines() if ' ' in ln)
    check(fields.get('state') in ('in mailbox', 'fetched', 'acknowledged'),
          'status state not in words: %r' % cp.stdout)
    check(re.match(r'^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z', fields.get('updated', '')),
          'status time not RFC 3339 with milliseconds: %r' % cp.stdout)
    drain()


if __name__ == '__main__':
    main(at.node_log_diag(_env))

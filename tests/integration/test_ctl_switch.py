"""test_ctl_switch.py -- axlectl's switch commands as a hub operator uses them, against one
real node (uk.test) with its hub uk.test.hub: fetch prints a header and never cuts a long
address, fetch --save DIR writes payloads to files named by message id (and the node's log
never holds a payload), fetch --receipts shows receipts only, ack --all empties the mailbox,
acking an unknown id fails (exit 1, the id named), status prints words and times. Then
--json as docs/axlectl-json.md says (ids in hex, times in RFC 3339, short enum names, the
same forms accepted as arguments), and each command's --json piped into the next command
that takes it (`-`): send | status, fetch | ack, fetch | status, cases list | cases claim,
registrar list | registrar suspend, registrar show | registrar activate.

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

# int64 fields named *_ms that are moments (axlectl --json: RFC 3339); the durations are
# ctl_durations in gateway/ctl/ctl_json.c (milliseconds). A new field must be put in one.
KNOWN_TIMES = {'at_ms', 'created_ms', 'deliver_by_ms', 'reply_by_ms', 'updated_ms',
               'opened_ms', 'deadline_ms', 'escalation_requested_ms', 'next_attempt_ms',
               'overdue_ms', 'signed_ms', 'head_signed_ms', 'visible_until_ms', 'minute_ms',
               'not_before_ms', 'not_after_ms', 'published_ms'}


@test(timeout=30)
def every_int64_ms_field_is_a_time_or_a_duration():
    top = at.TOP
    fields = set()
    pdir = os.path.join(top, 'proto', 'axle', 'v1')
    for name in os.listdir(pdir):
        with open(os.path.join(pdir, name)) as f:
            fields |= set(re.findall(r'(?<![a-z])int64 ([a-z0-9_]+_ms) =', f.read()))
    with open(os.path.join(top, 'gateway', 'ctl', 'ctl_json.c')) as f:
        src = f.read()
    durations = set(re.findall(r'"([a-z0-9_]+_ms)"', src[src.index('ctl_durations'):
                                                         src.index('NULL }')]))
    check(len(fields) >= 10 and durations, 'found %d fields, durations %r: has the code '
          'changed form?' % (len(fields), durations))
    check(not KNOWN_TIMES & durations, 'both a time and a duration: %r' % (KNOWN_TIMES & durations))
    odd = fields - KNOWN_TIMES - durations
    check(not odd, 'int64 *_ms fields neither a known time nor a duration: %s (a moment: add '
          'it to KNOWN_TIMES here; a duration: to ctl_durations in gateway/ctl/ctl_json.c)'
          % sorted(odd))


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



@test(timeout=60)
def cases_list_prints_whole_addresses():
    env()
    far = 'uk.test.nobody-with-a-long-address-that-used-to-be-cut-at-28'
    hub('send', '--to', far, '--from', HUB, '--type', 'note.v1', '--context', 'long-case')
    cp = wait_for(lambda: (lambda c: c if far in c.stdout else None)(ctl('cases', 'list')), 20,
                  what='the case to %s, whole, in cases list' % far)
    check(cp.stdout.split()[:3] == ['ID', 'STATE', 'REASON'], 'cases list header: %r' % cp.stdout)



@test(timeout=60)
def registrar_list_prints_whole_prefixes():
    env()
    prefix = 'uk.test.a-registrar-prefix-longer-than-thirty-six'
    ctl('delegate', prefix, 'long-one', '--name', 'A registrar with a long prefix',
        '--cert', 'axle://%s/member/%s' % (FED, prefix))
    cp = ctl('registrar', 'list')
    check(cp.stdout.split()[:5] == ['ID', 'REGION', 'STATUS', 'PREFIXES', 'NAME'],
          'registrar list header: %r' % cp.stdout)
    line = [ln for ln in cp.stdout.splitlines() if ln.startswith('long-one ')]
    check(line and prefix in line[0] and 'A registrar with a long prefix' in line[0],
          'registrar list cut the prefix or name: %r' % cp.stdout)


# --- --json forms and pipes -------------------------------------------------------------------

RFC3339 = re.compile(r'^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$')


@test(timeout=120)
def json_ids_hex_times_rfc3339_enums_short():
    env()
    r = json.loads(send('forms-1').stdout)['receipt']
    check(HEXID.match(r['message_id']), 'send --json: message_id not 32 hex digits: %r' % r)
    check(RFC3339.match(r['at_ms'] or ''), 'send --json: at_ms not RFC 3339 with ms: %r' % r)
    check(r['kind'] == 'ACCEPTED', 'send --json: kind %r, want ACCEPTED' % r['kind'])
    got = wait_for(lambda: [d for d in json.loads(hub('--json', 'fetch', '--wait-ms', '300').stdout)
                            if d['envelope']['context'] == 'forms-1'], 20, what='forms-1')
    e = got[0]['envelope']
    check(e['message_id'] == r['message_id'], 'fetch --json id %r != send --json id %r'
          % (e['message_id'], r['message_id']))
    check(RFC3339.match(e['created_ms'] or '') and RFC3339.match(got[0]['visible_until_ms'] or '')
          and all(RFC3339.match(h['at_ms']) for h in e['trace']),
          'fetch --json times not RFC 3339: %r' % got[0])
    check(e['reply_by_ms'] is None, 'an unset time is null: %r' % e['reply_by_ms'])
    check(e['failure_policy'] == 'ESCALATE', 'enum not short: %r' % e['failure_policy'])
    regs = json.loads(ctl('--json', 'registrar', 'list').stdout)
    check(regs and all(x['status'] in ('ACTIVE', 'PENDING', 'SUSPENDED', 'REVOKED') and
                       RFC3339.match(x['created_ms']) for x in regs),
          'registrar list --json: %r' % regs)
    drain()


@test(timeout=60)
def enum_arguments_short_or_long():
    env()
    for form in ('ACTIVE', 'active', 'REGISTRAR_STATUS_ACTIVE'):
        cp = ctl('--json', 'registrar', 'list', '--status', form, check_rc=False)
        check(cp.returncode == 0 and any(x['id'] == 'hub' for x in json.loads(cp.stdout or '[]')),
              'registrar list --status %s: exit %d %r' % (form, cp.returncode, cp.stderr))
    for form in ('OPEN', 'open', 'CASE_STATE_OPEN'):
        cp = ctl('--json', 'cases', 'list', '--state', form, check_rc=False)
        check(cp.returncode == 0, 'cases list --state %s: exit %d %r' % (form, cp.returncode, cp.stderr))
    # FAILURE_POLICY_ESCALATE is the enum's 0: still a value to ask for.
    for form in ('escalate', 'ESCALATE', 'FAILURE_POLICY_ESCALATE', 'return', 'Discard'):
        cp = hub('--json', 'send', '--to', HUB, '--from', HUB, '--type', 'note.v1',
                 '--context', 'policy', '--policy', form, check_rc=False)
        check(cp.returncode == 0, 'send --policy %s: exit %d %r' % (form, cp.returncode, cp.stderr))
    cp = ctl('registrar', 'list', '--status', 'UNSPECIFIED', check_rc=False)
    check(cp.returncode == 2, '--status UNSPECIFIED is not a value to ask for: %d' % cp.returncode)
    cp = ctl('registrar', 'list', '--status', 'NOPE', check_rc=False)
    check(cp.returncode == 2, 'an unknown status is a usage error: %d' % cp.returncode)


@test(timeout=120)
def json_pipes_into_the_next_command():
    env()
    drain()
    # send --json | status -
    sent = send('pipe-1').stdout
    cp = hub('status', '-', stdin=sent)
    check(re.search(r'^state +in mailbox$', cp.stdout, re.M), 'send | status -: %r' % cp.stdout)
    # fetch --json | status -  and  fetch --json | ack -
    fetched = wait_for(lambda: (lambda o: o if 'pipe-1' in o else None)(
        hub('--json', 'fetch', '--wait-ms', '300').stdout), 20, what='pipe-1 fetched')
    n = len(json.loads(fetched))
    cp = hub('status', '-', stdin=fetched)
    check(len(re.findall(r'^state ', cp.stdout, re.M)) == n, 'fetch | status -: %r' % cp.stdout)
    cp = hub('--json', 'ack', '-', stdin=fetched)
    a = json.loads(cp.stdout)
    check(a['acknowledged'] == n and a['unknown_ids'] == [], 'fetch | ack -: %r' % a)
    # cases list --json | cases claim -
    hub('send', '--to', 'uk.test.nobody', '--from', HUB, '--type', 'note.v1', '--context', 'pipe-case')
    cases = wait_for(lambda: (lambda o: o if json.loads(o)['cases'] else None)(
        ctl('--json', 'cases', 'list', '--state', 'OPEN').stdout), 20, what='an open case')
    cp = ctl('--json', 'cases', 'claim', '-', stdin=cases)
    claimed = [json.loads(x) for x in re.split(r'(?<=\n})\n(?=\{)', cp.stdout.strip())]
    check(claimed and all(c['record']['state'] == 'CLAIMED' for c in claimed),
          'cases list | cases claim -: %r' % cp.stdout[:300])
    # registrar list --json | registrar suspend -, registrar show --json | registrar activate -
    ctl('delegate', 'uk.test.other', 'other', '--name', 'other', '--cert',
        'axle://%s/member/uk.test.other' % FED)
    ctl('registrar', 'activate', 'other', '--reason', 'test')
    lst = ctl('--json', 'registrar', 'list', '--prefix', 'uk.test.other').stdout
    check([x['id'] for x in json.loads(lst)] == ['other'], 'registrar list --prefix: %r' % lst)
    cp = ctl('--json', 'registrar', 'suspend', '-', '--reason', 'pipe', stdin=lst)
    check(json.loads(cp.stdout)['registrar']['status'] == 'SUSPENDED', 'list | suspend -: %r' % cp.stdout)
    shown = ctl('--json', 'registrar', 'show', 'other').stdout
    cp = ctl('--json', 'registrar', 'activate', '-', '--reason', 'pipe', stdin=shown)
    check(json.loads(cp.stdout)['registrar']['status'] == 'ACTIVE', 'show | activate -: %r' % cp.stdout)
    # Nothing on stdin is a usage error, not a silent success.
    cp = ctl('cases', 'claim', '-', stdin='', check_rc=False)
    check(cp.returncode == 2 and 'no id on stdin' in cp.stderr, 'empty stdin: %d %r'
          % (cp.returncode, cp.stderr))
    drain()


if __name__ == '__main__':
    main(at.node_log_diag(_env))

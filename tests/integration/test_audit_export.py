"""test_audit_export.py -- the recourse audit, signed and exported (issue 17 part 5).

`axlectl audit export` writes this node's audit chain as JSON Lines, one decision a line,
closed by the head signed with the node's key and its certificate chain;
tools/axle-audit-check verifies it offline with nothing but the node's certificate (or the
federation CA) and openssl. Tampering with one line (a reason changed, a line removed,
reordered, added; the head altered; a chain rewritten with recomputed hashes) is found and
named. Pages of any size give the same lines; a range (--from/--to) verifies on its own.

Real cases at uk.london: a hub sends to addresses nobody holds; an admin claims, annotates
(non-ASCII text), discards, redirects. Steps run in order.
"""

import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import axletest as at  # noqa: E402
from axletest import check, main, test, wait_for  # noqa: E402
from switchtest import Fed, new_id  # noqa: E402

LON = 'uk.london'
HUB = 'uk.london.hub'
CHECK = os.path.join(at.TOP, 'tools', 'axle-audit-check')
NOTE = 'réf 42 — vu par l\'équipe "A"\ttab'
_env = {}


def env():
    if 'f' not in _env:
        f = Fed(prefix='axle-audit-')
        f.wait_registry(LON)
        f.registrar(LON, 'lon-hub', HUB, 'axle://fame-test/member/' + HUB)
        hub = f.hub(LON, f.fed.member(LON))
        for i in range(3):
            hub.send(hub.envelope(HUB, to='uk.london.nobody%d' % i, mid=new_id(),
                                  payload=b'opaque'))
        _env.update(f=f, hub=hub)

        def three():
            cp = f.axlectl(LON, '--json', 'cases', 'list')
            ids = [c['id'] for c in json.loads(cp.stdout).get('cases', [])]
            return ids if len(ids) == 3 else None
        ids = sorted(wait_for(three, 30, interval=0.2, what='three cases at uk.london'))
        ctl('cases', 'claim', ids[0])
        ctl('cases', 'annotate', ids[0], NOTE)
        ctl('cases', 'discard', ids[0], '--reason', 'test message, nobody to tell')
        ctl('cases', 'claim', ids[1])
        ctl('cases', 'release', ids[1], '--reason', 'wrong desk')
        ctl('cases', 'annotate', ids[2], 'looked')
        _env['ids'] = ids
    return _env


def ctl(*args, check_rc=True):
    return _env['f'].axlectl(LON, *args, check_rc=check_rc)


def ws(*parts):
    return env()['f'].ws.join(*parts)


def export(name, *args):
    cp = ctl('audit', 'export', *args)
    path = ws(name)
    with open(path, 'w') as f:
        f.write(cp.stdout)
    return path, cp


def checker(path, *args):
    if not args:
        args = ('--cert', env()['f'].fed.node(LON).cert)
    return subprocess.run([sys.executable, CHECK] + list(args) + [path],
                          capture_output=True, text=True, timeout=60)


def lines(path):
    with open(path) as f:
        return f.read().splitlines()


def write(name, ls):
    path = ws(name)
    with open(path, 'w') as f:
        f.write(''.join(x + '\n' for x in ls))
    return path


def broken(name, ls, *want):
    """The checker refuses ls (written to name) and its message says every part of want."""
    cp = checker(write(name, ls))
    out = cp.stdout + cp.stderr
    check(cp.returncode == 1, '%s: the checker did not refuse (rc %d): %s'
          % (name, cp.returncode, out))
    for w in want:
        check(w in out, '%s: the checker does not say %r: %s' % (name, w, out))
    print('   %s: %s' % (name, out.strip()))


@test(timeout=240)
def export_verifies_offline():
    e = env()
    path, cp = export('audit.jsonl')
    ls = lines(path)
    recs = [json.loads(x) for x in ls[:-1]]
    head = json.loads(ls[-1])['head']
    v = json.loads(ctl('--json', 'audit', 'verify').stdout)
    check(len(recs) == int(v['entries']) and len(recs) >= 9,
          'export has %d entries, the node checked %s' % (len(recs), v))
    check([r['seq'] for r in recs] == list(range(1, len(recs) + 1)), 'seqs not 1..n')
    check(head['seq'] == len(recs) and head['hash'] == recs[-1]['hash'] and
          head['from_seq'] == 1, 'head does not close the export: %s' % head)
    check(head['key_identity'] == 'axle://fame-test/node/%s' % LON and head['node_chain'],
          'head names no node or carries no certificate: %s' % head)
    actions = [r['action'] for r in recs]
    for a in ('OPENED', 'CLAIMED', 'ANNOTATED', 'DISCARDED', 'RELEASED'):
        check(a in actions, '%s not in the export: %s' % (a, actions))
    check(any(r['detail'] == NOTE for r in recs), 'the note is not exact in the export')
    check(any(r['actor'].startswith('axle://fame-test/admin/%s/' % LON) for r in recs),
          'no admin named as actor')
    check('entries' in cp.stderr, 'export says nothing of what it wrote: %r' % cp.stderr)
    for args in (('--cert', e['f'].fed.node(LON).cert), ('--ca', e['f'].fed.ca_pem),
                 ('--cert', e['f'].fed.node(LON).cert, '--ca', e['f'].fed.ca_pem,
                  '--region', LON)):
        cp = checker(path, *args)
        check(cp.returncode == 0 and 'OK: %d entries' % len(recs) in cp.stdout,
              'checker %s: rc %d %s %s' % (args, cp.returncode, cp.stdout, cp.stderr))
    print('   %s' % cp.stdout.strip())
    # Another node's certificate, or another federation's CA, proves nothing.
    cp = checker(path, '--cert', e['f'].fed.node('uk').cert)
    check(cp.returncode == 1 and 'axle://fame-test/node/uk' in cp.stdout,
          'another node\'s certificate accepted: %s %s' % (cp.stdout, cp.stderr))
    other = at.make_federation(at.Workspace(prefix='axle-audit-other-'), 'fame-other',
                               ['uk.london'])
    cp = checker(path, '--ca', other.ca_pem)
    check(cp.returncode == 1 and 'does not chain to the federation CA' in cp.stdout,
          'another federation\'s CA accepted: %s %s' % (cp.stdout, cp.stderr))
    _env['lines'] = ls


@test(timeout=120)
def tampering_is_named():
    ls = env().get('lines') or lines(export('audit.jsonl')[0])
    n = len(ls) - 1                     # entries; line n+1 is the head
    recs = [json.loads(x) for x in ls[:-1]]

    def with_rec(i, **kw):
        r = dict(recs[i - 1], **kw)
        return ls[:i - 1] + [json.dumps(r, ensure_ascii=False)] + ls[i:]
    broken('reason.jsonl', with_rec(4, detail=recs[3]['detail'] + '!'),
           'line 4 (entry 4) was modified', 'do not match its hash')
    broken('actor.jsonl', with_rec(5, actor='axle://fame-test/admin/uk.london/someone'),
           'line 5 (entry 5) was modified')
    broken('removed.jsonl', ls[:2] + ls[3:], 'entry 3 is missing (removed)', 'line 3')
    broken('removed-first.jsonl', ls[1:], 'entry 1 is missing (removed)', 'line 1')
    broken('removed-last.jsonl', ls[:n - 1] + ls[n:], 'entry %d is missing' % n)
    broken('reordered.jsonl', ls[:2] + [ls[3], ls[2]] + ls[4:], 'reordered', 'line 3')
    broken('added-again.jsonl', ls[:3] + [ls[1]] + ls[3:], 'line 4 holds entry 2 again')
    extra = dict(recs[-1], seq=n + 1, prev_hash=recs[-1]['hash'])
    broken('added-after.jsonl', ls[:n] + [json.dumps(extra)] + ls[n:],
           'line %d holds entry %d, beyond the signed head' % (n + 1, n + 1))
    broken('after-head.jsonl', ls + [ls[0]], 'line %d comes after the signed head' % (n + 2))
    broken('no-head.jsonl', ls[:n], 'no signed head')
    h = json.loads(ls[-1])
    h['head']['seq'] = n - 1
    broken('head-seq.jsonl', ls[:n] + [json.dumps(h)], 'signature does not verify')
    broken('not-json.jsonl', ls[:5] + ['{"seq": 6, '] + ls[6:], 'line 6 is not a JSON')
    # A rewrite with every hash recomputed from entry 4 on: the signed head names it.
    rw = [dict(r) for r in recs]
    rw[3]['detail'] = 'rewritten'
    for i in range(3, n):
        if i > 3:
            rw[i]['prev_hash'] = rw[i - 1]['hash']
        rw[i]['hash'] = recompute(rw[i])
    broken('rewritten.jsonl', [json.dumps(r) for r in rw] + ls[n:],
           'line %d (entry %d) does not match the signed head' % (n, n))
    # A line replaced with its own hash recomputed: the next line names it.
    rw = [dict(r) for r in recs]
    rw[5]['detail'] = 'replaced'
    rw[5]['hash'] = recompute(rw[5])
    broken('replaced.jsonl', [json.dumps(r) for r in rw] + ls[n:],
           'line 6 (entry 6) was modified or replaced')


def recompute(r):
    sys.path.insert(0, os.path.dirname(CHECK))
    import importlib.machinery
    import importlib.util
    loader = importlib.machinery.SourceFileLoader('audit_check', CHECK)
    spec = importlib.util.spec_from_loader('audit_check', loader)
    mod = importlib.util.module_from_spec(spec)
    loader.exec_module(mod)
    return mod.entry_hash(r)


@test(timeout=120)
def pages_and_ranges():
    full = lines(export('full.jsonl')[0])
    n = len(full) - 1
    small, _ = export('paged.jsonl', '--page-size', '2')
    check(lines(small)[:-1] == full[:-1], 'pages of 2 give other lines than one page')
    rng, _ = export('range.jsonl', '--from', '3', '--to', str(n - 2))
    rl = lines(rng)
    head = json.loads(rl[-1])['head']
    check(len(rl) - 1 == n - 4 and rl[:-1] == full[2:n - 2] and head['from_seq'] == 3 and
          head['seq'] == n - 2, 'range 3..%d: %d lines, head %s' % (n - 2, len(rl), head))
    cp = checker(rng)
    check(cp.returncode == 0 and 'OK: %d entries (3 to %d)' % (n - 4, n - 2) in cp.stdout,
          'range export: %s %s' % (cp.stdout, cp.stderr))
    broken('range-first-removed.jsonl', rl[1:], 'entry 3 is missing (removed)')
    cp = ctl('audit', 'export', '--to', str(n + 100), check_rc=False)
    check(cp.returncode != 0 and 'NOT_FOUND' in cp.stderr and 'ends at entry' in cp.stderr,
          'export past the head: %r %r' % (cp.stdout, cp.stderr))
    cp = ctl('audit', 'export', '--from', '5', '--to', '4', check_rc=False)
    check(cp.returncode != 0 and 'from_seq 5' in cp.stderr,
          'from after to accepted: %r %r' % (cp.stdout, cp.stderr))


@test(timeout=120)
def renewed_key_signs_later_exports():
    """SIGHUP with a renewed certificate and key: later heads are signed with the new key
    (the old certificate no longer verifies them), earlier exports still verify with the old."""
    e = env()
    node, cred = e['f'].nodes[LON], e['f'].fed.node(LON)
    old_pem = ws('old-node.pem')
    with open(cred.cert) as src, open(old_pem, 'w') as dst:
        dst.write(src.read())
    before, _ = export('before-renewal.jsonl')
    new = e['f'].fed.issue('node', LON, name='lon-renewed', dns=('localhost',),
                           ip=('127.0.0.1',))
    for src, dst in ((new.chain, node.cred.chain), (new.key, node.cred.key),
                     (new.cert, cred.cert)):
        with open(src) as a, open(dst + '.tmp', 'w') as b:
            b.write(a.read())
        os.chmod(dst + '.tmp', 0o600)       # axled refuses a key others may read
        os.rename(dst + '.tmp', dst)
    node.hup()
    wait_for(lambda: 'event=registry_signing_renewed' in node.log_text(), 20,
             what='registry_signing_renewed after SIGHUP')
    ctl('cases', 'annotate', e['ids'][2], 'after the renewal')
    after, _ = export('after-renewal.jsonl')
    cp = checker(after, '--ca', e['f'].fed.ca_pem)
    check(cp.returncode == 0, 'export after renewal: %s %s' % (cp.stdout, cp.stderr))
    cp = checker(after, '--cert', new.cert)
    check(cp.returncode == 0, 'export after renewal, new cert: %s %s' % (cp.stdout, cp.stderr))
    cp = checker(after, '--cert', old_pem)
    check(cp.returncode == 1 and 'signature does not verify' in cp.stdout,
          'the old certificate verified a head signed after the renewal: %s' % cp.stdout)
    cp = checker(before, '--cert', old_pem)
    check(cp.returncode == 0, 'an export from before the renewal: %s %s' % (cp.stdout, cp.stderr))
    check(lines(after)[:len(lines(before)) - 1] == lines(before)[:-1],
          'the entries before the renewal changed in a later export')


@test(timeout=60)
def member_may_not_export():
    e = env()
    for sub in (('export',), ('verify',)):
        cp = e['f'].axlectl(LON, 'audit', *sub, cred=e['f'].fed.member(LON), check_rc=False)
        check(cp.returncode != 0 and 'PERMISSION_DENIED' in cp.stderr,
              'a member ran audit %s: %r %r' % (sub, cp.stdout[:200], cp.stderr))


if __name__ == '__main__':
    main()

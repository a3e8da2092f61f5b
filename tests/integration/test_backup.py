"""test_backup.py -- `axled -c FILE -b DIR`, the backup operator.md documents: a copy
taken while the node runs and writes is a private (directory 0700, data.mdb 0600, under
the usual umask 022, where `mdb_copy` made 0644), consistent snapshot; it never
overwrites a backup; a node restored from it as operator.md says serves what was
committed before the copy.
"""

import os
import stat
import subprocess
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import axletest as at  # noqa: E402
from axletest import Node, Workspace, check, main, make_federation, test  # noqa: E402

FED = 'fame-test'
REGION = 'uk.test'
_env = {}


@at.shared_env(_env)
def env():
    ws = Workspace(prefix='axle-backup-')
    fed = make_federation(ws, FED, [REGION])
    _env.update(ws=ws, fed=fed, node=Node(ws, fed, REGION))


def ctl(*args, check_rc=True):
    e = env()
    cred = e['fed'].admin(REGION)
    return at.run([os.path.join(at.BUILD, 'axlectl'), '--cert', cred.chain, '--key', cred.key,
                   '--trust', e['fed'].trust_dir, '--federation', FED,
                   '--server', '127.0.0.1:%d' % e['node'].port] + list(args),
                  timeout=30, check_rc=check_rc)


def delegate(i):
    ctl('delegate', '%s.r%04d' % (REGION, i), 'r%04d' % i, '--name', 'Registrar %d' % i,
        '--cert', 'axle://%s/member/%s.r%04d' % (FED, REGION, i))


def backup(dest, umask=0o022):
    """axled -b as an operator's shell runs it: umask 022 unless told."""
    def pre():
        os.umask(umask)
    cmd = at.WRAP + [at.axled_path(), '-c', env()['node'].conf, '-b', dest]
    return subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          universal_newlines=True, timeout=120 * at.TIME_SCALE,
                          preexec_fn=pre)


def mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


@test(timeout=180)
def backup_while_writing_is_private():
    e = env()
    for i in range(20):
        delegate(i)
    dest = os.path.join(e['ws'].path, 'backups', 'one')
    os.makedirs(os.path.dirname(dest), mode=0o755)
    # Writes go on while the copy runs: the copy is a snapshot, the node unharmed.
    stop = threading.Event()
    errors = []

    def writer():
        i = 100
        while not stop.is_set() and i < 400:
            try:
                delegate(i)
            except Exception as ex:		# reported below, not swallowed
                errors.append(ex)
                return
            i += 1
    t = threading.Thread(target=writer)
    t.start()
    try:
        cp = backup(dest)
    finally:
        stop.set()
        t.join()
    check(not errors, 'writes failed during the backup: %s' % errors[:1])
    check(cp.returncode == 0, 'axled -b exited %d: %s%s' % (cp.returncode, cp.stdout, cp.stderr))
    check('mode 0600' in cp.stdout, 'axled -b said: %r' % cp.stdout)
    copy = os.path.join(dest, 'data.mdb')
    check(mode(dest) == 0o700, 'backup directory mode %o, want 700' % mode(dest))
    check(mode(copy) == 0o600, 'data.mdb mode %o, want 600' % mode(copy))
    check(os.listdir(dest) == ['data.mdb'], 'backup holds %s' % os.listdir(dest))
    check(e['node'].alive(), 'the node died during the backup: %s' % e['node'].log_tail())
    _env['copy'] = copy


@test(timeout=60)
def backup_never_overwrites_and_is_private_whatever_the_umask():
    e = env()
    dest = os.path.dirname(_env['copy'])
    before = os.stat(_env['copy'])
    cp = backup(dest)
    check(cp.returncode == 1 and 'never overwritten' in cp.stderr,
          'a second backup into %s: rc %d %r' % (dest, cp.returncode, cp.stderr))
    after = os.stat(_env['copy'])
    check((before.st_size, before.st_mtime_ns) == (after.st_size, after.st_mtime_ns),
          'the first backup was changed')
    other = os.path.join(e['ws'].path, 'backups', 'open')
    cp = backup(other, umask=0)
    check(cp.returncode == 0, 'axled -b under umask 0: %s' % cp.stderr)
    check(mode(other) == 0o700 and mode(os.path.join(other, 'data.mdb')) == 0o600,
          'under umask 0: directory %o, data.mdb %o' % (
              mode(other), mode(os.path.join(other, 'data.mdb'))))
    cp = backup(os.path.join(e['ws'].path, 'no', 'such', 'parent'))
    check(cp.returncode == 1 and 'cannot create' in cp.stderr, 'missing parent: %r' % cp.stderr)


@test(timeout=120)
def restore_as_documented_serves_the_snapshot():
    e = env()
    n = e['node']
    n.stop()
    # operator.md, section 7, "Restore" (as root; ownership left as it is).
    broken = n.data_dir + '.broken'
    os.rename(n.data_dir, broken)
    at.run(['install', '-d', '-m', '0700', n.data_dir])
    at.run(['install', '-m', '0600', _env['copy'], os.path.join(n.data_dir, 'data.mdb')])
    n.start()
    out = ctl('registrar', 'show', 'r0019').stdout
    check('r0019' in out and '%s.r0019' % REGION in out, 'registrar r0019 after restore: %s' % out)
    n.stop()


if __name__ == '__main__':
    main()

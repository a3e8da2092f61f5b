"""test_storage_upgrade.py -- a data directory written by the build before issue 14's storage
(commit 37520e0, format 2: no queue counters, no retention) is converted at the first start
of this build, in its start-up transaction (issue 14, migration):

- three nodes run the old axled (built from git into build/old-37520e0/, once) and leave
  messages in every place: a mailbox (fetched and not), an outbox to a node that is down, a
  held queue, and ended messages (acknowledged);
- this build starts on the same directories: each logs switch_counters_built, Queues (now
  read from counters) says exactly what the old build's Queues (a walk) said, the ended
  messages are forgotten once past the (short) retention, and the outbox drains to its
  recipient exactly once;
- a recourse case decided by the old build exports with an entry this build wrote after it
  (`axlectl audit export`) and verifies offline (tools/axle-audit-check): the audit entry
  format did not change (issue 17 part 5);
- the old build then refuses the converted directory, naming the newer format.
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import axletest as at  # noqa: E402
from axletest import check, main, test, wait_for  # noqa: E402
from switchtest import FED, Fed  # noqa: E402

OLD = '37520e0'
OLD_AXLED = os.path.join(at.BUILD, 'old-' + OLD, 'axled')
LON, WY, UK = 'uk.london', 'uk.westyorks', 'uk'
LON_HUB, WY_HUB, HELD = LON + '.hub', WY + '.hub', WY + '.held'
NEW_SWITCH = ('\n[switch]\nrecord_retention_ms = 1000\ndedup_retention_ms = 60000\n'
              'default_deliver_by_ms = 60000\n')
_env = {}


def old_axled():
    """The old build's axled, made once from git (a worktree of OLD, removed after)."""
    if os.access(OLD_AXLED, os.X_OK):
        return OLD_AXLED
    if shutil.which('git') is None or subprocess.run(
            ['git', '-C', at.TOP, 'cat-file', '-e', OLD + '^{commit}'],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode != 0:
        at.skip('no git history with commit %s to build the old axled from' % OLD)
    tmp = tempfile.mkdtemp(prefix='axle-old-')
    src = os.path.join(tmp, 'src')
    try:
        at.run(['git', '-C', at.TOP, 'worktree', 'add', '--detach', src, OLD], timeout=120)
        at.run(['make', '-C', src, '-j2', 'build/axled'], timeout=1200)
        os.makedirs(os.path.dirname(OLD_AXLED), exist_ok=True)
        shutil.copy(os.path.join(src, 'build', 'axled'), OLD_AXLED + '.tmp')
        os.rename(OLD_AXLED + '.tmp', OLD_AXLED)
    finally:
        subprocess.run(['git', '-C', at.TOP, 'worktree', 'remove', '--force', src],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        shutil.rmtree(tmp, ignore_errors=True)
    return OLD_AXLED


def summary(f, region):
    """What Queues says at region: {(kind, name): (count, in_flight)}."""
    q = f.admin_switch(region).queues()
    out = {}
    for kind, qs in (('outbox', q.outboxes), ('mailbox', q.mailboxes), ('held', q.held)):
        for s in qs:
            if s.count > 0:
                out[(kind, s.name)] = (s.count, s.in_flight)
    return out


@test(timeout=1500)
def an_old_data_directory_is_converted_at_start():
    binary = old_axled()
    new_path = at.axled_path
    at.axled_path = lambda: binary
    try:
        f = Fed(prefix='axle-upgrade-')
        _env['f'] = f
        for r in (LON, WY):
            f.wait_registry(r)
        f.registrar(LON, 'lon-hub', LON_HUB, 'axle://%s/member/%s' % (FED, LON_HUB))
        f.registrar(WY, 'wy-hub', WY_HUB, 'axle://%s/member/%s' % (FED, WY_HUB))
        f.registrar(WY, 'wy-held', HELD, 'axle://%s/member/%s' % (FED, HELD))
        f.set_status(WY, 'wy-held', f.stubs.registry_pb2.REGISTRAR_STATUS_SUSPENDED, 'leave')
        lon = f.hub(LON, f.fed.member(LON))
        # A recourse case decided by the old build: its audit entries must export and
        # verify offline after the upgrade (the entry format did not change).
        lon.send(lon.envelope(LON_HUB, to=LON + '.nobody', context='up-case'))
        cid = wait_for(lambda: (json.loads(f.axlectl(LON, '--json', 'cases', 'list').stdout)
                                .get('cases') or [{}])[0].get('id'), 30, interval=0.2,
                       what='a case at london (old build)')
        f.axlectl(LON, 'cases', 'claim', cid)
        f.axlectl(LON, 'cases', 'discard', cid, '--reason', 'written by the old build')
        for i in range(3):
            lon.send(lon.envelope(LON_HUB + '.a', to=LON_HUB + '.b', context='up-%d' % i))
        held = lon.send(lon.envelope(LON_HUB, to=HELD, context='up-held')).message_id
        wait_for(lambda: ('held', 'wy-held') in summary(f, WY), 30, interval=0.2,
                 what='held at westyorks (old build)')
        got = [d for d in lon.fetch(max_messages=20, visibility_ms=600000, wait_ms=500)
               if not lon.is_receipt(d)]
        check(len(got) >= 2, 'fetched %d messages' % len(got))
        lon.ack([got[0].envelope.message_id])		# one ended, the others in flight
        f.nodes[UK].kill()
        out = lon.send(lon.envelope(LON_HUB, to=WY_HUB, context='up-out')).message_id
        before = {r: summary(f, r) for r in (LON, WY)}
        check(('outbox', UK) in before[LON] and ('mailbox', 'lon-hub') in before[LON],
              'old queues at london: %r' % before[LON])
        acked_st = lon.status(got[0].envelope.message_id)
        check(acked_st.state == lon.pb.MESSAGE_STATE_ACKNOWLEDGED, 'old status %r' % acked_st)
        lon.close()
        for r in (LON, WY):
            f.nodes[r].stop()
    finally:
        at.axled_path = new_path
    for r in (LON, WY, UK):
        f.nodes[r].extra += NEW_SWITCH
        f.nodes[r].write_config()
    for r in (LON, WY):
        f.nodes[r].start(timeout=60)
        check('event=switch_counters_built' in f.nodes[r].log_text(),
              '%s did not build its counters' % r)
    after = {r: summary(f, r) for r in (LON, WY)}
    for r in (LON, WY):
        check(after[r] == before[r], 'Queues at %s: old build %r, after upgrade %r' % (
            r, before[r], after[r]))
    lon = f.hub(LON, f.fed.member(LON))
    unknown = lon.pb.MessageState.Value('MESSAGE_STATE_UNKNOWN')
    wait_for(lambda: lon.status(got[0].envelope.message_id).state == unknown, 60,
             interval=0.3, what='the message acknowledged before the upgrade forgotten')
    check(lon.status(got[1].envelope.message_id).state == lon.pb.MESSAGE_STATE_IN_FLIGHT,
          'the message in flight kept')
    st = f.admin_switch(WY).status(held)
    check(st.state == lon.pb.MESSAGE_STATE_HELD, 'the held message kept at westyorks: %r' % st)
    # The outbox drains to its recipient once uk is back.
    f.nodes[UK].start(timeout=60)
    wy = f.hub(WY, f.fed.member(WY))
    seen = wy.drain(lambda g: any(d.envelope.message_id == out for d in g), what='the outbox '
                    'message at westyorks')
    check([d.envelope.message_id for d in seen].count(out) == 1, 'delivered once')
    old_entries_export_and_verify(f, cid)
    # The old build refuses the converted directory rather than misread it.
    f.nodes[LON].stop()
    old_conf = f.nodes[LON].conf + '.old'
    with open(f.nodes[LON].conf) as src, open(old_conf, 'w') as dst:
        dst.write(src.read().replace(NEW_SWITCH, ''))
    cp = subprocess.run([binary, '-c', old_conf], stdout=subprocess.PIPE,
                        stderr=subprocess.STDOUT, timeout=60)
    text = cp.stdout.decode(errors='replace')
    check(cp.returncode != 0 and 'data format 3 is newer' in text,
          'old build on the converted store: rc %d: %s' % (cp.returncode, text[-400:]))


def old_entries_export_and_verify(f, cid):
    """The old build's audit entries, and one written since, in one export that verifies."""
    f.axlectl(LON, 'cases', 'annotate', cid, 'written by this build')
    cp = f.axlectl(LON, 'audit', 'export')
    path = f.ws.join('upgrade-audit.jsonl')
    with open(path, 'w') as out:
        out.write(cp.stdout)
    recs = [json.loads(x) for x in cp.stdout.splitlines()[:-1]]
    acts = [(r['action'], r['detail']) for r in recs if r['case_id'] == cid]
    check(('DISCARDED', 'written by the old build') in acts and
          ('ANNOTATED', 'written by this build') in acts and
          all(r['format'] == 1 for r in recs), 'the export of old and new entries: %s' % acts)
    chk = subprocess.run([sys.executable, os.path.join(at.TOP, 'tools', 'axle-audit-check'),
                          '--ca', f.fed.ca_pem, path], capture_output=True, text=True,
                         timeout=60)
    check(chk.returncode == 0 and 'OK: %d entries' % len(recs) in chk.stdout,
          'old entries do not verify: %s %s' % (chk.stdout, chk.stderr))
    print('   %s' % chk.stdout.strip())


def after_failure(name):
    if 'f' in _env:
        _env['f'].log_tails(30)


if __name__ == '__main__':
    main(after_failure)

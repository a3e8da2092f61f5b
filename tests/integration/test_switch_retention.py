"""test_switch_retention.py -- retention of ended messages on three real nodes (issue 14):
with a short [switch] record_retention_ms, the records of acknowledged and forwarded
messages, of their receipts and of the relaying node's copies are deleted once the window
passed (Status then answers UNKNOWN, "no record"), never before it; the de-duplication
marks stay for dedup_retention_ms (a resend is a duplicate meanwhile) and then go too, after
which the same id is new to the node. /metrics counts the records and marks.

Steps depend on each other and run in order.
"""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from axletest import check, main, shared_env, test, wait_for  # noqa: E402
from switchtest import FED, Fed  # noqa: E402

LON, WY, UK = 'uk.london', 'uk.westyorks', 'uk'
LON_HUB, WY_HUB = LON + '.hub', WY + '.hub'
RECORD_MS = 3000
DEDUP_MS = 15000	# also default_deliver_by_ms: marks must outlive it
_env = {}


@shared_env(_env)
def env():
    f = Fed(prefix='axle-retain-', node_extra='\n[switch]\nrecord_retention_ms = %d\n'
            'dedup_retention_ms = %d\ndefault_deliver_by_ms = %d\n' % (RECORD_MS, DEDUP_MS,
                                                                     DEDUP_MS))
    for r in (LON, WY):
        f.wait_registry(r)
    f.registrar(LON, 'lon-hub', LON_HUB, 'axle://%s/member/%s' % (FED, LON_HUB))
    f.registrar(WY, 'wy-hub', WY_HUB, 'axle://%s/member/%s' % (FED, WY_HUB))
    _env.update(f=f, lon=f.hub(LON, f.fed.member(LON)), wy=f.hub(WY, f.fed.member(WY)))


def metric(region, key):
    f = env()['f']
    return f.nodes[region].metrics(f.fed.admin(region)).get(key)


def drain_all(hub, what):
    """Fetches and acknowledges until the mailbox stays empty for a moment."""
    got = []
    quiet = 0
    while quiet < 3:
        batch = hub.fetch(max_messages=200, wait_ms=300, visibility_ms=60000)
        if batch:
            hub.ack([d.envelope.message_id for d in batch])
            got += batch
            quiet = 0
        else:
            quiet += 1
    return got


def watch_until_forgotten(hub, mid, ended_before, what):
    """Polls Status of mid until UNKNOWN; every answer before ended_before + RECORD_MS
    must still be the record (never swept before its time)."""
    unknown = hub.pb.MessageState.Value('MESSAGE_STATE_UNKNOWN')
    deadline = time.time() + RECORD_MS / 1000.0 + 60
    while time.time() < deadline:
        asked = time.time()
        st = hub.status(mid)
        if st.state == unknown:
            check(asked * 1000 >= ended_before + RECORD_MS,
                  '%s: no record %.0f ms after it ended, retention is %d ms' % (
                      what, asked * 1000 - ended_before, RECORD_MS))
            check('no record' in st.detail, '%s: detail %r' % (what, st.detail))
            return st
        time.sleep(0.1)
    raise AssertionError('%s: still recorded %d s after its retention' % (what, 60))


@test(timeout=180)
def ended_records_go_after_their_window_and_not_before():
    e = env()
    lon, wy = e['lon'], e['wy']
    local = lon.send(lon.envelope(LON_HUB + '.a', to=LON_HUB, context='retain-local'))
    remote = lon.send(lon.envelope(LON_HUB + '.a', to=WY_HUB, context='retain-remote'))
    e.update(local=local.message_id, remote=remote.message_id)
    wy.drain(lambda g: any(d.envelope.message_id == remote.message_id for d in g),
             what='the message at westyorks')
    ended = e['ended'] = time.time() * 1000	# before either was acknowledged
    # london's hub gets its own message and the receipts of both; acknowledges all.
    got = drain_all(lon, 'london')
    check(any(d.envelope.message_id == local.message_id for d in got), 'local not delivered')
    st = lon.status(local.message_id)
    check(st.state == lon.pb.MessageState.Value('MESSAGE_STATE_ACKNOWLEDGED') or
          time.time() * 1000 >= ended + RECORD_MS, 'status right after the ack: %r' % st)
    watch_until_forgotten(lon, local.message_id, ended, 'acknowledged at london')
    watch_until_forgotten(lon, remote.message_id, ended, 'forwarded from london')
    watch_until_forgotten(wy, remote.message_id, ended, 'acknowledged at westyorks')


@test(timeout=180)
def receipts_and_relayed_copies_go_too():
    """Once the receipts were acknowledged and the windows passed, no node keeps a record:
    london's receipts, uk's relayed copies and westyorks' message are all gone."""
    e = env()
    drain_all(e['lon'], 'london')
    drain_all(e['wy'], 'westyorks')
    for region in (LON, UK, WY):
        wait_for(lambda: metric(region, 'axle_switch_records') == 0, RECORD_MS / 1000.0 + 60,
                 interval=0.5, what='no records left at %s (%s)' % (
                     region, metric(region, 'axle_switch_records')))
    check((metric(LON, 'axle_switch_messages_total{event="forgotten"}') or 0) >= 3,
          'forgotten at london: %r' % metric(LON, 'axle_switch_messages_total{event="forgotten"}'))


@test(timeout=180)
def marks_outlive_records_then_go():
    """Between the two windows a resend of the same id is still a duplicate; after the
    second, the marks are gone and the id is new."""
    e = env()
    lon = e['lon']
    again = lon.envelope(LON_HUB + '.a', to=LON_HUB, context='retain-local', mid=e['local'])
    asked = time.time() * 1000
    r = lon.send(again)
    # A slow machine may already be past the mark's window: then the id is new, as below.
    check(r.detail.startswith('duplicate') or asked >= e['ended'] + DEDUP_MS,
          'resend %.0f ms after it ended, before the mark\'s %d ms: %r' % (
              asked - e['ended'], DEDUP_MS, r))
    if r.detail.startswith('duplicate'):
        wait_for(lambda: metric(LON, 'axle_switch_dedup_marks') == 0, DEDUP_MS / 1000.0 + 60,
                 interval=0.5, what='no marks left at london (%s)' % metric(
                     LON, 'axle_switch_dedup_marks'))
        r = lon.send(again)
    check(not r.detail.startswith('duplicate'), 'after the mark went: %r' % r)
    got = drain_all(lon, 'london')
    check(any(d.envelope.message_id == e['local'] for d in got), 'the id taken anew')


if __name__ == '__main__':
    main()

"""test_soak.py -- retention bounds the store: 1 KiB messages sent to a hub's own mailbox
through one node by build/loadgen (--vary-id: a new id each), fetched and acknowledged by a
consumer as they come, in chunks; after each chunk, once the mailbox is empty and the
retention window has passed, the records are swept and the data file's size is taken.

`make test` runs the short form (AXLE_SOAK_MESSAGES=50000 in chunks of 5000): every chunk's
records are swept, and the data file stops growing once retention is reached: from the
middle chunk to the last it grows by less than two chunks' payloads (2 x CHUNK KiB: room for
a peak of the consumer's backlog), where without retention it would grow by every chunk's
envelopes, records and receipts (five chunks' worth, more than 2.5 KiB a message). `make soak` runs 10 million in chunks of a million and
prints the curve: data file size and Send p99 per chunk, and the last chunk's p99 over the
first's (reported, not asserted: speed is not a test's business). Bounded: every wait has a
deadline and the whole run AXLE_SOAK_SECONDS.
"""

import os
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import axletest as at  # noqa: E402
from axletest import (Node, Workspace, check, grpc_stubs, main, make_federation, test,  # noqa: E402
                      wait_for)

import grpc  # noqa: E402

# The retention settings the soak runs with ([switch] keys; docs/operator.md).
RETENTION = {'record_retention_ms': 1000, 'dedup_retention_ms': 1000,
             'default_deliver_by_ms': 1000}
MESSAGES = int(os.environ.get('AXLE_SOAK_MESSAGES', '50000'))
CHUNK = int(os.environ.get('AXLE_SOAK_CHUNK', str(max(1, MESSAGES // 10))))
SECONDS = int(os.environ.get('AXLE_SOAK_SECONDS', '1800'))
CONNS, STREAMS = 4, 8
FED, REGION = 'fame-test', 'uk.soak'
HUB = REGION + '.hub'
SLACK = 200 + CHUNK // 100	# records left unswept at a size reading (receipts in flight)
_env = {}


def setup():
    ws = Workspace(prefix='axle-soak-')
    fed = make_federation(ws, FED, [REGION])
    extra = '\n[switch]\n' + ''.join('%s = %d\n' % kv for kv in sorted(RETENTION.items()))
    node = Node(ws, fed, REGION, limits={'map_size_mb': 4096}, extra=extra)
    stubs = grpc_stubs(ws)
    _env.update(ws=ws, fed=fed, node=node, stubs=stubs)
    rp = stubs.registry_pb2
    with channel(fed.admin(REGION)) as ch:
        reg = stubs.registry_pb2_grpc.RegistryStub(ch)
        reg.Delegate(rp.DelegateRequest(registrar_id='hub', prefix=HUB, display_name='hub',
                                        cert_identity='axle://%s/member/%s' % (FED, HUB)),
                     timeout=20)
        reg.SetStatus(rp.SetStatusRequest(registrar_id='hub', status=rp.REGISTRAR_STATUS_ACTIVE,
                                          reason='onboarded'), timeout=20)
    body = ws.join('send.pb')
    env = stubs.envelope_pb2.Envelope(message_id=os.urandom(16), sender=HUB, to=HUB,
                                      message_type='soak.v1', payload=os.urandom(1024),
                                      content_type='application/octet-stream')
    data = env.SerializeToString()
    check(data[:2] == b'\x0a\x10', 'message_id is not at offset 2 of the envelope')
    with open(body, 'wb') as f:
        f.write(data)
    _env['body'] = body


def channel(cred):
    rd = lambda p: open(p, 'rb').read()  # noqa: E731
    creds = grpc.ssl_channel_credentials(rd(_env['fed'].ca_pem), rd(cred.key), rd(cred.chain))
    return grpc.secure_channel('localhost:%d' % _env['node'].port, creds)


class Consumer(threading.Thread):
    """Fetches and acknowledges everything in the hub's mailbox (messages and receipts)."""

    def __init__(self):
        super().__init__(daemon=True)
        self.stop, self.acked, self.error = threading.Event(), 0, None

    def run(self):
        sp = _env['stubs'].switch_pb2
        with channel(_env['fed'].member(REGION)) as ch:
            sw = _env['stubs'].switch_pb2_grpc.SwitchStub(ch)
            while not self.stop.is_set():
                try:
                    ids = [d.envelope.message_id for d in sw.Fetch(sp.FetchRequest(
                        max_messages=1000, wait_ms=200, visibility_timeout_ms=120000),
                        timeout=60)]
                    if ids:
                        sw.Ack(sp.AckRequest(message_ids=ids), timeout=60)
                        self.acked += len(ids)
                except grpc.RpcError as e:
                    self.error = e
                    time.sleep(0.2)


def send_chunk(n):
    """n Sends by loadgen: returns its summary {requests, ok, errors, rps, p50_us, p99_us}."""
    cred = _env['fed'].member(REGION)
    cp = subprocess.run([os.path.join(at.BUILD, 'loadgen'), '--cert', cred.chain, '--key',
                         cred.key, '--trust', _env['fed'].trust_dir, '--federation', FED,
                         '--server', '127.0.0.1:%d' % _env['node'].port, '--conns', str(CONNS),
                         '--streams', str(STREAMS), '--requests', str(n), '--duration-s',
                         str(SECONDS), '--grpc', '/axle.v1.Switch/Send', '--body-file',
                         _env['body'], '--vary-id', '2'],
                        stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True,
                        timeout=SECONDS)
    out = dict(w.split('=', 1) for w in cp.stdout.split() if '=' in w)
    check(cp.returncode == 0 and out.get('errors') == '0',
          'loadgen: rc %d %s %s' % (cp.returncode, cp.stdout, cp.stderr[-500:]))
    return out


def gauge(name):
    m = _env['node'].metrics(_env['fed'].admin(REGION), timeout=60)
    return m.get(name, 0)


def settled():
    """After a chunk: the mailbox empties, then retention sweeps the records."""
    admin = _env['fed'].admin(REGION)
    wait_for(lambda: sum(v for k, v in _env['node'].metrics(admin, timeout=60).items()
                         if k.startswith('axle_switch_mailbox{')) == 0,
             300 * at.TIME_SCALE, interval=0.5, what='the mailbox emptied by the consumer')
    wait_for(lambda: gauge('axle_switch_records') <= SLACK, 300 * at.TIME_SCALE, interval=0.5,
             what='records swept after %d ms of retention (at most %d left)' % (
                 RETENTION['record_retention_ms'], SLACK))


@test(timeout=SECONDS + 120)
def data_file_stops_growing_once_retention_is_reached():
    setup()
    node = _env['node']
    data = os.path.join(node.data_dir, 'data.mdb')
    consumer = Consumer()
    consumer.start()
    end = time.monotonic() + SECONDS
    curve, sent = [], 0
    try:
        while sent < MESSAGES:
            check(time.monotonic() < end, 'time bound (AXLE_SOAK_SECONDS=%d) reached after %d '
                  'messages' % (SECONDS, sent))
            n = min(CHUNK, MESSAGES - sent)
            r = send_chunk(n)
            sent += n
            settled()
            curve.append((sent, os.path.getsize(data), int(r['p99_us']), float(r['rps'])))
            print('soak: %9d sent  data file %7.1f MiB  Send p99 %7.1f ms  %7.0f/s  records %d' % (
                sent, curve[-1][1] / 2**20, curve[-1][2] / 1000, curve[-1][3],
                gauge('axle_switch_records')), flush=True)
    finally:
        consumer.stop.set()
        consumer.join(30)
    check(consumer.error is None or consumer.acked >= 2 * MESSAGES,
          'consumer: %r' % consumer.error)
    mid, last = curve[len(curve) // 2][1], curve[-1][1]
    print('soak: p99 last/first chunk %.2f; data file grew %.1f MiB from the middle chunk to '
          'the last' % (curve[-1][2] / max(1, curve[0][2]), (last - mid) / 2**20))
    check(len(curve) >= 4, 'too few chunks (%d) to tell growth: AXLE_SOAK_CHUNK' % len(curve))
    check(last - mid < 2 * CHUNK * 1024, 'the data file kept growing: %.1f MiB after the middle '
          'chunk, %.1f MiB after the last (%d messages a chunk)' % (
              mid / 2**20, last / 2**20, CHUNK))


def after_failure(name):
    if 'node' in _env:
        print(_env['node'].log_tail(40))


if __name__ == '__main__':
    main(after_failure)

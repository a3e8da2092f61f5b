"""switch_latency.py -- one message at a time, hub -> node A -> node B -> mailbox: a
fetcher at B long-polls its mailbox; the sender at A sends the next message only when the
previous one arrived. Prints p50/p99 of send-start -> delivered-to-the-fetcher, in ms.

usage: switch_latency.py GEN CA A_CERT A_KEY A_PORT A_FROM B_CERT B_KEY B_PORT B_TO COUNT
"""

import os
import sys
import threading
import time

gen = sys.argv[1]
sys.path.insert(0, gen)
import grpc  # noqa: E402
from axle.v1 import envelope_pb2, switch_pb2, switch_pb2_grpc  # noqa: E402

(ca, a_cert, a_key, a_port, a_from, b_cert, b_key, b_port, b_to, count) = sys.argv[2:13]
count = int(count)


def channel(cert, key, port):
    rd = lambda p: open(p, 'rb').read()  # noqa: E731
    creds = grpc.ssl_channel_credentials(rd(ca), rd(key), rd(cert))
    return grpc.secure_channel('localhost:%s' % port, creds)


arrived = {}
cv = threading.Condition()
stop = threading.Event()


def fetcher():
    stub = switch_pb2_grpc.SwitchStub(channel(b_cert, b_key, b_port))
    while not stop.is_set():
        try:
            got = []
            for d in stub.Fetch(switch_pb2.FetchRequest(max_messages=1, wait_ms=2000),
                                timeout=10):
                t = time.monotonic()
                got.append(d.envelope.message_id)
                with cv:
                    arrived[d.envelope.message_id] = t
                    cv.notify_all()
            if got:
                stub.Ack(switch_pb2.AckRequest(message_ids=got), timeout=10)
        except grpc.RpcError:
            time.sleep(0.05)


threading.Thread(target=fetcher, daemon=True).start()
send = switch_pb2_grpc.SwitchStub(channel(a_cert, a_key, a_port))
lat = []
warm = 20
for i in range(count + warm):
    mid = os.urandom(16)
    env = envelope_pb2.Envelope(message_id=mid, sender=a_from, to=b_to, message_type='bench.v1',
                                payload=b'x' * 1024)
    t0 = time.monotonic()
    send.Send(env, timeout=10)
    with cv:
        if not cv.wait_for(lambda: mid in arrived, timeout=10):
            print('message %d did not arrive in 10s' % i)
            sys.exit(1)
    if i >= warm:
        lat.append((arrived[mid] - t0) * 1000)
stop.set()
lat.sort()
print('messages=%d p50_ms=%.2f p99_ms=%.2f max_ms=%.2f' % (
    len(lat), lat[len(lat) // 2], lat[min(len(lat) - 1, len(lat) * 99 // 100)], lat[-1]))

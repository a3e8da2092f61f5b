"""loop_probe.py -- `make bench`: how long the node's event loop takes to answer the
calls that summarise its queues (a /metrics scrape, Node.Info, Switch.Queues), probed
one after the other for SECONDS while other load runs. Prints p50 and max per call, in ms
(server side: /metrics is timed from TLS established to first byte, the gRPC calls on a
warm channel). Not a test: never fails on speed. Every call is bounded (30 s).

Usage: loop_probe.py GEN_DIR CA ADMIN_CERT ADMIN_KEY PORT SECONDS
"""

import subprocess
import sys
import time

import grpc


def main():
    gen, ca, cert, key, port, secs = sys.argv[1:7]
    sys.path.insert(0, gen)
    from axle.v1 import node_pb2, node_pb2_grpc, switch_pb2, switch_pb2_grpc
    rd = lambda p: open(p, 'rb').read()  # noqa: E731
    ch = grpc.secure_channel('localhost:%s' % port,
                             grpc.ssl_channel_credentials(rd(ca), rd(key), rd(cert)))
    node = node_pb2_grpc.NodeStub(ch)
    sw = switch_pb2_grpc.SwitchStub(ch)
    node.Info(node_pb2.InfoRequest(), timeout=30)  # warm the channel

    def metrics():
        out = subprocess.run(
            ['curl', '-s', '-o', '/dev/null', '--http2', '--max-time', '30', '--cert', cert,
             '--key', key, '--cacert', ca, '-w', '%{time_appconnect} %{time_starttransfer}',
             'https://127.0.0.1:%s/metrics' % port], capture_output=True, text=True).stdout
        a, b = (float(x) for x in out.split())
        return (b - a) * 1000

    def timed(call):
        t0 = time.monotonic()
        call()
        return (time.monotonic() - t0) * 1000

    probes = {
        '/metrics scrape': metrics,
        'Node.Info': lambda: timed(lambda: node.Info(node_pb2.InfoRequest(), timeout=30)),
        'Switch.Queues': lambda: timed(lambda: sw.Queues(switch_pb2.QueuesRequest(), timeout=30)),
    }
    got = {k: [] for k in probes}
    end = time.monotonic() + float(secs)
    while time.monotonic() < end:
        for name, probe in probes.items():
            got[name].append(probe())
        time.sleep(0.2)
    for name, ms in got.items():
        ms.sort()
        print('%-16s n=%d p50_ms=%.1f max_ms=%.1f  (goal < 10)' % (
            name, len(ms), ms[len(ms) // 2], ms[-1]))


main()

"""mirror_lag.py -- `make bench`: time from a delegation committed on node A (its Delegate
RPC returned) to its presence in node B's mirror (B's Resolve names the registrar).

Not a test: prints p50/p99/max, never fails on speed. Every wait is bounded.
Usage: mirror_lag.py GEN_DIR CA ADMIN_A_CERT ADMIN_A_KEY A_PORT MEMBER_CERT MEMBER_KEY B_PORT
       REGION_A N
GEN_DIR holds python stubs generated from proto/ (grpc_tools.protoc).
"""

import sys
import time

import grpc


def channel(ca, cert, key, port):
    rd = lambda p: open(p, 'rb').read()  # noqa: E731
    creds = grpc.ssl_channel_credentials(rd(ca), rd(key), rd(cert))
    return grpc.secure_channel('localhost:%d' % port, creds)


def main():
    gen, ca, acert, akey, aport, mcert, mkey, bport, region, n = sys.argv[1:11]
    sys.path.insert(0, gen)
    from axle.v1 import registry_pb2 as pb, registry_pb2_grpc as pbg
    a = pbg.RegistryStub(channel(ca, acert, akey, int(aport)))
    b = pbg.RegistryStub(channel(ca, mcert, mkey, int(bport)))
    tag = '%x' % (int(time.time() * 1000) & 0xffffff)
    lags, missed = [], 0
    for i in range(int(n)):
        rid = 'lag-%s-%d' % (tag, i)
        prefix = '%s.lag%s-%d' % (region, tag, i)
        a.Delegate(pb.DelegateRequest(registrar_id=rid, prefix=prefix, display_name=rid,
                                      cert_identity='axle://x/member/' + prefix), timeout=10)
        t0 = time.monotonic()
        deadline = t0 + 10
        while True:
            r = b.Resolve(pb.ResolveRequest(address=prefix + '.x'), timeout=10)
            if r.registrar.id == rid:
                lags.append(time.monotonic() - t0)
                break
            if time.monotonic() > deadline:
                missed += 1
                break
            time.sleep(0.001)
    lags.sort()
    if not lags:
        print('mirror lag: no change arrived within 10 s (%d tried)' % int(n))
        return 1
    pct = lambda q: lags[min(len(lags) - 1, int(q * len(lags)))] * 1000  # noqa: E731
    print('changes=%d arrived=%d p50_ms=%.1f p99_ms=%.1f max_ms=%.1f'
          % (int(n), len(lags), pct(0.50), pct(0.99), lags[-1] * 1000))
    return 0 if missed == 0 else 1


if __name__ == '__main__':
    sys.exit(main())

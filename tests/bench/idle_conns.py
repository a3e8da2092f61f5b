#!/usr/bin/env python3
"""idle_conns.py -- `make bench`: holds N idle mutual-TLS HTTP/2 connections to a server.

Each connection: TCP, TLS 1.3 with a client certificate, ALPN h2, the client
preface and an empty SETTINGS, then the server's SETTINGS read and
acknowledged, and our SETTINGS acknowledged by the server: a finished, idle
HTTP/2 connection with no stream. Then nothing more is sent.

Usage: idle_conns.py HOST PORT CERT KEY CAFILE N [THREADS]
Prints "held N failed F seconds S" on stdout once N connections are up, then
holds them until stdin closes (or a signal), and exits.
"""
import resource
import socket
import ssl
import struct
import sys
import threading
import time

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
SETTINGS, ACK = 4, 1


def frame(ftype, flags, sid, payload=b""):
    return struct.pack(">I", len(payload))[1:] + bytes([ftype, flags]) + struct.pack(">I", sid) + payload


def settle(s):
    """Exchanges SETTINGS both ways; returns once both are acknowledged."""
    s.sendall(PREFACE + frame(SETTINGS, 0, 0))
    buf, got_theirs, got_ack = b"", False, False
    while not (got_theirs and got_ack):
        data = s.recv(16384)
        if not data:
            raise ConnectionError("closed during SETTINGS")
        buf += data
        while len(buf) >= 9:
            n = int.from_bytes(buf[:3], "big")
            if len(buf) < 9 + n:
                break
            ftype, flags = buf[3], buf[4]
            buf = buf[9 + n:]
            if ftype == SETTINGS and flags & ACK:
                got_ack = True
            elif ftype == SETTINGS:
                got_theirs = True
                s.sendall(frame(SETTINGS, ACK, 0))


def main():
    host, port, cert, key, cafile, n = sys.argv[1:7]
    n = int(n)
    threads = int(sys.argv[7]) if len(sys.argv) > 7 else 4
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    if n + 64 > hard:
        sys.exit(f"idle_conns: RLIMIT_NOFILE hard limit {hard} is too low for {n} connections")
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    ctx.load_cert_chain(cert, key)
    ctx.load_verify_locations(cafile)
    ctx.check_hostname = False
    ctx.set_alpn_protocols(["h2"])
    held, failed, errors = [], [0], []
    lock = threading.Lock()

    def work(count):
        for _ in range(count):
            try:
                raw = socket.create_connection((host, int(port)), timeout=30)
                s = ctx.wrap_socket(raw)
                if s.selected_alpn_protocol() != "h2":
                    raise ConnectionError("no h2")
                settle(s)
                with lock:
                    held.append(s)
            except (OSError, ssl.SSLError, ConnectionError) as e:
                with lock:
                    failed[0] += 1
                    if len(errors) < 3:
                        errors.append(str(e))

    t0 = time.monotonic()
    per = [n // threads + (1 if i < n % threads else 0) for i in range(threads)]
    ts = [threading.Thread(target=work, args=(c,)) for c in per]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    print(f"held {len(held)} failed {failed[0]} seconds {time.monotonic() - t0:.1f}", flush=True)
    for e in errors:
        print(f"idle_conns: error: {e}", file=sys.stderr)
    try:
        sys.stdin.read()
    except KeyboardInterrupt:
        pass
    for s in held:
        s.close()


if __name__ == "__main__":
    main()

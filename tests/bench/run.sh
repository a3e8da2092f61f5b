#!/bin/sh
# tests/bench/run.sh -- `make bench`: axled against the reference, same run,
# same certificates, same load generator (build/loadgen, mTLS HTTP/2).
#   reference: nghttpx --verify-client (TLS 1.3, 1 worker) in front of nghttpd
#   serving a 3-byte static file; axled (1 thread) answering Node.Info.
# Prints requests/s, p50, p99 and the ratio axled/reference. Not a test: no
# pass/fail on speed. Usage: tests/bench/run.sh BUILD_DIR
set -eu
B=$(cd "${1:-build}" && pwd)
top=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/axle-bench.XXXXXX")
CONNS=${BENCH_CONNS:-4}
STREAMS=${BENCH_STREAMS:-16}
REQS=${BENCH_REQUESTS:-400000}
SECS=${BENCH_SECONDS:-8}
pids=""
cleanup() { for p in $pids; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT INT TERM

free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { i=0; until /usr/bin/python3 -c "import socket,sys; socket.create_connection(('127.0.0.1',$1),0.2)" 2>/dev/null; do i=$((i+1)); [ $i -gt 50 ] && { echo "port $1 never opened"; exit 1; }; sleep 0.1; done; }

"$top/certs/axle-dev-federation" "$work/pki" fame-bench uk.bench >/dev/null
P=$work/pki/uk.bench
mkdir -p "$work/www"; printf 'ok\n' >"$work/www/small"

ax_port=$(free_port); d_port=$(free_port); x_port=$(free_port)
cat >"$work/axled.conf" <<CONF
[node]
federation = fame-bench
region = uk.bench
listen = 127.0.0.1:$ax_port
data_dir = data
[tls]
cert = pki/uk.bench/node.chain.pem
key = pki/uk.bench/node.key
trust_dir = pki/trust
[log]
level = warn
CONF
"$B/axled" -c "$work/axled.conf" 2>"$work/axled.log" & pids="$pids $!"
nghttpd --no-tls -d "$work/www" -a 127.0.0.1 "$d_port" >/dev/null 2>&1 & pids="$pids $!"
nghttpx --conf=/dev/null -f"127.0.0.1,$x_port" -b"127.0.0.1,$d_port;;proto=h2" \
    --workers=1 --verify-client --verify-client-cacert="$work/pki/ca/ca.pem" \
    --tls-min-proto-version=TLSv1.3 --no-ocsp --errorlog-file="$work/nghttpx.log" \
    "$P/node.key" "$P/node.chain.pem" 2>>"$work/nghttpx.log" & pids="$pids $!"
wait_port "$ax_port"; wait_port "$d_port"; wait_port "$x_port"

load() {	# server path-mode path
	"$B/loadgen" --cert "$P/member.chain.pem" --key "$P/member.key" \
	    --trust "$work/pki/trust" --federation fame-bench --server "127.0.0.1:$1" \
	    --conns "$CONNS" --streams "$STREAMS" --requests "$REQS" --duration-s "$SECS" \
	    "$2" "$3"
}
field() { echo "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"; }

echo "bench: $CONNS connections x $STREAMS streams, up to $REQS requests or ${SECS}s each, mTLS TLS 1.3, loopback, $(nproc) cores"
load "$x_port" --get /small >/dev/null 2>&1 || true	# warm-up
ref=$(load "$x_port" --get /small)
axl=$(load "$ax_port" --grpc /axle.v1.Node/Info)
printf '%-44s %s\n' "reference nghttpx(verify-client)+nghttpd GET" "$ref"
printf '%-44s %s\n' "axled Node.Info (gRPC, unary)" "$axl"
rr=$(field "$ref" rps); ar=$(field "$axl" rps)
awk -v a="$ar" -v r="$rr" 'BEGIN { printf "ratio axled/reference (requests/s): %.2f  (goal >= 0.60)\n", a / r }'
h=$(load "$ax_port" --get /healthz)
printf '%-44s %s\n' "axled GET /healthz (no gRPC)" "$h"

#!/bin/sh
# tests/bench/idle_conns.sh -- `make bench` (called by run.sh): what an idle
# mutual-TLS HTTP/2 connection costs, axled beside nghttpx --verify-client.
# For each server: its RSS before, then with N idle connections held by
# tests/bench/idle_conns.py (TLS 1.3 with a client certificate, h2 SETTINGS
# exchanged both ways, no stream), and the difference divided by N. Meanwhile
# a busy client (build/loadgen, Node.Info for axled, a GET for nghttpx) keeps
# calling, and its p99 with the connections held is printed beside its p99
# without. Not a test: no pass/fail. Goal (issue 15): at most 12 KiB per idle
# connection in axled at 10,000.
# Usage: tests/bench/idle_conns.sh BUILD_DIR   (BENCH_IDLE_CONNS, default 10000)
set -eu
B=$(cd "${1:-build}" && pwd)
top=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/axle-idle.XXXXXX")
N=${BENCH_IDLE_CONNS:-10000}
BUSY_S=${BENCH_IDLE_BUSY_SECONDS:-4}
pids=""
cleanup() { for p in $pids; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT INT TERM

# Both servers and the holder need a descriptor per connection.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt $((N + 256)) ]; then
	echo "idle connections: RLIMIT_NOFILE $(ulimit -n) is below $N + 256; set BENCH_IDLE_CONNS lower"
	exit 0
fi

. "$top/tests/bench/benchlib.sh"
# KiB resident: the process and its children (nghttpx runs a worker under its master).
rss_kb() {
	t=0
	for p in $1 $(pgrep -P "$1" 2>/dev/null || true); do
		t=$((t + $(awk '/^VmRSS:/ { print $2 }' "/proc/$p/status")))
	done
	echo $t
}

"$top/certs/axle-dev-federation" "$work/pki" fame-idle uk.idle >/dev/null
P=$work/pki/uk.idle
mkdir -p "$work/www"; printf 'ok\n' >"$work/www/small"
ax_port=$(free_port); d_port=$(free_port); x_port=$(free_port)
bench_conf "$work/axled.conf" fame-idle uk.idle "$ax_port" data pki "[limits]" \
    "max_connections = $((N + 64))"
(cd "$work" && exec "$B/axled" -c "$work/axled.conf" 2>"$work/axled.log") & ax_pid=$!; pids="$pids $ax_pid"
nghttpd --no-tls -d "$work/www" -a 127.0.0.1 "$d_port" >/dev/null 2>&1 & pids="$pids $!"
nghttpx --conf=/dev/null -f"127.0.0.1,$x_port" -b"127.0.0.1,$d_port;;proto=h2" \
    --workers=1 --verify-client --verify-client-cacert="$work/pki/ca/ca.pem" \
    --tls-min-proto-version=TLSv1.3 --no-ocsp --errorlog-file="$work/nghttpx.log" \
    "$P/node.key" "$P/node.chain.pem" 2>>"$work/nghttpx.log" & x_pid=$!; pids="$pids $x_pid"
wait_port "$ax_port"; wait_port "$d_port"; wait_port "$x_port"

busy() {	# port args...: one connection, 8 streams, BUSY_S seconds
	pt=$1; shift
	"$B/loadgen" --cert "$P/member.chain.pem" --key "$P/member.key" \
	    --trust "$work/pki/trust" --federation fame-idle --server "127.0.0.1:$pt" \
	    --conns 1 --streams 8 --requests 10000000 --duration-s "$BUSY_S" "$@" 2>&1 | tail -1
}
field() { echo "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"; }

# hold NAME PID PORT BUSY-ARGS...: prints one line for the server.
hold() {
	name=$1 pid=$2 pt=$3; shift 3
	busy "$pt" "$@" >/dev/null	# warm-up: first-use allocations are not the connections'
	quiet=$(busy "$pt" "$@")
	r0=$(rss_kb "$pid")
	rm -f "$work/hold.in" "$work/hold.out"; mkfifo "$work/hold.in"
	/usr/bin/python3 "$top/tests/bench/idle_conns.py" 127.0.0.1 "$pt" "$P/member.chain.pem" \
	    "$P/member.key" "$work/pki/ca/ca.pem" "$N" <"$work/hold.in" >"$work/hold.out" 2>&1 &
	hp=$!
	exec 9>"$work/hold.in"		# the holder holds until this closes
	until grep -q '^held' "$work/hold.out" 2>/dev/null; do
		kill -0 $hp 2>/dev/null || { cat "$work/hold.out"; exit 1; }
		sleep 0.5
	done
	sleep 3		# past QUIET_MS (conn.c): idle connections have let their buffers go
	r1=$(rss_kb "$pid")
	loaded=$(busy "$pt" "$@")
	r2=$(rss_kb "$pid")
	held=$(awk '/^held/ { print $2 }' "$work/hold.out")
	exec 9>&-
	wait $hp || true
	awk -v n="$name" -v h="$held" -v a="$r0" -v b="$r1" -v c="$r2" 'BEGIN {
	    printf "%-30s %5d held: RSS %.1f MiB -> %.1f MiB, %.1f KiB per idle connection (%.1f after the busy client)\n",
	        n, h, a / 1024, b / 1024, h ? (b - a) / h : 0, h ? (c - a) / h : 0 }'
	grep -v '^held' "$work/hold.out" | sed 's/^/  /' || true
	printf '  busy client alone:            p99=%s us (%s req/s)\n' "$(field "$quiet" p99_us)" "$(field "$quiet" rps)"
	printf '  busy client, %5d held:      p99=%s us (%s req/s)\n' "$held" "$(field "$loaded" p99_us)" "$(field "$loaded" rps)"
}

echo "idle connections: $N mTLS HTTP/2 connections held idle, TLS 1.3, loopback (goal: axled <= 12 KiB each)"
hold "nghttpx --verify-client" "$x_pid" "$x_port" --get /small
hold "axled" "$ax_pid" "$ax_port" --grpc /axle.v1.Node/Info

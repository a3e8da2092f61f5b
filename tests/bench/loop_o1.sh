#!/bin/sh
# tests/bench/loop_o1.sh -- `make bench`: "O(1) where the loop is". A node whose
# data directory holds BENCH_O1_MESSAGES (1,000,000) queued 1 KiB messages over
# BENCH_O1_MAILBOXES (1,000) mailboxes (filled while it is stopped by
# build/bench_fill through the switch's queue API), then: Registry.Resolve's
# p99 alone, and again while a prober times a /metrics scrape, Node.Info and
# Switch.Queues (goal: each under 10 ms, Resolve's p99 unchanged). Last, with no other
# load, axled's own CPU per /metrics scrape less its CPU per /healthz fetch over the
# same kind of new mTLS connection: the render's cost, which a loaded machine's wall
# times hide.
# Not a test: prints numbers, never fails on speed. Usage: loop_o1.sh BUILD_DIR
set -eu
B=$(cd "${1:-build}" && pwd)
top=$(cd "$(dirname "$0")/../.." && pwd)
. "$top/tests/bench/benchlib.sh"
work=$(mktemp -d "${TMPDIR:-/tmp}/axle-bench-o1.XXXXXX")
N=${BENCH_O1_MESSAGES:-1000000}; M=${BENCH_O1_MAILBOXES:-1000}; SECS=${BENCH_O1_SECONDS:-8}
pid=""
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT INT TERM

"$top/certs/axle-dev-federation" "$work/pki" fame-o1 uk.o >/dev/null
P=$work/pki/uk.o
port=$(free_port)
bench_conf "$work/axled.conf" fame-o1 uk.o "$port" data pki '[limits]' 'map_size_mb = 8192'
start() { "$B/axled" -c "$work/axled.conf" 2>>"$work/axled.log" & pid=$!; wait_port "$port" 600; }
stop() { kill "$pid"; wait "$pid" || true; pid=""; }
ctl() { "$B/axlectl" --cert "$P/admin.pem" --key "$P/admin.key" --trust "$work/pki/trust" \
    --federation fame-o1 --server "127.0.0.1:$port" "$@" >/dev/null; }

start
ctl delegate uk.o.lewisham lewisham --name Lewisham --cert axle://fame-o1/member/uk.o.lewisham.hub
ctl registrar activate lewisham --reason bench
stop
envelope_1k "$work/env.pb" uk.o.lewisham
t0=$(date +%s)
"$B/bench_fill" "$work/data" "$N" "$M" "$work/env.pb"
echo "filled in $(($(date +%s) - t0)) s; data file $(du -m "$work/data/data.mdb" | cut -f1) MiB"
t0=$(date +%s.%N)
start
awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "node start with the full store: %.1f s\n", b - a }'

mkdir -p "$work/gen"
(cd "$top" && /usr/bin/python3 -m grpc_tools.protoc -I proto --python_out="$work/gen" \
    --grpc_python_out="$work/gen" proto/axle/v1/*.proto)
/usr/bin/python3 -c 'import sys; a=b"uk.o.lewisham.social-care"; sys.stdout.buffer.write(b"\x0a"+bytes([len(a)])+a)' >"$work/resolve.pb"
resolve() { "$B/loadgen" --cert "$P/member.chain.pem" --key "$P/member.key" \
    --trust "$work/pki/trust" --federation fame-o1 --server "127.0.0.1:$port" \
    --conns 4 --streams 16 --requests 10000000 --duration-s "$SECS" \
    --grpc /axle.v1.Registry/Resolve --body-file "$work/resolve.pb"; }
resolve >/dev/null 2>&1 || true	# warm-up
alone=$(resolve || true)
resolve >"$work/busy.txt" 2>&1 & lg=$!
probe=$(/usr/bin/python3 "$top/tests/bench/loop_probe.py" "$work/gen" "$work/pki/ca/ca.pem" \
    "$P/admin.pem" "$P/admin.key" "$port" "$((SECS - 1))" 2>&1 || true)
wait "$lg" || true
busy=$(grep rps= "$work/busy.txt" || true)
printf '%-40s %s\n' "Registry.Resolve alone" "$alone" "Registry.Resolve while probed" "$busy"
awk -v a="$(field "$alone" p99_us)" -v b="$(field "$busy" p99_us)" \
    'BEGIN { if (a > 0) printf "Resolve p99 while probed / alone: %.2f  (goal <= ~1)\n", b / a }'
echo "$probe"
# axled's CPU (utime + stime ticks) over n sequential curl fetches of path.
cpu_of() {
	a=$(sed 's/.*) //' "/proc/$pid/stat" | awk '{ print $12 + $13 }')
	for _ in $(seq "$2"); do
		curl -s -o /dev/null --http2 --cert "$P/admin.pem" --key "$P/admin.key" \
		    --cacert "$work/pki/ca/ca.pem" "https://127.0.0.1:$port$1" || true
	done
	echo $(( $(sed 's/.*) //' "/proc/$pid/stat" | awk '{ print $12 + $13 }') - a ))
}
K=${BENCH_O1_SCRAPES:-200}
hz=$(cpu_of /healthz "$K"); mz=$(cpu_of /metrics "$K")
awk -v m="$mz" -v h="$hz" -v k="$K" -v t="$(getconf CLK_TCK)" 'BEGIN {
    printf "axled CPU per /metrics scrape, less a /healthz fetch (%d each, no other load): %.2f ms\n",
        k, (m - h) * 1000 / t / k }'

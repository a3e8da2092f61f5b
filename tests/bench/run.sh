#!/bin/sh
# tests/bench/run.sh -- `make bench`: axled against the reference, same run,
# same certificates, same load generator (build/loadgen, mTLS HTTP/2).
#   reference: nghttpx --verify-client (TLS 1.3, 1 worker) in front of nghttpd
#   serving a 3-byte static file; axled (1 thread) answering Node.Info and
#   Registry.Resolve (a real ResolveRequest for a delegated address).
# Then the register: in-process resolution over 1M delegations beside LMDB
# random gets (build/bench_resolve), and mirror lag between two nodes.
# Then the switch: durable Send of 1 KiB envelopes beside two references,
# nghttpx relaying the same POSTs and redis-server (appendfsync always, mTLS
# TLS 1.3) taking LPUSHes of 1 KiB values; with the writer thread's CPU per
# Send (BENCH_PERF=1: a perf profile of it too). Last, the loop with 1M
# queued messages (tests/bench/loop_o1.sh).
# Prints requests/s, p50, p99 and the ratios. Not a test: no pass/fail on
# speed. Usage: tests/bench/run.sh BUILD_DIR
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

. "$top/tests/bench/benchlib.sh"

"$top/certs/axle-dev-federation" "$work/pki" fame-bench uk.bench uk.mirror >/dev/null
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

load() {	# server path-mode path [--body-file F]
	srv=$1; shift
	"$B/loadgen" --cert "$P/member.chain.pem" --key "$P/member.key" \
	    --trust "$work/pki/trust" --federation fame-bench --server "127.0.0.1:$srv" \
	    --conns "$CONNS" --streams "$STREAMS" --requests "$REQS" --duration-s "$SECS" \
	    "$@"
}

echo "bench: machine load at start: $(uptime | sed 's/.*load average/load average/')"
if [ "${BENCH_SWITCH_ONLY:-0}" != 1 ]; then
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

# --- Registry.Resolve over the same mTLS, beside the same reference -------------
ctl() { "$B/axlectl" --cert "$P/admin.pem" --key "$P/admin.key" --trust "$work/pki/trust" \
    --federation fame-bench --server "127.0.0.1:$ax_port" "$@"; }
ctl delegate uk.bench.lewisham lewisham --name Lewisham \
    --cert axle://fame-bench/member/uk.bench.lewisham.hub >/dev/null
ctl registrar activate lewisham --reason bench >/dev/null
# ResolveRequest { address = "uk.bench.lewisham.social-care" }: field 1, length-delimited.
/usr/bin/python3 -c 'import sys; a=b"uk.bench.lewisham.social-care"; sys.stdout.buffer.write(b"\x0a"+bytes([len(a)])+a)' >"$work/resolve.pb"
load "$ax_port" --grpc /axle.v1.Registry/Resolve --body-file "$work/resolve.pb" >/dev/null 2>&1 || true
res=$(load "$ax_port" --grpc /axle.v1.Registry/Resolve --body-file "$work/resolve.pb")
printf '%-44s %s\n' "axled Registry.Resolve (gRPC, unary)" "$res"
awk -v a="$(field "$res" rps)" -v r="$rr" 'BEGIN { printf "ratio Resolve/reference (requests/s): %.2f  (goal >= 0.60)\n", a / r }'

# --- in-process resolution, beside LMDB raw random gets, same run ---------------
if [ -x "$B/bench_resolve" ]; then
	echo "in-process resolution (1 core), 1M delegations of 3-6 labels:"
	"$B/bench_resolve" "${BENCH_PREFIXES:-1000000}" "${BENCH_RESOLVE_S:-3}" | sed 's/^/  /'
fi

# --- mirror lag: node uk.mirror pulls uk.bench's feed ---------------------------
m_port=$(free_port)
mkdir -p "$work/gen"
(cd "$top" && /usr/bin/python3 -m grpc_tools.protoc -I proto --python_out="$work/gen" \
    --grpc_python_out="$work/gen" proto/axle/v1/*.proto)
LAG_MS=${BENCH_MIRROR_INTERVAL_MS:-100}
cat >"$work/mirror.conf" <<CONF
[node]
federation = fame-bench
region = uk.mirror
listen = 127.0.0.1:$m_port
data_dir = mdata
[tls]
cert = pki/uk.mirror/node.chain.pem
key = pki/uk.mirror/node.key
trust_dir = pki/trust
[log]
level = warn
[registry]
mirror_interval_ms = $LAG_MS
[peer uk.bench]
address = 127.0.0.1:$ax_port
CONF
"$B/axled" -c "$work/mirror.conf" 2>"$work/mirror.log" & pids="$pids $!"
wait_port "$m_port"
echo "mirror lag (commit on uk.bench -> visible in uk.mirror's Resolve; mirror_interval_ms=$LAG_MS):"
/usr/bin/python3 "$top/tests/bench/mirror_lag.py" "$work/gen" "$work/pki/ca/ca.pem" \
    "$P/admin.pem" "$P/admin.key" "$ax_port" "$work/pki/uk.mirror/member.pem" \
    "$work/pki/uk.mirror/member.key" "$m_port" uk.bench "${BENCH_MIRROR_CHANGES:-100}" | sed 's/^/  /'
fi

# --- switch: durable Send of 1 KiB envelopes beside nghttpx relaying the same POSTs ---
# Nodes uk.a and uk.b (peers) with registrars for their hubs. Each Send is committed
# (group commit) with its DELIVERED receipt before the node answers; nghttpx only
# relays the same gRPC-framed 1 KiB body to nghttpd and answers from memory.
"$top/certs/axle-dev-federation" "$work/swpki" fame-sw uk.a uk.b >/dev/null
S=$work/swpki
a_port=$(free_port); b_port=$(free_port)
for n in a b; do
	case $n in a) me=$a_port; o=b; op=$b_port ;; *) me=$b_port; o=a; op=$a_port ;; esac
	cat >"$work/sw$n.conf" <<CONF
[node]
federation = fame-sw
region = uk.$n
listen = 127.0.0.1:$me
data_dir = sw$n
[tls]
cert = swpki/uk.$n/node.chain.pem
key = swpki/uk.$n/node.key
trust_dir = swpki/trust
[log]
level = warn
[limits]
map_size_mb = 8192
commit_batch_max = ${BENCH_SW_BATCH:-4096}
[peer uk.$o]
address = 127.0.0.1:$op
CONF
	"$B/axled" -c "$work/sw$n.conf" 2>"$work/sw$n.log" & pids="$pids $!"
	[ $n = a ] && swa_pid=$!
done
wait_port "$a_port"; wait_port "$b_port"
swctl() { n=$1; shift; "$B/axlectl" --cert "$S/uk.$n/admin.pem" --key "$S/uk.$n/admin.key" \
    --trust "$S/trust" --federation fame-sw --server "127.0.0.1:$(eval echo \$${n}_port)" "$@"; }
for n in a b; do
	swctl $n delegate uk.$n.hub hub-$n --name "Hub $n" --cert axle://fame-sw/member/uk.$n.hub >/dev/null
	swctl $n registrar activate hub-$n --reason bench >/dev/null
done
# Envelope { message_id(16, varied per request at offset 2), sender, to, message_type,
# content_type, payload (1 KiB) }, serialized by hand.
envelope_1k "$work/send.pb" uk.a.hub
swm() { curl -s --http2 --cert "$S/uk.a/admin.pem" --key "$S/uk.a/admin.key" --cacert "$S/ca/ca.pem" \
    "https://127.0.0.1:$a_port/metrics" | awk -v k="$1" '$1 == k { print $2 }'; }
SWC=${BENCH_SW_CONNS:-16}; SWS=${BENCH_SW_STREAMS:-32}; SWSECS=${BENCH_SW_SECONDS:-6}
swload() {	# cert-dir trust fed port args...
	c=$1 t=$2 fd=$3 pt=$4; shift 4
	"$B/loadgen" --cert "$c/member.chain.pem" --key "$c/member.key" --trust "$t" \
	    --federation "$fd" --server "127.0.0.1:$pt" --conns "$SWC" --streams "$SWS" \
	    --requests 2000000 --duration-s "$SWSECS" --body-file "$work/send.pb" "$@"
}
echo "switch: durable Send, 1 KiB envelopes, $SWC connections x $SWS streams, ${SWSECS}s"
# nghttpd answers with one empty gRPC message (5 zero bytes): a well-formed body.
printf '\000\000\000\000\000' >"$work/www/grpc0"
swload "$P" "$work/pki/trust" fame-bench "$x_port" --post /grpc0 >/dev/null 2>&1 || true
swload "$S/uk.a" "$S/trust" fame-sw "$a_port" --grpc /axle.v1.Switch/Send --vary-id 2 >/dev/null 2>&1 || true
# The store writer's CPU ticks (utime + stime, /proc/PID/task/TID/stat).
writer_ticks() {
	for t in /proc/"$1"/task/*; do
		[ "$(cat "$t/comm" 2>/dev/null)" = axle-writer ] || continue
		sed 's/.*) //' "$t/stat" | awk '{ print $12 + $13 }'
		return
	done
	echo 0
}
writer_tid() { for t in /proc/"$1"/task/*; do [ "$(cat "$t/comm")" = axle-writer ] && basename "$t"; done; }
sref=$(swload "$P" "$work/pki/trust" fame-bench "$x_port" --post /grpc0 || true)
c0=$(swm axle_store_commits_total); r0=$(swm axle_store_requests_total)
t0=$(swm axle_store_commit_seconds_total); w0=$(writer_ticks "$swa_pid")
if [ "${BENCH_PERF:-0}" = 1 ]; then
	perf record -q -g -o "$work/writer.perf" -t "$(writer_tid "$swa_pid")" -- sleep "$SWSECS" \
	    >/dev/null 2>&1 & perf_pid=$!
fi
ssend=$(swload "$S/uk.a" "$S/trust" fame-sw "$a_port" --grpc /axle.v1.Switch/Send --vary-id 2 || true)
c1=$(swm axle_store_commits_total); r1=$(swm axle_store_requests_total)
t1=$(swm axle_store_commit_seconds_total); w1=$(writer_ticks "$swa_pid")
printf '%-44s %s\n' "reference nghttpx relaying 1 KiB POSTs" "$sref"
printf '%-44s %s\n' "axled Switch.Send (durable, group commit)" "$ssend"
awk -v a="$(field "$ssend" rps)" -v r="$(field "$sref" rps)" \
    'BEGIN { printf "ratio Send/nghttpx relay (requests/s): %.2f  (goal >= 1.0)\n", a / r }'
awk -v c="$((c1 - c0))" -v r="$((r1 - r0))" -v m="$(swm axle_store_batch_max)" \
    -v t="$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')" \
    'BEGIN { printf "group commit: %d commits for %d writes, %.1f writes per commit (max batch %s), %.1f ms per commit (fsync)\n", c, r, c ? r / c : 0, m, c ? t * 1000 / c : 0 }'
awk -v w="$((w1 - w0))" -v hz="$(getconf CLK_TCK)" -v r="$((r1 - r0))" \
    'BEGIN { printf "writer thread CPU: %.2f s, %.1f us per Send  (goal < 15)\n", w / hz, r ? w / hz * 1e6 / r : 0 }'
if [ -n "${perf_pid:-}" ]; then
	wait "$perf_pid" || true
	echo "perf profile of the writer thread (self time, top 25):"
	perf report -i "$work/writer.perf" --stdio --no-children -g none --percent-limit 1 \
	    --sort dso,symbol 2>/dev/null | grep -v '^#' | grep '%' | head -25 | sed 's/^/  /'
fi

# --- redis-server, fsync-always AOF, mutual TLS 1.3: LPUSH of 1 KiB values ------
# The durable reference: each write is in the append-only file, fsynced, before
# the reply. redis-benchmark at 16 connections x 32 pipelined, same certificates.
if command -v redis-server >/dev/null && command -v redis-benchmark >/dev/null; then
	r_port=$(free_port); mkdir -p "$work/redis"
	cat >"$work/redis.conf" <<CONF
port 0
bind 127.0.0.1
tls-port $r_port
tls-cert-file $P/node.chain.pem
tls-key-file $P/node.key
tls-ca-cert-file $work/pki/ca/ca.pem
tls-auth-clients yes
tls-protocols "TLSv1.3"
appendonly yes
appendfsync always
auto-aof-rewrite-percentage 0
save ""
dir $work/redis
CONF
	redis-server "$work/redis.conf" >"$work/redis.log" 2>&1 & pids="$pids $!"
	wait_port "$r_port"
	rb() { timeout 120 redis-benchmark --tls --cacert "$work/pki/ca/ca.pem" \
	    --cert "$P/member.chain.pem" --key "$P/member.key" -h 127.0.0.1 -p "$r_port" \
	    -c "${BENCH_REDIS_CONNS:-16}" -P "${BENCH_REDIS_PIPELINE:-32}" -d 1024 -t lpush --csv "$@"; }
	rb -n 20000 >/dev/null 2>&1 || true	# warm-up
	red=$(rb -n "${BENCH_REDIS_REQUESTS:-120000}" 2>/dev/null | tr -d '"' | awk -F, '$1 == "LPUSH" { printf "rps=%.0f p50_ms=%s p99_ms=%s", $2, $5, $7 }')
	printf '%-44s %s\n' "reference redis LPUSH (appendfsync always)" "${red:-failed (see redis.log)}"
	[ -n "$red" ] && awk -v a="$(field "$ssend" rps)" -v r="$(field "$red" rps)" \
	    'BEGIN { printf "ratio Send/redis fsync-always LPUSH (requests/s): %.2f  (goal >= 1.0)\n", a / r }'
else
	echo "reference redis LPUSH: skipped (redis-server/redis-benchmark missing: sh .ci/deps.sh)"
fi
echo "bench: machine load at end: $(uptime | sed 's/.*load average/load average/')"
echo "switch: one message at a time, hub -> uk.a -> uk.b -> mailbox (fetcher long-polling at uk.b):"
mkdir -p "$work/swgen"
(cd "$top" && /usr/bin/python3 -m grpc_tools.protoc -I proto --python_out="$work/swgen" \
    --grpc_python_out="$work/swgen" proto/axle/v1/*.proto)
/usr/bin/python3 "$top/tests/bench/switch_latency.py" "$work/swgen" "$S/ca/ca.pem" \
    "$S/uk.a/member.chain.pem" "$S/uk.a/member.key" "$a_port" uk.a.hub \
    "$S/uk.b/member.chain.pem" "$S/uk.b/member.key" "$b_port" uk.b.hub "${BENCH_SW_LATENCY_N:-300}" | sed 's/^/  /'

# --- "O(1) where the loop is": summaries of 1M queued messages beside Resolve ------
if [ "${BENCH_O1:-1}" != 0 ]; then
	echo "loop with a full store (BENCH_O1_MESSAGES=${BENCH_O1_MESSAGES:-1000000} over ${BENCH_O1_MAILBOXES:-1000} mailboxes; BENCH_O1=0 skips):"
	sh "$top/tests/bench/loop_o1.sh" "$B" | sed 's/^/  /'
fi

# --- idle mTLS HTTP/2 connections held, axled beside nghttpx (its own script) ---
sh "$top/tests/bench/idle_conns.sh" "$B"

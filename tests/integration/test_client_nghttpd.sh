#!/bin/sh
# tests/integration/test_client_nghttpd.sh -- axlectl and loadgen (gateway/net/client.c) against
# the reference nghttpd, and nghttpx --verify-client in front of it, on 127.0.0.1.
# Usage: sh tests/integration/test_client_nghttpd.sh (AXLE_BUILD, AXLE_TOP as set by tests/run.sh).
set -u
top=${AXLE_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
B=${AXLE_BUILD:-$top/build}
PY=/usr/bin/python3
tmp=$(mktemp -d "${TMPDIR:-/tmp}/axle-test-client.XXXXXX") || exit 1
pids=""
cleanup() {
	for p in $pids; do kill "$p" 2>/dev/null; done
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' HUP INT TERM
pass=0
fail=0

ok() { pass=$((pass + 1)); echo "ok   $*"; }
bad() { fail=$((fail + 1)); echo "FAIL $*"; }
show() { sed 's/^/       | /' "$tmp/out"; }

for t in nghttpd nghttpx; do
	command -v $t >/dev/null || { echo "FAIL $t not installed (sh .ci/deps.sh)"; exit 1; }
done
[ -x "$B/axlectl" ] && [ -x "$B/loadgen" ] || { echo "FAIL build $B/axlectl and $B/loadgen first"; exit 1; }

free_port() {
	$PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

wait_port() {	# port: until something accepts on it (5 s at most)
	$PY - "$1" <<'EOF'
import socket, sys, time
end = time.time() + 5
while time.time() < end:
    try:
        socket.create_connection(("127.0.0.1", int(sys.argv[1])), 0.2).close()
        sys.exit(0)
    except OSError:
        time.sleep(0.05)
sys.exit(1)
EOF
}

expect() {	# description want-rc pattern command...: exit status want-rc, output matches
	d=$1 want=$2 pat=$3; shift 3
	"$@" >"$tmp/out" 2>&1
	rc=$?
	if [ "$rc" -ne "$want" ]; then
		bad "$d (exit $rc, want $want)"; show
	elif ! grep -q -- "$pat" "$tmp/out"; then
		bad "$d (no '$pat')"; show
	else
		ok "$d"
	fi
}

# A loadgen line: field must equal value.
field() { sed -n "s/.*\\b$1=\\([^ ]*\\).*/\\1/p" "$tmp/out" | head -n 1; }

# --- PKI and servers ------------------------------------------------------
sh "$top/certs/axle-dev-federation" "$tmp/fed" fame-test uk.test >/dev/null 2>&1 ||
	{ echo "FAIL axle-dev-federation"; exit 1; }
F=$tmp/fed
mkdir -p "$tmp/www"
printf 'ok\n' >"$tmp/www/healthz"
echo hello >"$tmp/www/index.html"
head -c 300000 /dev/urandom >"$tmp/www/big.bin"
mkdir -p "$tmp/www-sick" "$tmp/www-empty"	# nghttpd caches files: one docroot each
printf 'degraded: store\n' >"$tmp/www-sick/healthz"

P1=$(free_port); P2=$(free_port); P3=$(free_port); P4=$(free_port); P5=$(free_port)
P6=$(free_port); PDEAD=$(free_port)
nghttpd -d "$tmp/www" --address=127.0.0.1 "$P1" "$F/uk.test/node.key" \
    "$F/uk.test/node.chain.pem" >"$tmp/nghttpd.log" 2>&1 &
pids="$pids $!"
nghttpd -d "$tmp/www" --address=127.0.0.1 "$P4" "$F/uk.test/member.key" \
    "$F/uk.test/member.chain.pem" >"$tmp/nghttpd4.log" 2>&1 &
pids="$pids $!"
nghttpd -d "$tmp/www-sick" --address=127.0.0.1 "$P5" "$F/uk.test/node.key" \
    "$F/uk.test/node.chain.pem" >"$tmp/nghttpd5.log" 2>&1 &
pids="$pids $!"
nghttpd -d "$tmp/www-empty" --address=127.0.0.1 "$P6" "$F/uk.test/node.key" \
    "$F/uk.test/node.chain.pem" >"$tmp/nghttpd6.log" 2>&1 &
pids="$pids $!"
nghttpd -d "$tmp/www" --address=127.0.0.1 --no-tls "$P2" >"$tmp/nghttpd2.log" 2>&1 &
pids="$pids $!"
nghttpx --conf=/dev/null --single-process -f"127.0.0.1,$P3" -b"127.0.0.1,$P2;;proto=h2" \
    --verify-client --verify-client-cacert="$F/ca/ca.pem" --no-ocsp \
    --errorlog-file="$tmp/nghttpx.log" --accesslog-file=/dev/null \
    "$F/uk.test/node.key" "$F/uk.test/node.chain.pem" 2>>"$tmp/nghttpx.log" &
pids="$pids $!"
for p in $P1 $P2 $P3 $P4 $P5 $P6; do
	wait_port "$p" || { echo "FAIL server on $p did not start"; cat "$tmp"/*.log; exit 1; }
done

ID="--cert $F/uk.test/admin.chain.pem --key $F/uk.test/admin.key --trust $F/trust --federation fame-test"
CTL="${AXLE_WRAP:-} $B/axlectl $ID"	# AXLE_WRAP: valgrind (make valgrind)
LG="$B/loadgen $ID"

# --- axlectl ----------------------------------------------------------------
expect "health against nghttpd: ok" 0 '^ok$' $CTL --server "127.0.0.1:$P1" health
expect "health by name (localhost, SNI + DNS SAN)" 0 '^ok$' $CTL --server "localhost:$P1" health
expect "health --json" 0 '"ok": true' $CTL --json --server "127.0.0.1:$P1" health
expect "health not ok: exit 1 with the body" 1 'axlectl: health: HTTP 200: degraded: store' \
    $CTL --server "127.0.0.1:$P5" health
expect "health 404: exit 1" 1 'axlectl: health: HTTP 404' $CTL --server "127.0.0.1:$P6" health
expect "info on a non-gRPC server: 404 maps to UNIMPLEMENTED" 1 \
    'axlectl: info: UNIMPLEMENTED: HTTP status 404' $CTL --server "127.0.0.1:$P1" info
expect "connection refused: UNAVAILABLE" 1 'axlectl: health: UNAVAILABLE: connect to .*refused' \
    $CTL --server "127.0.0.1:$PDEAD" health
expect "server of another federation refused" 1 'UNAVAILABLE: TLS handshake' \
    $B/axlectl --cert "$F/uk.test/admin.chain.pem" --key "$F/uk.test/admin.key" \
    --trust "$F/trust" --federation fame-other --server "127.0.0.1:$P1" health
expect "server with a member certificate refused" 1 'UNAVAILABLE: TLS handshake.*server certificate' \
    $CTL --server "127.0.0.1:$P4" health
expect "server without TLS: UNAVAILABLE" 1 'axlectl: health: UNAVAILABLE' \
    $CTL --server "127.0.0.1:$P2" health
expect "health via nghttpx --verify-client" 0 '^ok$' $CTL --server "127.0.0.1:$P3" health
expect "settings from AXLE_* variables" 0 '^ok$' env AXLE_CERT="$F/uk.test/admin.chain.pem" \
    AXLE_KEY="$F/uk.test/admin.key" AXLE_TRUST="$F/trust" AXLE_FEDERATION=fame-test \
    AXLE_SERVER="127.0.0.1:$P1" "$B/axlectl" health
cat >"$F/axlectl.conf" <<EOF
[axlectl]
cert = uk.test/admin.chain.pem
key = uk.test/admin.key
trust = trust
federation = fame-test
server = 127.0.0.1:$P1
EOF
expect "settings from -c (paths relative to the file)" 0 '^ok$' "$B/axlectl" -c "$F/axlectl.conf" health
expect "flags win over the config file" 1 'refused' "$B/axlectl" -c "$F/axlectl.conf" \
    --server "127.0.0.1:$PDEAD" health
expect "no command: usage, exit 2" 2 'usage:' $CTL
expect "unknown command: exit 2" 2 "unknown command 'frobnicate'" $CTL frobnicate
expect "help lists the table" 0 'health' "$B/axlectl" help
expect "missing identity: exit 2" 2 'need --cert' env -u AXLE_CERT "$B/axlectl" health

# --- loadgen ---------------------------------------------------------------
lg_check() {	# description want-requests want-ok loadgen-args...
	d=$1 wr=$2 wo=$3; shift 3
	$LG "$@" >"$tmp/out" 2>&1
	rc=$?
	r=$(field requests); o=$(field ok); e=$(field errors)
	if ! grep -q '^requests=[0-9]* ok=[0-9]* errors=[0-9]* seconds=[0-9.]* rps=[0-9.]* p50_us=[0-9]* p99_us=[0-9]*$' "$tmp/out"; then
		bad "$d (no result line)"; show
	elif [ "$r" != "$wr" ] || [ "$o" != "$wo" ]; then
		bad "$d (requests=$r ok=$o, want $wr/$wo)"; show
	elif [ "$wr" = "$wo" ] && [ "$rc" -ne 0 ]; then
		bad "$d (exit $rc)"; show
	else
		ok "$d: $(grep '^requests=' "$tmp/out")"
	fi
}
lg_check "loadgen GET nghttpd, 2 conns x 8 streams" 2000 2000 --server "127.0.0.1:$P1" \
    --conns 2 --streams 8 --requests 2000 --duration-s 20 --get /index.html
lg_check "loadgen GET 300 kB bodies (flow control)" 100 100 --server "127.0.0.1:$P1" \
    --conns 1 --streams 4 --requests 100 --duration-s 20 --get /big.bin
lg_check "loadgen GET via nghttpx --verify-client" 2000 2000 --server "127.0.0.1:$P3" \
    --conns 4 --streams 16 --requests 2000 --duration-s 20 --get /index.html
lg_check "loadgen --grpc on a non-gRPC server: all errors" 50 0 --server "127.0.0.1:$P1" \
    --conns 1 --streams 5 --requests 50 --duration-s 20 --grpc /axle.v1.Node/Info
lg_check "loadgen against a closed port: all errors, no hang" 40 0 --server "127.0.0.1:$PDEAD" \
    --conns 2 --streams 2 --requests 40 --duration-s 20 --get /index.html

# The duration bound: many more requests than fit in one second.
start=$(date +%s)
$LG --server "127.0.0.1:$P1" --conns 1 --streams 4 --requests 5000000 --duration-s 1 \
    --get /index.html >"$tmp/out" 2>&1
took=$(( $(date +%s) - start )); r=$(field requests); s=$(field seconds)
if [ -n "$r" ] && [ "$r" -lt 5000000 ] && [ "$r" -gt 0 ] && [ "$took" -le 4 ] &&
    [ "$(field errors)" = 0 ]; then
	ok "loadgen stops at --duration-s ($r requests in ${s}s)"
else
	bad "loadgen duration bound (took ${took}s)"; show
fi
expect "loadgen usage: exit 2" 2 'usage: loadgen' $LG --server "127.0.0.1:$P1"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]

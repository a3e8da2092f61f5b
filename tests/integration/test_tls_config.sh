#!/bin/sh
# tests/integration/test_tls_config.sh -- openssl s_client probes of a real axled's TLS
# configuration: TLS 1.3 only by default; with allow_tls12 only ECDHE+AEAD 1.2 suites;
# ALPN h2 only; no renegotiation; no session tickets.
# Usage: sh tests/integration/test_tls_config.sh (AXLE_BUILD, AXLE_TOP as set by tests/run.sh).
set -u
top=${AXLE_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
B=${AXLE_BUILD:-$top/build}
PY=/usr/bin/python3
tmp=$(mktemp -d "${TMPDIR:-/tmp}/axle-test-tls.XXXXXX") || exit 1
pid=""
cleanup() {
	[ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null	# a wrapped axled's last words
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' HUP INT TERM
pass=0
fail=0
ok() { pass=$((pass + 1)); echo "ok   $*"; }
bad() { fail=$((fail + 1)); echo "FAIL $*"; sed 's/^/       | /' "$tmp/out" | tail -15; }

command -v openssl >/dev/null || { echo "FAIL openssl not installed"; exit 1; }
[ -x "$B/axled" ] || { echo "FAIL build $B/axled first"; exit 1; }

pki=$tmp/pki
"$top/certs/axle-dev-federation" "$pki" fame-test uk.test >"$tmp/out" 2>&1 ||
	{ echo "FAIL axle-dev-federation"; cat "$tmp/out"; exit 1; }
port=$($PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
M=$pki/uk.test

start_node() {	# tls12 (yes|no): starts axled, waits for event=listening (10 s)
	[ -n "$pid" ] && { kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; pid=""; }
	cat >"$tmp/axled.conf" <<EOF
[node]
federation = fame-test
region = uk.test
listen = 127.0.0.1:$port
data_dir = $tmp/data

[tls]
cert = $M/node.chain.pem
key = $M/node.key
trust_dir = $pki/trust
allow_tls12 = $1
EOF
	mkdir -p "$tmp/data"
	: >"$tmp/axled.log"
	# AXLE_WRAP (valgrind, as tests/run.sh's axletest.py hook) prefixes axled's
	# argv; AXLE_TIME_SCALE stretches the 10 s start-up wait to match.
	${AXLE_WRAP:-} "$B/axled" -c "$tmp/axled.conf" >"$tmp/axled.log" 2>&1 &
	pid=$!
	i=0
	while ! grep -q 'event=listening' "$tmp/axled.log"; do
		i=$((i + 1))
		if [ $i -gt $((100 * ${AXLE_TIME_SCALE:-1})) ] || ! kill -0 "$pid" 2>/dev/null; then
			echo "FAIL axled did not start (allow_tls12 = $1)"; tail "$tmp/axled.log"; exit 1
		fi
		sleep 0.1
	done
}

probe() {	# s_client options...: output in $tmp/out, returns s_client's status
	echo Q | timeout 10 openssl s_client -connect 127.0.0.1:$port -servername localhost \
	    -CAfile "$pki/ca/ca.pem" -cert "$M/member.pem" -key "$M/member.key" \
	    -verify_return_error "$@" >"$tmp/out" 2>&1
}

# A completed handshake prints the negotiated protocol and a real cipher.
handshake_ok() {
	grep -Eq '^ *Protocol *: TLSv1\.[23]|^New, TLSv1\.[23]' "$tmp/out" &&
	    ! grep -Eq 'Cipher is \(NONE\)|Cipher *: 0000' "$tmp/out"
}

check_tls() {	# label, expect (ok|refused), s_client options...
	label=$1; want=$2; shift 2
	probe "$@"
	if handshake_ok; then got=ok; else got=refused; fi
	if [ "$got" = "$want" ]; then ok "$label: $got"; else bad "$label: got $got, want $want"; fi
}

start_node no
check_tls "TLS 1.3" ok -tls1_3 -alpn h2
grep -q 'ALPN protocol: h2' "$tmp/out" && ok "ALPN h2 selected" || bad "ALPN h2 not selected"
check_tls "TLS 1.2 with allow_tls12 off" refused -tls1_2 -alpn h2
check_tls "ALPN http/1.1 only" refused -tls1_3 -alpn http/1.1
# Without ALPN the handshake may complete but nothing is selected; the node then
# closes before serving (tls.c gw_tls_identity; test_mtls.py no_alpn_refused).
probe -tls1_3
grep -q 'No ALPN negotiated' "$tmp/out" && ok "no ALPN: nothing selected" || bad "no ALPN: a protocol was selected"

# No session ticket: the node sets num_tickets 0 and SSL_OP_NO_TICKET.
rm -f "$tmp/sess"
probe -tls1_3 -alpn h2 -sess_out "$tmp/sess"
if handshake_ok && ! grep -q 'TLS session ticket' "$tmp/out" &&
    { [ ! -s "$tmp/sess" ] ||
      ! openssl sess_id -in "$tmp/sess" -noout -text 2>/dev/null | grep -q 'TLS session ticket'; }; then
	ok "TLS 1.3: no session ticket issued"
else
	bad "TLS 1.3: a session ticket was issued (or the handshake failed)"
fi
kill -0 "$pid" 2>/dev/null && ok "axled alive after TLS 1.3 probes" || bad "axled died"

start_node yes
check_tls "TLS 1.3 with allow_tls12" ok -tls1_3 -alpn h2
check_tls "TLS 1.2 ECDHE AEAD" ok -tls1_2 -alpn h2 -cipher 'ECDHE+AESGCM:ECDHE+CHACHA20'
grep -Eq 'Cipher is ECDHE-(ECDSA|RSA)-(AES(128|256)-GCM|CHACHA20)' "$tmp/out" &&
	ok "TLS 1.2 negotiated an ECDHE AEAD suite" || bad "TLS 1.2 suite is not ECDHE AEAD"
check_tls "TLS 1.2 CBC suites" refused -tls1_2 -alpn h2 \
	-cipher 'ECDHE-ECDSA-AES128-SHA:ECDHE-RSA-AES128-SHA:ECDHE-ECDSA-AES256-SHA384:ECDHE-RSA-AES256-SHA384:AES128-SHA:AES256-SHA'
check_tls "TLS 1.2 static RSA AEAD (no forward secrecy)" refused -tls1_2 -alpn h2 \
	-cipher 'AES128-GCM-SHA256:AES256-GCM-SHA384'
check_tls "TLS 1.2 ALPN http/1.1" refused -tls1_2 -alpn http/1.1
rm -f "$tmp/sess"
probe -tls1_2 -alpn h2 -sess_out "$tmp/sess"
if handshake_ok && ! grep -q 'TLS session ticket' "$tmp/out" &&
    { [ ! -s "$tmp/sess" ] ||
      ! openssl sess_id -in "$tmp/sess" -noout -text 2>/dev/null | grep -q 'TLS session ticket'; }; then
	ok "TLS 1.2: no session ticket issued"
else
	bad "TLS 1.2: a session ticket was issued (or the handshake failed)"
fi

# Renegotiation: s_client sends a renegotiation request on "R"; the node must
# refuse it (no_renegotiation alert or close) — never complete a second handshake.
(echo R; sleep 1; echo Q) | timeout 10 openssl s_client -connect 127.0.0.1:$port \
    -servername localhost -CAfile "$pki/ca/ca.pem" -cert "$M/member.pem" -key "$M/member.key" \
    -tls1_2 -alpn h2 >"$tmp/out" 2>&1
# The connection fails right after the request (a no_renegotiation alert, or the
# node's h2 frames arriving where s_client expected a ServerHello): an error
# line follows RENEGOTIATING and no second certificate verification does.
after=$(sed -n '/RENEGOTIATING/,$p' "$tmp/out" | tr -d '\000')
if [ -n "$after" ] && printf '%s\n' "$after" | grep -q 'error:' &&
    ! printf '%s\n' "$after" | grep -q 'verify return'; then
	ok "renegotiation refused"
else
	bad "renegotiation was not refused"
fi
kill -0 "$pid" 2>/dev/null && ok "axled alive after TLS 1.2 probes" || bad "axled died"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]

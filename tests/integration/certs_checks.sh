# tests/integration/certs_checks.sh -- the checks and certificate predicates of the
# PKI tests (sourced by test_certs.sh and test_pki_lifecycle.sh after they set
# $tmp, a scratch folder). Counts into $pass and $fail.
# shellcheck shell=sh

pass=0
fail=0

ok() { pass=$((pass + 1)); echo "ok   $*"; }
bad() { fail=$((fail + 1)); echo "FAIL $*"; }
show() { sed 's/^/       | /' "$tmp/out"; }

check() {	# description command...: the command must succeed
	d=$1; shift
	if "$@" >"$tmp/out" 2>&1; then ok "$d"; else bad "$d"; show; fi
}

refuse() {	# description command...: must fail, and say why on stderr
	d=$1; shift
	if "$@" >/dev/null 2>"$tmp/out"; then
		bad "$d (accepted)"
	elif [ ! -s "$tmp/out" ]; then
		bad "$d (failed without a message)"
	else
		ok "$d: $(head -n 1 "$tmp/out")"
	fi
}

fails_with() {	# description pattern command...: fails, output matches pattern
	d=$1 pat=$2; shift 2
	if "$@" >"$tmp/out" 2>&1; then
		bad "$d (succeeded)"
	elif grep -q "$pat" "$tmp/out"; then
		ok "$d"
	else
		bad "$d (no '$pat')"; show
	fi
}

# --- predicates over certificates and keys --------------------------------

# openssl x509 costs ~50 ms a run: each certificate is dumped once, keyed by
# its content (files are replaced under the same name by --force).
info() {	# cert: its text, public key and fingerprint
	k=$tmp/info/$(cksum <"$1" | tr ' ' _)
	if [ ! -f "$k" ]; then
		mkdir -p "$tmp/info"
		openssl x509 -in "$1" -noout -text -pubkey -fingerprint -sha256 \
		    >"$k" || return 1
	fi
	cat "$k"
}

ext() {	# cert extension-title: the line after the title
	info "$1" | sed -n "/X509v3 $2:/{n;p;}"
}

uris() {	# cert: its SAN URIs, one a line
	ext "$1" 'Subject Alternative Name' | tr ',' '\n' | sed -n 's/^ *URI://p'
}

uri_count_is() {	# cert n
	[ "$(uris "$1" | wc -l | tr -d ' ')" = "$2" ] ||
	    { echo "URIs of $1:"; uris "$1"; return 1; }
}

one_uri_is() {	# cert uri
	if ! uri_count_is "$1" 1 || [ "$(uris "$1")" != "$2" ]; then
		echo "want $2, got: $(uris "$1")"
		return 1
	fi
}

bc_is() {	# cert CA:FALSE|CA:TRUE: critical basicConstraints with that value
	info "$1" | grep -q 'X509v3 Basic Constraints: critical' &&
	    ext "$1" 'Basic Constraints' | grep -q "$2"
}

mode_600() {
	# shellcheck disable=SC2012 # ls -l is the portable way to read a mode
	[ "$(ls -l "$1" | cut -c1-10)" = "-rw-------" ] || { ls -l "$1"; return 1; }
}

p256_matching() {	# key cert: the key is the cert's key, which is P-256
	openssl pkey -in "$1" -pubout -out "$tmp/pub.pem" 2>/dev/null &&
	    info "$2" | grep -q 'NIST CURVE: P-256' &&
	    info "$2" | sed -n '/BEGIN PUBLIC KEY/,/END PUBLIC KEY/p' |
	    cmp -s - "$tmp/pub.pem"
}

eku_is() {	# cert server|client
	ext "$1" 'Extended Key Usage' >"$tmp/eku" || return 1
	grep -q 'TLS Web Client Authentication' "$tmp/eku" || return 1
	if [ "$2" = server ]; then
		grep -q 'TLS Web Server Authentication' "$tmp/eku"
	else
		! grep -q 'TLS Web Server Authentication' "$tmp/eku"
	fi
}

node_names() {	# cert: DNS:localhost, 127.0.0.1, ::1 beside the URI
	ext "$1" 'Subject Alternative Name' >"$tmp/san" &&
	    grep -q 'DNS:localhost' "$tmp/san" &&
	    grep -q 'IP Address:127.0.0.1' "$tmp/san" &&
	    grep -q 'IP Address:0:0:0:0:0:0:0:1' "$tmp/san"
}

fingerprint() { info "$1" | grep 'Fingerprint='; }

chain_ok() {	# chain leaf ca: the chain is leaf then CA
	[ "$(grep -c 'BEGIN CERTIFICATE' "$1")" = 2 ] &&
	    sed '/END CERTIFICATE/q' "$1" | cmp -s - "$2" &&
	    sed '1,/END CERTIFICATE/d' "$1" | cmp -s - "$3"
}

empty_dir() { [ -z "$(ls -A "$1" 2>/dev/null)" ]; }

verify() { openssl verify -CAfile "$1" "$2"; }
verify_crl() { openssl verify -crl_check -CAfile "$1" -CRLfile "$2" "$3"; }
verify_path() { openssl verify -crl_check -CApath "$1" "$2"; }

# certs/lib.sh -- shared helpers of the axle PKI commands (sourced, never run).
# shellcheck shell=sh
#
# Every command sources this after `set -eu` and defines usage() first.
# Conventions: exit 2 for bad usage, 1 for any other failure; messages go to
# stderr prefixed with the command name; openssl's chatter is kept in a log
# that is shown only when openssl fails. No function here ever prints a key.

axle_prog=${0##*/}
axle_tmp=
axle_locked=

axle_die() {	# message...: print and exit 1
	printf '%s: %s\n' "$axle_prog" "$*" >&2
	exit 1
}

axle_usage_die() {	# message...: print with the synopsis, exit 2
	printf '%s: %s\n' "$axle_prog" "$*" >&2
	usage | sed -n 1p >&2
	printf '(%s -h for help)\n' "$axle_prog" >&2
	exit 2
}

axle_cleanup() {
	if [ -n "$axle_locked" ]; then rmdir "$axle_locked" 2>/dev/null || :; fi
	if [ -n "$axle_tmp" ]; then rm -rf "$axle_tmp"; fi
}

# A private scratch folder, removed on exit however we leave.
axle_tmp_init() {
	axle_tmp=$(mktemp -d "${TMPDIR:-/tmp}/axle-certs.XXXXXX") ||
	    axle_die "cannot create a temporary folder"
	trap axle_cleanup EXIT
	trap 'exit 1' HUP INT TERM
}

axle_need_value() {	# option, remaining-arg-count: options take one value
	[ "$2" -ge 2 ] || axle_usage_die "option $1 needs a value"
}

axle_lower() {
	printf '%s' "$1" | tr '[:upper:]' '[:lower:]'
}

# docs/design.md "Addresses": a label is 1-63 of [a-z0-9-], not starting or
# ending with '-'.
axle_is_label() {
	case $1 in
	'' | -* | *- | *[!a-z0-9-]*) return 1 ;;
	esac
	[ "${#1}" -le 63 ]
}

# An address is labels separated by dots, at most 253 bytes.
axle_is_address() {
	case $1 in
	'' | .* | *. | *..* | *[!a-z0-9.-]*) return 1 ;;
	esac
	[ "${#1}" -le 253 ] || return 1
	axle_rest=$1
	while :; do
		axle_is_label "${axle_rest%%.*}" || return 1
		case $axle_rest in
		*.*) axle_rest=${axle_rest#*.} ;;
		*) return 0 ;;
		esac
	done
}

# An admin's user name: the last URI path segment, so no '/' and nothing
# that needs escaping in a URI or an openssl config.
axle_is_user() {
	case $1 in
	'' | [!a-z0-9]* | *[!a-z0-9._-]*) return 1 ;;
	esac
	[ "${#1}" -le 64 ]
}

axle_is_uint() {	# a positive decimal count (days), no leading zero
	case $1 in
	'' | 0* | *[!0-9]*) return 1 ;;
	esac
	[ "${#1}" -le 6 ]
}

# openssl ca -startdate/-enddate: YYMMDDHHMMSSZ or YYYYMMDDHHMMSSZ.
axle_is_time() {
	case $1 in
	[0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9]Z) return 0 ;;
	[0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9]Z) return 0 ;;
	esac
	return 1
}

axle_time14() {	# time checked by axle_is_time: prints YYYYMMDDHHMMSS
	axle_v=${1%Z}
	if [ "${#axle_v}" = 12 ]; then	# UTCTime: RFC 5280 4.1.2.5.1
		case $axle_v in
		[0-4]*) axle_v=20$axle_v ;;
		*) axle_v=19$axle_v ;;
		esac
	fi
	printf '%s\n' "$axle_v"
}

# Values we write into an openssl config: refuse '$' (variable expansion),
# '#' (comment), ',', quotes, backslashes, blanks and control characters.
axle_is_conf_safe() {
	case $1 in
	'' | *[!A-Za-z0-9._~:/?@!\&\(\)*+=%-]*) return 1 ;;
	esac
	return 0
}

axle_federation_arg() {	# raw: prints the case-folded federation or dies
	axle_v=$(axle_lower "$1")
	axle_is_label "$axle_v" || axle_die "bad federation '$1': one label of" \
	    "1-63 [a-z0-9-], not starting or ending with '-'"
	printf '%s\n' "$axle_v"
}

axle_address_arg() {	# raw: prints the case-folded address or dies
	axle_v=$(axle_lower "$1")
	axle_is_address "$axle_v" || axle_die "bad address '$1': dot-separated" \
	    "labels of 1-63 [a-z0-9-] (not starting or ending with '-')," \
	    "at most 253 bytes"
	printf '%s\n' "$axle_v"
}

axle_days_arg() {	# raw, what: prints the count or dies
	axle_is_uint "$1" || axle_usage_die "bad $2 '$1': a positive number of days"
	printf '%s\n' "$1"
}

# Runs openssl with its output kept aside; on failure shows it and dies.
axle_ssl() {
	if ! openssl "$@" >"$axle_tmp/openssl.log" 2>&1; then
		sed 's/^/    /' "$axle_tmp/openssl.log" >&2
		axle_die "openssl $1 failed"
	fi
}

# A new ECDSA P-256 key at path, mode 0600 from birth (umask 077).
axle_genkey() {
	rm -f "$1"
	(umask 077 && axle_ssl genpkey -algorithm EC \
	    -pkeyopt ec_paramgen_curve:P-256 \
	    -pkeyopt ec_param_enc:named_curve -out "$1")
	chmod 600 "$1"
}

# Checks a certificate request before a CA signs its key: PEM or DER, its
# signature (proof that the requester holds the key) and an ECDSA P-256 key,
# the federation's only key type. Writes it as PEM to out.
axle_csr_check() {	# request, out
	if ! openssl req -in "$1" -noout >/dev/null 2>&1 &&
	    ! openssl req -in "$1" -inform DER -noout >/dev/null 2>&1; then
		axle_die "$1 is not a certificate request (PEM or DER)"
	fi
	axle_f=PEM
	openssl req -in "$1" -noout >/dev/null 2>&1 || axle_f=DER
	axle_ssl req -in "$1" -inform "$axle_f" -out "$2"
	openssl req -in "$2" -noout -verify >/dev/null 2>&1 ||
	    axle_die "$1: the request's signature does not verify (altered," \
	    "or not signed by its own key)"
	openssl req -in "$2" -noout -text 2>/dev/null |
	    grep -q 'NIST CURVE: P-256' ||
	    axle_die "$1: the key is not ECDSA P-256 (make the request with" \
	    "axle-cert-request)"
}

# Reads the identity of a certificate issued by axle-cert-issue: its one
# axle:// SAN URI, and its DNS names and IP addresses. Sets axle_id_fed,
# axle_id_role, axle_id_address, axle_id_user (admin only), axle_id_dns and
# axle_id_ips (newline-terminated lists).
axle_cert_identity() {	# cert
	axle_v=$(openssl x509 -in "$1" -noout -ext subjectAltName 2>/dev/null) ||
	    axle_die "cannot read certificate $1"
	axle_v=$(printf '%s\n' "$axle_v" | sed -n '2,$p' | tr ',' '\n' |
	    sed 's/^ *//')
	axle_id_dns=$(printf '%s\n' "$axle_v" | sed -n 's/^DNS://p')
	axle_id_ips=$(printf '%s\n' "$axle_v" | sed -n 's/^IP Address://p')
	[ -z "$axle_id_dns" ] || axle_id_dns="$axle_id_dns
"
	[ -z "$axle_id_ips" ] || axle_id_ips="$axle_id_ips
"
	axle_u=$(printf '%s\n' "$axle_v" | sed -n 's|^URI:axle://||p')
	case $axle_u in
	'' | *"
"*) axle_die "$1 does not name exactly one axle:// identity" ;;
	esac
	axle_id_fed=${axle_u%%/*}
	axle_u=${axle_u#*/}
	axle_id_role=${axle_u%%/*}
	axle_u=${axle_u#*/}
	axle_id_user=
	case $axle_id_role in
	admin) axle_id_address=${axle_u%%/*} axle_id_user=${axle_u#*/} ;;
	node | member) axle_id_address=$axle_u ;;
	*) axle_die "$1: unknown role '$axle_id_role' in its identity" ;;
	esac
	if ! axle_is_label "$axle_id_fed" || ! axle_is_address "$axle_id_address"
	then
		axle_die "$1: its identity is not a valid axle identity"
	fi
	[ "$axle_id_role" != admin ] || axle_is_user "$axle_id_user" ||
	    axle_die "$1: its admin identity has no valid user name"
}

# Splits a PEM file into one file per object: dir/prefix.N.pem, N from 1.
# Prints the count.
axle_pem_split() {	# file, dir, prefix
	awk -v d="$2" -v p="$3" '
	    /^-----BEGIN / { n++; f = d "/" p "." n ".pem" }
	    f != "" { print > f }
	    /^-----END / { close(f); f = "" }
	    END { print n + 0 }' "$1"
}

axle_key_id() {	# cert: SHA-256 of its public key, hex
	openssl x509 -in "$1" -noout -pubkey | openssl pkey -pubin -outform DER |
	    openssl dgst -sha256 -r | cut -c1-64
}

axle_subject() {	# cert: its subject, one line
	openssl x509 -in "$1" -noout -subject -nameopt RFC2253 | sed 's/^subject=//'
}

axle_crl_issuer() {	# crl: its issuer, one line
	openssl crl -in "$1" -noout -issuer -nameopt RFC2253 | sed 's/^issuer=//'
}

# Installs a trust folder from the CAs in work/keep/ca.*.pem and the CRLs in
# work/keep/crl.*.pem: dest/ca.pem and dest/crl.pem hold them all (a node
# and a hub read these bundles), and the hash links of an OpenSSL hash
# directory (<hash>.N, <hash>.rN) point into them. Files are written aside
# and renamed, so a node reloading meanwhile sees whole files.
axle_trust_install() {	# dest, work
	mkdir -p "$1" || axle_die "cannot create $1"
	: >"$1/.ca.pem.new"
	: >"$1/.crl.pem.new"
	for axle_f in "$2"/keep/ca.*.pem; do
		[ -f "$axle_f" ] && cat "$axle_f" >>"$1/.ca.pem.new"
	done
	for axle_f in "$2"/keep/crl.*.pem; do
		[ -f "$axle_f" ] && cat "$axle_f" >>"$1/.crl.pem.new"
	done
	chmod 644 "$1/.ca.pem.new" "$1/.crl.pem.new"
	mv -f "$1/.ca.pem.new" "$1/ca.pem"
	mv -f "$1/.crl.pem.new" "$1/crl.pem"
	find "$1" -maxdepth 1 -type l -name '*.*' -exec rm -f {} +
	for axle_f in "$2"/keep/ca.*.pem "$2"/keep/crl.*.pem; do
		[ -f "$axle_f" ] || continue
		case ${axle_f##*/} in
		ca.*) axle_h=$(openssl x509 -in "$axle_f" -noout -subject_hash)
			axle_t=ca.pem axle_r= ;;
		*) axle_h=$(openssl crl -in "$axle_f" -noout -hash)
			axle_t=crl.pem axle_r=r ;;
		esac
		axle_n=0
		while [ -e "$1/$axle_h.$axle_r$axle_n" ]; do
			axle_n=$((axle_n + 1))
		done
		ln -s "$axle_t" "$1/$axle_h.$axle_r$axle_n"
	done
}

axle_abspath() {	# existing folder: prints its absolute path
	(cd "$1" && pwd -P)
}

# Checks cadir is a CA made by axle-ca-new and exports AXLE_CADIR, which
# ca.cnf reads, so the CA folder can be moved.
axle_ca_open() {
	for axle_f in ca.cnf ca.pem ca.key index.txt serial crlnumber; do
		[ -f "$1/$axle_f" ] ||
		    axle_die "$1 is not a CA made by axle-ca-new (no $axle_f)"
	done
	AXLE_CADIR=$(axle_abspath "$1")
	export AXLE_CADIR
}

# openssl ca rewrites index.txt and serial in place: one writer at a time.
axle_ca_lock() {
	axle_n=0
	until mkdir "$AXLE_CADIR/.lock" 2>/dev/null; do
		axle_n=$((axle_n + 1))
		[ "$axle_n" -lt 30 ] || axle_die "CA $AXLE_CADIR is busy" \
		    "(remove $AXLE_CADIR/.lock if no other command runs)"
		sleep 1
	done
	axle_locked=$AXLE_CADIR/.lock
}

axle_ca_unlock() {
	rmdir "$axle_locked"
	axle_locked=
}

# Prints the federation a CA certificate is for: its subject O.
axle_cert_federation() {
	axle_v=$(openssl x509 -in "$1" -noout -subject \
	    -nameopt RFC2253,sep_multiline,utf8) ||
	    axle_die "cannot read certificate $1"
	axle_v=$(printf '%s\n' "$axle_v" | sed -n 's/^ *O=//p')
	axle_is_label "$axle_v" ||
	    axle_die "$1 has no axle federation in its subject O (got '$axle_v')"
	printf '%s\n' "$axle_v"
}

# Writes a CRL of the CA (lock held) to CADIR/crl.pem, valid for days.
axle_ca_gencrl() {
	axle_ssl ca -batch -config "$AXLE_CADIR/ca.cnf" -gencrl -crldays "$1" \
	    -out "$axle_tmp/crl.pem"
	mv "$axle_tmp/crl.pem" "$AXLE_CADIR/crl.pem"
	chmod 644 "$AXLE_CADIR/crl.pem"
}

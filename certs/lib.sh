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

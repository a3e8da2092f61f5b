#!/bin/sh
# tests/integration/test_cli_tools.sh -- axled/axlectl --version and --help, one version everywhere; axlectl's bash completion offers what axlectl knows.
# Usage: sh tests/integration/test_cli_tools.sh (AXLE_BUILD, AXLE_TOP as set by tests/run.sh).
set -u
top=${AXLE_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
B=${AXLE_BUILD:-$top/build}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/axle-test-cli.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
trap 'exit 1' HUP INT TERM
pass=0
fail=0
ok() { pass=$((pass + 1)); echo "ok   $*"; }
bad() { fail=$((fail + 1)); echo "FAIL $*"; }
show() { sed 's/^/       | /' "$1" | head -n 20; }
comp=$top/gateway/ctl/axlectl.bash

command -v bash >/dev/null 2>&1 || { bad "bash not installed"; echo "$pass passed, $fail failed"; exit 1; }
for b in axled axlectl; do
	[ -x "$B/$b" ] || { bad "no $B/$b (make all)"; echo "$pass passed, $fail failed"; exit 1; }
done

# --- one version: version.h, both binaries, the man pages, the changelog ------
v=$(sed -n 's/^#define AXLE_VERSION "\([^"]*\)"$/\1/p' "$top/gateway/net/version.h")
if echo "$v" | grep -qx '[0-9][0-9]*\.[0-9][0-9]*\.[0-9][0-9]*\(-[0-9A-Za-z.-]*\)\{0,1\}'; then
	ok "gateway/net/version.h: AXLE_VERSION $v (semantic version)"
else
	bad "no semantic version in gateway/net/version.h (got '$v')"
fi
for run in "axled --version" "axled -V" "axlectl --version"; do
	# shellcheck disable=SC2086 # split into the program and its options
	set -- $run
	name=$1; shift
	if "$B/$name" "$@" >"$tmp/out" 2>"$tmp/err" && [ ! -s "$tmp/err" ] &&
	    [ "$(cat "$tmp/out")" = "$name $v" ]; then
		ok "$run: '$name $v', exit 0, nothing on stderr"
	else
		bad "$run: want '$name $v' on stdout, exit 0"; show "$tmp/out"; show "$tmp/err"
	fi
done
missing=""
for p in axled.8 axlectl.1 axled.conf.5; do
	grep -q "^\.TH [A-Z.]* [158] [0-9-]* \"axle $v\"" "$top/docs/man/$p" || missing="$missing $p"
done
[ -z "$missing" ] && ok "man pages' .TH say axle $v" ||
	bad "man pages whose .TH line does not say \"axle $v\":$missing"
cl=$top/docs/CHANGELOG.md
newest=$(sed -n 's/^## \[\([0-9][^]]*\)\].*/\1/p' "$cl" 2>/dev/null | head -n 1)
if [ "$newest" = "$v" ]; then
	ok "docs/CHANGELOG.md's newest release is $v"
else
	bad "docs/CHANGELOG.md's newest release heading is '${newest:-none}', version.h says $v (a release bumps both)"
fi

# --- --help and bad usage -------------------------------------------------------
for name in axled axlectl; do
	if "$B/$name" --help >"$tmp/out" 2>"$tmp/err" && [ ! -s "$tmp/err" ] &&
	    grep -q "^usage: $name " "$tmp/out" && grep -q -- '--version' "$tmp/out"; then
		ok "$name --help: usage on stdout (naming --version), exit 0"
	else
		bad "$name --help: want usage on stdout, exit 0"; show "$tmp/out"; show "$tmp/err"
	fi
	"$B/$name" --no-such-option >"$tmp/out" 2>"$tmp/err"
	rc=$?
	if [ "$rc" -eq 2 ] && [ ! -s "$tmp/out" ] && grep -q "usage: $name " "$tmp/err"; then
		ok "$name --no-such-option: usage on stderr, exit 2"
	else
		bad "$name --no-such-option: exit $rc, want usage on stderr and 2"; show "$tmp/out"; show "$tmp/err"
	fi
done
if "$B/axled" -h >"$tmp/out" 2>&1 && cmp -s "$tmp/out" - <<EOF
$("$B/axled" --help)
EOF
then
	ok "axled -h is axled --help"
else
	bad "axled -h differs from --help"; show "$tmp/out"
fi

# --- bash completion ------------------------------------------------------------
# .ci/deps.sh installs shellcheck: without it this check fails, it never passes.
if shellcheck -s bash "$comp" >"$tmp/err" 2>&1; then
	ok "gateway/ctl/axlectl.bash: shellcheck -s bash is silent"
else
	bad "shellcheck -s bash gateway/ctl/axlectl.bash complained (or is not installed)"; show "$tmp/err"
fi
# complete WORD... : what the completion offers for the last word, sorted, one a line.
complete_words() {
	bash -c '. "$1" || exit 3; shift
	    complete -p axlectl >/dev/null || exit 4
	    COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); COMP_LINE="$*"; COMP_POINT=${#COMP_LINE}
	    _axlectl; printf "%s\n" "${COMPREPLY[@]}"' sh "$comp" "$@" 2>/dev/null | sed '/^$/d' | sort
}
expect() {	# "want words" WORD... : the completion of WORD... is exactly want.
	want=$(echo "$1" | tr ' ' '\n' | sed '/^$/d' | sort); shift
	got=$(complete_words "$@")
	if [ "$got" = "$want" ]; then
		ok "complete '$*': $(echo "$got" | tr '\n' ' ')"
	else
		bad "complete '$*': got [$(echo "$got" | tr '\n' ' ')], want [$(echo "$want" | tr '\n' ' ')]"
	fi
}
expect "region registrar resolve reject" axlectl re
expect "--json" axlectl --js
expect "cases" axlectl --server localhost:7443 --json ca
expect "suspend" axlectl registrar su
expect "list" axlectl -c ctl.conf cases l
expect "--page-size --page-token" axlectl cases list --page-
expect "--cert --contact" axlectl delegate uk.x r1 --c
expect "--payload" axlectl cases show c1 --pay
expect "--json" axlectl cases show c1 --payload --j
expect "--policy" axlectl send --to a --pol
expect "--save" axlectl fetch --max 5 --sa
expect "--receipts" axlectl fetch --save d --rec
expect "--all" axlectl ack --a
# Enum values: exactly the short names of the proto's enum (UNSPECIFIED left out).
short_names() {	# ENUM-NAME PREFIX [extra]: its values, lower case, without PREFIX
	sed -n "/^enum $1 {/,/^}/p" "$top"/proto/axle/v1/*.proto |
	    sed -n "s/^ *$2\([A-Z_]*\) = [0-9].*/\1/p" | grep -vx UNSPECIFIED | tr 'A-Z' 'a-z' | tr '\n' ' '
	echo "${3:-}"
}
expect "$(short_names RegistrarStatus REGISTRAR_STATUS_)" axlectl registrar list --status ""
expect "$(short_names CaseState CASE_STATE_ all)" axlectl cases list --state ""
expect "$(short_names ServiceKind SERVICE_KIND_)" axlectl discover --kind ""
expect "$(short_names FailurePolicy FAILURE_POLICY_)" axlectl send --to a --policy ""
expect "" axlectl info ""
# File names where a file is asked for (global --cert), directories for --trust.
mkdir -p "$tmp/files/trustdir" && : >"$tmp/files/admin.chain.pem"
expect "$tmp/files/admin.chain.pem" axlectl --cert "$tmp/files/adm"
expect "$tmp/files/trustdir" axlectl --trust "$tmp/files/t"
expect "$tmp/files/trustdir" axlectl fetch --save "$tmp/files/t"

# It cannot drift: exactly the commands of `axlectl help` ...
cmds=$("$B/axlectl" help 2>&1 | sed -n '/^Commands:/,$p' | sed -n 's/^  \([a-z][a-z0-9-]*\).*/\1/p' | sort)
offered=$(complete_words axlectl "")
if [ -n "$cmds" ] && [ "$offered" = "$cmds" ]; then
	ok "completion offers exactly the $(echo "$cmds" | grep -c .) commands of axlectl help"
else
	bad "completion's commands [$(echo "$offered" | tr '\n' ' ')] != axlectl help's [$(echo "$cmds" | tr '\n' ' ')]"
fi
# ... every sub-command a cmd_NAME function of gateway/ctl/ tests for (strcmp
# of sub or argv[1], or the rec_actions table it walks), under its command ...
perl -ne '
	if (/^\t\{ "([a-z]+)", "[A-Z][A-Za-z]*", RK_/) { push @act, $1 }
	if (/^cmd_([a-z_]+)\(/) { $f = $1 }
	elsif ($f && /^\}/) { undef $f }
	elsif ($f) {
		# a word, not an option: "--all" and "-" of ack are not sub-commands
		$s{"$f $1"} = 1 while /strcmp\((?:sub|argv\[1\]), "([a-z][a-z-]*)"\)/g;
		$walk{$f} = 1 if /rec_actions\[i\]\.name/;
	}
	END {
		for $f (keys %walk) { $s{"$f $_"} = 1 for @act }
		print "$_\n" for sort keys %s;
	}' "$top"/gateway/ctl/ctl_*.c >"$tmp/subs"
missing=""
while read -r c s; do
	complete_words axlectl "$c" "" | grep -qx "$s" || missing="$missing '$c $s'"
done <"$tmp/subs"
n=$(grep -c . "$tmp/subs")
if [ "$n" -ge 15 ] && [ -z "$missing" ]; then
	ok "completion offers all $n sub-commands found in gateway/ctl/ctl_*.c"
else
	bad "completion lacks sub-commands:${missing:- (found only $n in gateway/ctl: has the code changed form?)}"
fi
# ... and every option of gateway/ctl/: getopt tables, "--x" literals, .name = "x".
opts=$( (sed -n 's/^[[:space:]]*{ "\([a-z-]*\)", [a-z_]*_argument.*/\1/p' "$top/gateway/ctl/ctl.c"
    grep -oh '"--[a-z][a-z-]*"' "$top"/gateway/ctl/ctl_*.c | tr -d '"' | sed 's/^--//'
    grep -oh '\.name = "[a-z][a-z-]*"' "$top"/gateway/ctl/ctl_*.c | sed 's/.*"\(.*\)"/\1/') | sort -u)
missing=""
for o in $opts; do
	# A whole word: --payload must not pass on --payload-file.
	grep -qE -- "(^|[[:space:]\"])--$o([[:space:]\"]|\$)" "$comp" || missing="$missing --$o"
done
n=$(echo "$opts" | grep -c .)
if [ "$n" -ge 30 ] && [ -z "$missing" ]; then
	ok "completion names all $n options found in gateway/ctl/"
else
	bad "completion lacks options:${missing:- (found only $n in gateway/ctl: has the code changed form?)}"
fi

# --- make install places it where bash-completion looks -------------------------
if make -s --no-print-directory -C "$top" -o all install B="$B" PREFIX=/usr \
    DESTDIR="$tmp/root" >"$tmp/out" 2>&1; then
	f=$tmp/root/usr/share/bash-completion/completions/axlectl
	if [ -f "$f" ] && [ "$(stat -c %a "$f")" = 644 ] && cmp -s "$comp" "$f"; then
		ok "make install: share/bash-completion/completions/axlectl, mode 644, the source"
	else
		bad "make install did not place share/bash-completion/completions/axlectl (644)"
	fi
else
	bad "make install failed"; show "$tmp/out"
fi

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]

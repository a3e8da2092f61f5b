#!/bin/sh
# tests/integration/test_manpages.sh -- man pages render without warnings and say what the code does; make install places everything.
# Usage: sh tests/integration/test_manpages.sh (AXLE_BUILD, AXLE_TOP as set by tests/run.sh).
set -u
top=${AXLE_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
B=${AXLE_BUILD:-$top/build}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/axle-test-man.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
trap 'exit 1' HUP INT TERM
pass=0
fail=0
# A fixed locale: man warns about a missing one, and output must not depend on it.
LC_ALL=C.UTF-8
export LC_ALL
locale -a 2>/dev/null | grep -qix 'c.utf-\{0,1\}8' || { LC_ALL=C; export LC_ALL; }

ok() { pass=$((pass + 1)); echo "ok   $*"; }
bad() { fail=$((fail + 1)); echo "FAIL $*"; }
show() { sed 's/^/       | /' "$1" | head -n 20; }

PAGES="axled.8 axlectl.1 axled.conf.5"

# --- rendering: no warning from groff -ww, nor from man --warnings ----------
# .ci/deps.sh installs groff, man and systemd-analyze: a missing one fails the
# test, its checks never pass unrun.
for tool in groff:groff-base man:man-db systemd-analyze:systemd; do
	command -v "${tool%%:*}" >/dev/null 2>&1 ||
		{ bad "${tool%%:*} not installed (as root: sh .ci/deps.sh, or apt-get install ${tool#*:})"
		  echo "$pass passed, $fail failed"; exit 1; }
done
for p in $PAGES; do
	f=$top/docs/man/$p
	if [ ! -f "$f" ]; then
		bad "$p: no docs/man/$p"
		continue
	fi
	if groff -ww -z -man "$f" >"$tmp/out" 2>&1 && [ ! -s "$tmp/out" ]; then
		ok "$p: groff -ww -z -man is silent"
	else
		bad "$p: groff -ww warned"; show "$tmp/out"
	fi
	if MANWIDTH=80 man --warnings -l "$f" >"$tmp/page" 2>"$tmp/out" &&
	    [ ! -s "$tmp/out" ]; then
		ok "$p: man --warnings -l is silent"
	else
		bad "$p: man --warnings -l warned or failed"; show "$tmp/out"
	fi
	# The rendered page: the title line and the sections every page has.
	name=${p%.*}
	sec=${p##*.}
	upper=$(echo "$name" | tr 'a-z' 'A-Z')
	missing=""
	for s in NAME SYNOPSIS DESCRIPTION "SEE ALSO"; do
		grep -q "^$s" "$tmp/page" || missing="$missing '$s'"
	done
	grep -q "^$upper($sec)" "$tmp/page" || missing="$missing title"
	if [ -z "$missing" ]; then
		ok "$p: renders with title $upper($sec) and NAME/SYNOPSIS/DESCRIPTION/SEE ALSO"
	else
		bad "$p: rendered page lacks$missing"; show "$tmp/page"
	fi
	# Over-wide lines in the rendered text would mean an unbreakable token.
	if awk 'length($0) > 80 { print; bad = 1 } END { exit bad }' "$tmp/page" >"$tmp/out"; then
		ok "$p: no rendered line wider than 80 columns"
	else
		bad "$p: lines wider than 80 columns"; show "$tmp/out"
	fi
done

# --- the pages describe the code as it is -----------------------------------
# Every key of config.c's tables, as a ".BI key" entry of axled.conf(5) and a
# "key = value" line of the example; every section, as a .SH of the page.
cfgc=$top/gateway/node/config.c
keys=$(grep -v '^#' "$cfgc" | sed -n 's/.*CFG_STR("\([a-z0-9_]*\)".*/\1/p;
    s/.*CFG_[A-Z]*(\([a-z][a-z0-9_]*\),.*/\1/p;
    s/^[[:space:]]*{ "\([a-z0-9_]*\)", set_.*/\1/p' | sort -u)
sections=$(sed -n 's/^[[:space:]]*\[SEC_[A-Z]*\] = { "\([a-z]*\)".*/\1/p' "$cfgc")
n=$(echo "$keys" | grep -c .)
[ "$n" -ge 20 ] || bad "found only $n keys in gateway/node/config.c: has its table format changed?"
[ -n "$sections" ] || bad "found no sections in gateway/node/config.c: has its table format changed?"
missing=""
for k in $keys; do
	grep -q "^\.BI $k \"" "$top/docs/man/axled.conf.5" || missing="$missing $k"
	grep -q "^[;#]* *$k = " "$top/docs/axled.conf.example" || missing="$missing $k(in the example)"
	grep -q "^|[^|]*| \`$k\` |" "$top/docs/operator.md" ||
		missing="$missing $k(in operator.md's table)"
done
# ... and operator.md's table names no key the code does not read.
for k in $(sed -n 's/^|[^|]*| `\([a-z0-9_]*\)` | .*/\1/p' "$top/docs/operator.md" | sort -u); do
	echo "$keys" | grep -qx "$k" || missing="$missing $k(in operator.md, not in config.c)"
done
for s in $sections; do
	grep -q "^\.SH \"\[$s[] ]" "$top/docs/man/axled.conf.5" || missing="$missing [$s]"
done
if [ -z "$missing" ]; then
	ok "axled.conf.5 and axled.conf.example describe all $n keys and the sections" $sections
else
	bad "keys or sections of gateway/node/config.c not described:$missing"
fi

# Every command the build's axlectl lists, as a .TP entry of axlectl(1).
if [ -x "$B/axlectl" ] && "$B/axlectl" help >"$tmp/help" 2>&1; then
	cmds=$(sed -n '/^Commands:/,$p' "$tmp/help" | sed -n 's/^  \([a-z][a-z0-9-]*\).*/\1/p')
	missing=""
	for c in $cmds; do
		# The tag line after .TP/.TQ: ".B cmd", or "\fBcmd\fR ..." / "\fBcmd sub\fR ...".
		awk -v c="$c" '(prev == ".TP" || prev == ".TQ") &&
		    ($0 == ".B " c || index($0, "\\fB" c "\\fR") == 1 ||
		    index($0, "\\fB" c " ") == 1) { found = 1 } { prev = $0 }
		    END { exit !found }' "$top/docs/man/axlectl.1" || missing="$missing $c"
	done
	if [ -n "$cmds" ] && [ -z "$missing" ]; then
		ok "axlectl.1 describes every command of axlectl help:" $cmds
	else
		bad "axlectl.1 lacks commands:${missing:- (none listed by axlectl help)}"
	fi
else
	bad "cannot run $B/axlectl help"; show "$tmp/help"
fi
# Every long option and AXLE_* variable of ctl.c.
opts=$(sed -n 's/^[[:space:]]*{ "\([a-z-]*\)", [a-z_]*_argument.*/\1/p' "$top/gateway/ctl/ctl.c")
envs=$(grep -o '"AXLE_[A-Z_]*"' "$top/gateway/ctl/ctl.c" | tr -d '"' | sort -u)
missing=""
for o in $opts; do
	grep -q "\\\\-\\\\-$o" "$top/docs/man/axlectl.1" || missing="$missing --$o"
done
for e in $envs; do
	grep -q "^\.B $e\$" "$top/docs/man/axlectl.1" || missing="$missing $e"
done
if [ -n "$opts" ] && [ -n "$envs" ] && [ -z "$missing" ]; then
	ok "axlectl.1 describes every option and variable of ctl.c:" $opts $envs
else
	bad "axlectl.1 lacks:${missing:- (no options found in ctl.c)}"
fi
# axled's own options: the short ones of its getopt string and the long ones
# of its option table.
axledc=$top/gateway/node/axled.c
optstr=$(sed -n 's/.*getopt\(_long\)\{0,1\}(argc, argv, "\([^"]*\)".*/\2/p' "$axledc")
longs=$(sed -n 's/^[[:space:]]*{ "\([a-z-]*\)", [a-z_]*_argument.*/\1/p' "$axledc")
missing=""
for o in $(echo "$optstr" | tr -d ':' | sed 's/./& /g'); do
	grep -q "^\.BI* \\\\-$o\( \|\$\)" "$top/docs/man/axled.8" || missing="$missing -$o"
done
for o in $longs; do
	grep -q "^\.BI* \\\\-\\\\-$o\( \|\$\)" "$top/docs/man/axled.8" || missing="$missing --$o"
done
if [ -n "$optstr" ] && [ -n "$longs" ] && [ -z "$missing" ]; then
	ok "axled.8 describes axled's options ($optstr;" $longs")"
else
	bad "axled.8 lacks options:${missing:- (no getopt string or option table in axled.c)}"
fi

# --- make install -------------------------------------------------------------
# -o all: install what the suite built; never rebuild into the shared tree here.
inst() {	# prefix destdir
	make -s --no-print-directory -C "$top" -o all install B="$B" PREFIX="$1" \
	    DESTDIR="$2" >"$tmp/out" 2>&1
}
root=$tmp/root
if inst /usr "$root"; then
	ok "make install DESTDIR=... PREFIX=/usr"
else
	bad "make install failed"; show "$tmp/out"
fi
missing=""
for f in usr/sbin/axled:755 usr/bin/axlectl:755 \
    usr/share/man/man8/axled.8:644 usr/share/man/man1/axlectl.1:644 \
    usr/share/man/man5/axled.conf.5:644 usr/lib/systemd/system/axled.service:644 \
    usr/share/axle/axled.conf.example:644 usr/share/axle/certs/axle-ca-new:755 \
    usr/share/axle/certs/axle-cert-issue:755 usr/share/axle/certs/axle-trust-add:755 \
    usr/share/axle/certs/lib.sh:644; do
	path=${f%:*} mode=${f##*:}
	if [ ! -f "$root/$path" ]; then
		missing="$missing $path"
	elif [ "$(stat -c %a "$root/$path")" != "$mode" ]; then
		missing="$missing $path(mode $(stat -c %a "$root/$path"), want $mode)"
	fi
done
[ -z "$missing" ] && ok "install placed binaries, man pages, unit, example config and certs/ with their modes" ||
	bad "install did not place:$missing"
for p in $PAGES; do
	sec=${p##*.}
	cmp -s "$top/docs/man/$p" "$root/usr/share/man/man$sec/$p" || missing="$missing $p"
done
cmp -s "$top/docs/axled.conf.example" "$root/usr/share/axle/axled.conf.example" ||
	missing="$missing axled.conf.example"
[ -z "$missing" ] && ok "installed man pages and example config are the sources" ||
	bad "installed copies differ:$missing"
# The installed pieces work together: the installed PKI commands make a dev
# federation, and the installed axled accepts a configuration using it.
if "$root/usr/bin/axlectl" help >"$tmp/out" 2>&1 && grep -q '^Commands:' "$tmp/out"; then
	ok "installed axlectl runs (help)"
else
	bad "installed axlectl help failed"; show "$tmp/out"
fi
if "$root/usr/share/axle/certs/axle-dev-federation" "$tmp/pki" fame-test uk.test \
    >"$tmp/out" 2>&1; then
	cat >"$tmp/axled.conf" <<CONF
[node]
federation = fame-test
region = uk.test
listen = 127.0.0.1:7443
data_dir = data

[tls]
cert = pki/uk.test/node.chain.pem
key = pki/uk.test/node.key
trust_dir = pki/trust
CONF
	if "$root/usr/sbin/axled" -n -c "$tmp/axled.conf" >"$tmp/out" 2>&1 &&
	    grep -q 'configuration OK' "$tmp/out" && [ ! -e "$tmp/data" ]; then
		ok "installed axle-dev-federation + axled -n: configuration OK, nothing written"
	else
		bad "installed axled -n refused a dev federation's configuration"; show "$tmp/out"
	fi
else
	bad "installed axle-dev-federation failed"; show "$tmp/out"
fi

# The unit: the hardening the operator guide promises, and the right paths.
unit=$root/usr/lib/systemd/system/axled.service
missing=""
for d in 'User=axle' 'NoNewPrivileges=yes' 'PrivateTmp=yes' 'ProtectSystem=strict' \
    'ProtectHome=yes' 'ReadWritePaths=/var/lib/axle' 'CapabilityBoundingSet=' \
    'RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX' 'SystemCallFilter=@system-service' \
    'ExecReload=/bin/kill -HUP $MAINPID' 'KillSignal=SIGTERM' 'TimeoutStopSec=30' \
    'Restart=on-failure' 'LimitNOFILE=65536' 'Type=notify' 'NotifyAccess=main' \
    'WatchdogSec=30s' 'ExecReload=/usr/sbin/axled -n -c /etc/axle/axled.conf' \
    'ExecStartPre=/usr/sbin/axled -n -c /etc/axle/axled.conf' \
    'ExecStart=/usr/sbin/axled -c /etc/axle/axled.conf'; do
	grep -qxF "$d" "$unit" || missing="$missing [$d]"
done
[ -z "$missing" ] && ok "axled.service has the hardening and commands" ||
	bad "axled.service lacks:$missing"
if inst /opt/axle "$tmp/opt" && grep -q '^ExecStart=/opt/axle/sbin/axled ' \
    "$tmp/opt/opt/axle/lib/systemd/system/axled.service" &&
    ! grep -q '/usr/sbin' "$tmp/opt/opt/axle/lib/systemd/system/axled.service" &&
    [ -x "$tmp/opt/opt/axle/sbin/axled" ]; then
	ok "PREFIX=/opt/axle: the unit runs /opt/axle/sbin/axled"
else
	bad "PREFIX=/opt/axle: unit paths not rewritten"; show "$tmp/out"
fi
# Point the unit at the staged binary so verify can check ExecStart.
sed "s|/usr/sbin/axled|$root/usr/sbin/axled|g" "$unit" >"$tmp/axled.service"
systemd-analyze verify --man=no "$tmp/axled.service" >"$tmp/out" 2>&1
if [ ! -s "$tmp/out" ]; then
	ok "systemd-analyze verify: no complaint"
else
	bad "systemd-analyze verify complained"; show "$tmp/out"
fi
if MANPATH="$root/usr/share/man" man -w axled.conf >"$tmp/out" 2>&1 &&
    grep -q "$root/usr/share/man/man5/axled.conf.5" "$tmp/out"; then
	ok "man finds the installed axled.conf(5) in the staged tree"
else
	bad "man -w axled.conf did not find the installed page"; show "$tmp/out"
fi

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]

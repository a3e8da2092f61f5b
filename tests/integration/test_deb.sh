#!/bin/sh
# tests/integration/test_deb.sh -- the Debian package (packaging/deb/): lintian
# finds no error, then in a fresh Debian root it installs (the axle user,
# /etc/axle, /var/lib/axle and their modes), its node starts as the unit
# starts it and stops on SIGTERM, and a purge leaves nothing behind.
# The package is made from the tree under test (packaging/deb/build.sh;
# `make deb` makes the same from its own hardened build). The fresh root is
# a copy of the minbase root shared/tools/fresh-machine.sh caches
# ($FRESH_CACHE, default /tmp/fresh-base); without one, or without root, or
# without a Debian mirror to install the libraries from, the root part is
# skipped and says why.
# Usage: sh tests/integration/test_deb.sh (AXLE_BUILD, AXLE_TOP as set by tests/run.sh).
set -u
top=${AXLE_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
B=${AXLE_BUILD:-$top/build}
pass=0
fail=0
ok() { pass=$((pass + 1)); echo "ok   $*"; }
bad() { fail=$((fail + 1)); echo "FAIL $*"; }
show() { sed 's/^/       | /' "$1" | tail -n 20; }
finish() { echo "$pass passed, $fail failed"; [ "$fail" -eq 0 ] || exit 1; exit "${1:-0}"; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/axle-test-deb.XXXXXX") || exit 1
root=""
# shellcheck disable=SC2317 # called by the EXIT trap
cleanup() {
	if [ -n "$root" ]; then
		# what the test started in the root, then its mounts
		for d in /proc/[0-9]*; do
			[ "$(readlink "$d/root" 2>/dev/null)" = "$root" ] && kill -9 "${d#/proc/}" 2>/dev/null
		done
		umount -l "$root/proc" 2>/dev/null
		umount -lR "$root/dev" 2>/dev/null
		rm -rf "$root"
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' HUP INT TERM

for t in dpkg-deb dpkg-shlibdeps lintian; do
	command -v "$t" >/dev/null 2>&1 || { bad "$t is not installed (.ci/deps.sh installs it)"; finish; }
done

# --- the package -----------------------------------------------------------
cd "$top" || exit 1
if deb=$(sh packaging/deb/build.sh "$B" 2>"$tmp/build.err") && [ -f "$deb" ]; then
	ok "packaging/deb/build.sh: $(basename "$deb")"
else
	bad "packaging/deb/build.sh failed"; show "$tmp/build.err"; finish
fi
dpkg-deb -c "$deb" >"$tmp/list"
for f in ./usr/sbin/axled ./usr/bin/axlectl ./lib/systemd/system/axled.service \
    ./usr/share/bash-completion/completions/axlectl ./usr/share/man/man8/axled.8.gz \
    ./usr/share/man/man5/axled.conf.5.gz ./usr/share/man/man1/axlectl.1.gz \
    ./usr/share/axle/certs/axle-cert-issue ./usr/share/axle/certs/lib.sh \
    ./usr/share/doc/axle/copyright ./usr/share/doc/axle/examples/axled.conf.example; do
	grep -q " $f\$" "$tmp/list" || bad "the package lacks $f"
done
ok "the package holds the programs, unit, completion, man pages, PKI commands, docs"
# .ci/deps.sh installs shellcheck: without it this check fails, it never passes.
if shellcheck -s sh packaging/deb/build.sh packaging/deb/postinst packaging/deb/prerm \
    packaging/deb/postrm >"$tmp/sc" 2>&1; then
	ok "shellcheck: packaging/deb/ scripts are clean"
else
	bad "shellcheck packaging/deb/"; show "$tmp/sc"
fi
# lintian: no error; its warnings and notes are printed (overrides: packaging/deb/lintian-overrides).
if lintian --fail-on error --info "$deb" >"$tmp/lintian" 2>&1; then
	ok "lintian: no error ($(grep -c '^[WIP]: ' "$tmp/lintian") warnings or notes)"
	grep '^[EWIP]: ' "$tmp/lintian" | sed 's/^/       | /'
else
	bad "lintian reports errors"; grep '^[EWIP]: ' "$tmp/lintian" | sed 's/^/       | /'
fi

# --- install, start, stop, purge in a fresh root ----------------------------
cache=${FRESH_CACHE:-${TMPDIR:-/tmp}/fresh-base}
srcs=/etc/apt/sources.list.d/debian.sources
if [ "$(id -u)" -ne 0 ]; then
	echo "SKIP install_start_stop_purge: not root (a chroot needs root)"; finish 77
fi
if [ ! -x "$cache/bin/bash" ]; then
	echo "SKIP install_start_stop_purge: no Debian root at $cache (shared/tools/fresh-machine.sh makes one; or set FRESH_CACHE)"
	finish 77
fi
if [ ! -f "$srcs" ]; then
	echo "SKIP install_start_stop_purge: no $srcs to install the libraries from"; finish 77
fi
root=$(mktemp -d "${TMPDIR:-/tmp}/axle-deb-root.XXXXXX") || exit 1
cp -a "$cache/." "$root/"
rm -f "$root/etc/apt/sources.list"
cp "$srcs" "$root/etc/apt/sources.list.d/debian.sources"
cp /etc/resolv.conf "$root/etc/resolv.conf" 2>/dev/null
if ! mount -t proc proc "$root/proc" || ! mount --rbind /dev "$root/dev"; then
	bad "cannot mount /proc and /dev in the root"; finish
fi
cp "$deb" "$root/tmp/axle.deb"
in_root() { chroot "$root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LC_ALL=C.UTF-8 sh -c "$1"; }
# The host's package lists (same sources) spare an apt-get update; stale ones get one.
cp -a /var/lib/apt/lists/. "$root/var/lib/apt/lists/" 2>/dev/null
install='DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends /tmp/axle.deb'
if ! in_root "$install" >"$tmp/install" 2>&1; then
	if ! in_root 'apt-get update -qq' >"$tmp/update" 2>&1; then
		echo "SKIP install_start_stop_purge: apt-get update failed in the root (no Debian mirror reachable?): $(tail -n 1 "$tmp/update")"
		finish 77
	fi
	in_root "$install" >"$tmp/install" 2>&1 || { bad "apt-get install failed"; show "$tmp/install"; finish; }
fi
ok "apt-get install ./axle.deb in a fresh Debian root"
# The user, the directories and their modes (as axled.service expects).
in_root 'getent passwd axle' >"$tmp/pw" 2>&1
uid=$(cut -d: -f3 "$tmp/pw")
if [ -n "$uid" ] && [ "$uid" -lt 1000 ] && grep -q ':/var/lib/axle:/usr/sbin/nologin$' "$tmp/pw"; then
	ok "system user axle (uid $uid, home /var/lib/axle, no login)"
else
	bad "no system user axle: $(cat "$tmp/pw")"
fi
for want in "/etc/axle root axle 750" "/var/lib/axle axle axle 700"; do
	# shellcheck disable=SC2086 # fields
	set -- $want
	got=$(in_root "stat -c '%U %G %a' $1" 2>&1)
	if [ "$got" = "$2 $3 $4" ]; then ok "$1: $got"; else bad "$1: '$got', want '$2 $3 $4'"; fi
done
# A node as the unit runs it: the configuration checked, then axled as axle.
in_root 'cd /etc/axle && /usr/share/axle/certs/axle-dev-federation /etc/axle/pki fame-test uk.test' \
    >"$tmp/pki" 2>&1 || { bad "axle-dev-federation failed in the root"; show "$tmp/pki"; }
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cat >"$root/etc/axle/axled.conf" <<CONF
[node]
federation = fame-test
region = uk.test
listen = 127.0.0.1:$port
data_dir = /var/lib/axle

[tls]
cert = pki/uk.test/node.chain.pem
key = pki/uk.test/node.key
trust_dir = pki/trust
CONF
in_root 'chown -R axle:axle /etc/axle/pki && chmod 0640 /etc/axle/axled.conf && chgrp axle /etc/axle/axled.conf'
pre=$(sed -n 's/^ExecStartPre=//p' "$root/lib/systemd/system/axled.service")
start=$(sed -n 's/^ExecStart=//p' "$root/lib/systemd/system/axled.service")
if in_root "runuser -u axle -- $pre" >"$tmp/check" 2>&1; then
	ok "ExecStartPre as axle: $(tail -n 1 "$tmp/check")"
else
	bad "ExecStartPre ($pre) failed"; show "$tmp/check"
fi
# setpriv execs (runuser would stay as axled's parent): $! is axled, seen from here too.
in_root "setpriv --reuid=axle --regid=axle --init-groups -- $start >/tmp/axled.log 2>&1 & echo \$! >/tmp/axled.pid"
pid=$(cat "$root/tmp/axled.pid")
up=0
for _ in $(seq 1 100); do
	grep -q 'event=listening' "$root/tmp/axled.log" 2>/dev/null && { up=1; break; }
	sleep 0.2
done
if [ "$up" -eq 1 ]; then
	ok "axled started as the unit starts it (/etc/axle/axled.conf)"
else
	bad "axled did not start"; show "$root/tmp/axled.log"
fi
owner=$(stat -c %u "/proc/$pid" 2>/dev/null)
if [ "$owner" = "$uid" ]; then
	ok "it runs as axle (uid $uid)"
else
	bad "axled (pid $pid) runs as uid '$owner', want $uid"
fi
kill -TERM "$pid" 2>/dev/null
stopped=0
for _ in $(seq 1 100); do
	[ -d "/proc/$pid" ] || { stopped=1; break; }
	sleep 0.2
done
if [ "$stopped" -eq 1 ] && grep -q 'event=stopped.*exit=0' "$root/tmp/axled.log"; then
	ok "SIGTERM: it drained and stopped (exit=0)"
else
	bad "axled did not stop cleanly"; show "$root/tmp/axled.log"
fi
if [ -n "$(ls -A "$root/var/lib/axle")" ]; then
	ok "it wrote its store in /var/lib/axle"
else
	bad "/var/lib/axle is empty after a run"
fi
# Purge: the files, the data, the configuration and the user go.
if in_root 'DEBIAN_FRONTEND=noninteractive apt-get purge -y -qq axle' >"$tmp/purge" 2>&1; then
	ok "apt-get purge axle"
else
	bad "apt-get purge failed"; show "$tmp/purge"
fi
left=""
for p in /usr/sbin/axled /usr/bin/axlectl /lib/systemd/system/axled.service /etc/axle /var/lib/axle; do
	[ -e "$root$p" ] && left="$left $p"
done
in_root 'getent passwd axle' >/dev/null 2>&1 && left="$left user:axle"
in_root 'getent group axle' >/dev/null 2>&1 && left="$left group:axle"
if [ -z "$left" ]; then
	ok "after the purge: no programs, unit, /etc/axle, /var/lib/axle, axle user or group"
else
	bad "left after the purge:$left"; show "$tmp/purge"
fi
finish

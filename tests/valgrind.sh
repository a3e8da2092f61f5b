#!/bin/sh
# tests/valgrind.sh -- the unit and integration tests with valgrind memcheck around
# every test binary and every axled; fails a test on any memcheck error or definite leak.
# Usage: tests/valgrind.sh BUILD_DIR (a plain -O1 -g tree: `make valgrind` builds build-vg).
# AXLE_TESTS="name ..." limits the integration tests as in tests/run.sh; VG_UNIT=0 skips
# the unit tests. Ends with one "N passed, N failed, N skipped" line, and counts
# skips (tests/runlib.sh) as tests/run.sh does.
set -u
B=${1:-build-vg}
top=$(cd "$(dirname "$0")/.." && pwd)
B=$(cd "$top" && cd "$B" && pwd) || { echo "no build dir $1"; exit 2; }
command -v valgrind >/dev/null ||
	{ echo "valgrind is not installed (as root: apt-get install -y valgrind)"; exit 2; }
export AXLE_BUILD="$B" AXLE_TOP="$top"
PY=/usr/bin/python3
logdir="$B/test-logs"
vgdir="$B/vg-logs"
rm -rf "$logdir" "$vgdir"; mkdir -p "$logdir" "$vgdir"
# memcheck 20-50x slower, on a shared machine: every harness wait is scaled.
export AXLE_TIME_SCALE=${AXLE_TIME_SCALE:-20}
# Only definite leaks are errors (and only they are listed); "still reachable"
# is what OpenSSL and libevent keep for the process lifetime by design.
VG="valgrind --leak-check=full --errors-for-leak-kinds=definite --show-leak-kinds=definite
 --error-exitcode=99 --num-callers=30 --suppressions=$top/tests/valgrind.supp"
# Not run here, by name: each reason is printed.
SKIP="test_fuzz_smoke:libFuzzer+ASan targets, a sanitizer build by design (see make fuzz)
test_docs:starts no axled (reads docs and sources only)
test_manpages:starts no daemon (man pages, make install staging, axled -n of the installed copy)
test_certs:starts no axled (the certs/ shell tools and openssl only)"
# Single tests of a file not run here (AXLE_SKIP_TESTS), by name and reason.
SKIP_ONE="test_h2_hostile:connection_storm:a throughput bound (connects per minute), bench-like"
pass=0; fail=0; skip=0; failed=""
. "$top/tests/runlib.sh"

vg_clean() {	# prefix: every valgrind log $vgdir/prefix.*.log clean? prints the bad ones
	bad=""
	for l in "$vgdir/$1".*.log; do
		[ -e "$l" ] || continue
		if grep -q 'ERROR SUMMARY: [1-9]' "$l" || grep -q 'definitely lost: [1-9]' "$l"; then
			bad="$bad $l"
		elif ! grep -q 'ERROR SUMMARY:' "$l" && grep -q '^==[0-9]*== *at 0x' "$l"; then
			bad="$bad $l"	# killed (kill -9 tests) after reporting an error
		fi
	done
	[ -z "$bad" ] && return 0
	for l in $bad; do
		echo "    valgrind: $l"; grep -E 'ERROR SUMMARY|definitely lost' "$l" | sed 's/^/      /'
	done
	return 1
}

run_one() {	# name, prefix of its valgrind logs, command...
	name=$1; prefix=$2; shift 2
	log="$logdir/$(echo "$name" | tr '/' '_').log"
	start=$(date +%s)
	timeout 5400 "$@" >"$log" 2>&1; rc=$?
	# A test may leave a SIGTERMed node still writing its leak check: 60 s at most.
	i=0
	while pgrep -f -- "--log-file=$vgdir/$prefix\." >/dev/null && [ $i -lt 600 ]; do
		sleep 0.1; i=$((i + 1))
	done
	nlogs=$(ls "$vgdir/$prefix".*.log 2>/dev/null | wc -l)
	# Processes that exited print the summary; ones a test SIGKILLs by design do not.
	nsum=$(cat "$vgdir/$prefix".*.log 2>/dev/null | grep -c 'ERROR SUMMARY:')
	took="$(( $(date +%s) - start ))s, $nlogs processes, $nsum leak-checked at exit"
	skips "$log" >"$log.skips"
	n=$(grep -c . "$log.skips")
	skip=$((skip + n))
	sed "s|^|SKIP $name: |" "$log.skips"
	if [ "$rc" -eq 77 ] && [ "$n" -gt 0 ] && vg_clean "$prefix" >"$log.vg"; then
		:
	elif [ "$rc" -eq 0 ] && [ "$nsum" -gt 0 ] && vg_clean "$prefix" >"$log.vg"; then
		pass=$((pass + 1)); echo "PASS $name ($took)"
	else
		fail=$((fail + 1)); failed="$failed $name"
		echo "FAIL $name (rc=$rc, $took) -- log: $log"
		[ "$nsum" -gt 0 ] || echo "    no valgrind summary: nothing exited under valgrind"
		vg_clean "$prefix"
		tail -n 20 "$log" | sed 's/^/    /'
	fi
}

if [ "${VG_UNIT:-1}" != 0 ]; then
	unit_tests "$top" "$B" >"$logdir/unit.list"
	while read -r name t; do
		if [ ! -x "$t" ]; then
			fail=$((fail + 1)); failed="$failed $name"
			echo "FAIL $name -- not built: no $t"
			continue
		fi
		p=unit-$(echo "${name#unit/}" | tr '/' '_')
		run_one "$name" "$p" $VG --log-file="$vgdir/$p.%p.log" "$t" </dev/null
	done <"$logdir/unit.list"
fi
for n in ${AXLE_TESTS:-}; do
	[ -e "$top/tests/integration/$n.sh" ] || [ -e "$top/tests/integration/$n.py" ] ||
		{ fail=$((fail + 1)); failed="$failed $n"; echo "FAIL $n -- no such integration test"; }
done
for t in $(ls "$top"/tests/integration/test_*.sh "$top"/tests/integration/test_*.py | sort); do
	base=$(basename "$t"); base=${base%.*}
	if [ -n "${AXLE_TESTS:-}" ]; then
		case " $AXLE_TESTS " in *" $base "*) ;; *) continue ;; esac
	fi
	why=$(echo "$SKIP" | sed -n "s/^$base://p")
	if [ -n "$why" ]; then
		skip=$((skip + 1)); echo "SKIP integration/$(basename "$t"): $why"; continue
	fi
	export AXLE_WRAP="$VG --log-file=$vgdir/$base.%p.log"
	AXLE_SKIP_TESTS=""	# each is counted by run_one from the test's SKIP line
	for s in $(echo "$SKIP_ONE" | sed -n "s/^$base:\([^:]*\):.*/\1/p"); do
		echo "note integration/$base $s: $(echo "$SKIP_ONE" | sed -n "s/^$base:$s://p")"
		AXLE_SKIP_TESTS="$AXLE_SKIP_TESTS $s"
	done
	export AXLE_SKIP_TESTS
	case $t in
	*.py) run_one "integration/$(basename "$t")" "$base" "$PY" "$t" ;;
	*.sh) run_one "integration/$(basename "$t")" "$base" sh "$t" ;;
	esac
done
[ -n "$failed" ] && echo "failed:$failed"
echo "$pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ] && [ "$pass" -gt 0 ]

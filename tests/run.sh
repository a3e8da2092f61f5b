#!/bin/sh
# tests/run.sh -- runs unit tests (cmocka binaries) and integration tests
# (tests/integration/test_*.{sh,py}, real processes on loopback) and ends with
# one "N passed, N failed, N skipped" line. Usage: tests/run.sh BUILD_DIR [unit|integration]
# Passed and failed count test programs. A check that cannot run is never a
# pass: it fails, or, when it truly cannot run here (no root to mount a tmpfs),
# it prints "SKIP check: reason" (cmocka: skip()) and is counted as skipped, one
# a check; a program with nothing it could run exits 77 (automake's convention)
# and counts as one skip. Each skip is printed with its reason.
# AXLE_TESTS="name ..." runs only the integration tests with those base names
# (e.g. "test_mtls test_bad_input"); `make hardening` uses it.
set -u
B=${1:-build}
what=${2:-all}
top=$(cd "$(dirname "$0")/.." && pwd)
B=$(cd "$top" && cd "$B" && pwd) || { echo "no build dir $1"; exit 2; }
export AXLE_BUILD="$B" AXLE_TOP="$top"
PY=/usr/bin/python3
logdir="$B/test-logs"
rm -rf "$logdir"; mkdir -p "$logdir"
pass=0; fail=0; skip=0; failed=""

. "$top/tests/runlib.sh"

run_one() {	# name, command...
	name=$1; shift
	log="$logdir/$(echo "$name" | tr '/' '_').log"
	start=$(date +%s)
	timeout 900 "$@" >"$log" 2>&1; rc=$?
	took="$(( $(date +%s) - start ))s"
	skips "$log" >"$log.skips"
	n=$(grep -c . "$log.skips")
	if [ "$rc" -eq 0 ]; then
		pass=$((pass + 1)); echo "PASS $name ($took)"
	elif [ "$rc" -eq 77 ]; then
		[ "$n" -gt 0 ] || { echo "(exit 77, no reason given) -- log: $log" >"$log.skips"; n=1; }
	else
		fail=$((fail + 1)); failed="$failed $name"
		echo "FAIL $name ($took, exit $rc) -- log: $log"
		# The reasons first (a CI excerpt may show only the first lines), then the tail.
		grep -E '^ *FAIL ' "$log" | head -n 5 | cut -c1-800 | sed 's/^/    reason: /'
		tail -n 30 "$log" | sed 's/^/    /'
	fi
	skip=$((skip + n))
	sed "s|^|SKIP $name: |" "$log.skips"
}

if [ "$what" = all ] || [ "$what" = unit ]; then
	unit_tests "$top" "$B" >"$logdir/unit.list"
	while read -r name bin; do
		if [ -x "$bin" ]; then
			run_one "$name" "$bin" </dev/null
		else
			fail=$((fail + 1)); failed="$failed $name"
			echo "FAIL $name -- not built: no $bin (make unit-bins)"
		fi
	done <"$logdir/unit.list"
fi
if [ "$what" = all ] || [ "$what" = integration ]; then
	for n in ${AXLE_TESTS:-}; do	# a misspelt name must not pass silently
		[ -e "$top/tests/integration/$n.sh" ] || [ -e "$top/tests/integration/$n.py" ] ||
			{ fail=$((fail + 1)); failed="$failed $n"; echo "FAIL $n -- no such integration test"; }
	done
	for t in $(ls "$top"/tests/integration/test_*.sh "$top"/tests/integration/test_*.py 2>/dev/null | sort); do
		if [ -n "${AXLE_TESTS:-}" ]; then
			base=$(basename "$t"); base=${base%.*}
			case " $AXLE_TESTS " in *" $base "*) ;; *) continue ;; esac
		fi
		case $t in
		*.py) run_one "integration/$(basename "$t")" "$PY" "$t" ;;
		*.sh) run_one "integration/$(basename "$t")" sh "$t" ;;
		esac
	done
fi
[ -n "$failed" ] && echo "failed:$failed"
echo "$pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ] && [ "$pass" -gt 0 ]

#!/bin/sh
# tests/run.sh -- runs unit tests (cmocka binaries) and integration tests
# (tests/integration/test_*.{sh,py}, real processes on loopback) and ends with
# one "N passed, N failed" line. Usage: tests/run.sh BUILD_DIR [unit|integration]
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
pass=0; fail=0; failed=""

run_one() {	# name, command...
	name=$1; shift
	log="$logdir/$(echo "$name" | tr '/' '_').log"
	start=$(date +%s)
	if timeout 900 "$@" >"$log" 2>&1; then
		pass=$((pass + 1)); echo "PASS $name ($(( $(date +%s) - start ))s)"
	else
		fail=$((fail + 1)); failed="$failed $name"
		echo "FAIL $name ($(( $(date +%s) - start ))s) -- log: $log"
		tail -n 30 "$log" | sed 's/^/    /'
	fi
}

if [ "$what" = all ] || [ "$what" = unit ]; then
	for t in $(find "$B/tests" -type f -perm -u+x -name 'test_*' 2>/dev/null | sort); do
		run_one "unit/${t#$B/tests/}" "$t"
	done
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
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ] && [ "$pass" -gt 0 ]

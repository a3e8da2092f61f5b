# tests/runlib.sh -- what tests/run.sh and tests/valgrind.sh share (sourced).
#
# Unit tests come from their sources, not from whatever binaries a build
# directory holds: a test that was not built fails, and a stale binary of a
# moved or deleted test is not run.

# top B: "name binary" per tests/unit/**/test_*.c (name unit/<path>)
unit_tests() {
	(cd "$1" && find tests/unit -name 'test_*.c' | sort) | while read -r src; do
		rel=${src#tests/unit/}; rel=${rel%.c}
		echo "unit/$rel $2/tests/$rel"
	done
}

# Skips: a test program that cannot run a check prints "SKIP check: reason"
# (axletest.skip(), or cmocka's skip() as "[  SKIPPED ] check"); one that could
# run nothing exits 77, as automake's test driver has it.

# log: the checks it skipped, "check: reason" one a line
skips() {
	sed -n 's/^SKIP \(.*\)/\1/p
	    s/^\[  SKIPPED \] \([A-Za-z_][A-Za-z0-9_]*\)$/\1: cmocka skip()/p' "$1" | sort -u
}

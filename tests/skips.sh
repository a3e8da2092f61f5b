# tests/skips.sh -- the skip convention of tests/run.sh and tests/valgrind.sh
# (sourced). A test program that cannot run a check prints "SKIP check: reason"
# (axletest.skip(), or cmocka's skip() as "[  SKIPPED ] check"); one that could
# run nothing exits 77, as automake's test driver has it.

# log: the checks it skipped, "check: reason" one a line
skips() {
	sed -n 's/^SKIP \(.*\)/\1/p
	    s/^\[  SKIPPED \] \([A-Za-z_][A-Za-z0-9_]*\)$/\1: cmocka skip()/p' "$1" | sort -u
}

#!/bin/sh
# tests/fuzz/run.sh -- runs libFuzzer targets, each for SECONDS, on a working
# copy of its seed corpus (FUZZ_B/corpus/<target>: the repository's seeds plus
# whatever earlier runs found). Crashes, leaks, timeouts and out-of-memory go
# to FUZZ_B/artifacts/. Ends with "N clean, N failed"; exits 1 if any failed.
# Usage: tests/fuzz/run.sh FUZZ_B SECONDS target...
set -u
B=$1; secs=$2; shift 2
top=$(cd "$(dirname "$0")/../.." && pwd)
mkdir -p "$B/corpus" "$B/artifacts" "$B/logs"
clean=0; failed=""
for t in "$@"; do
	bin=$B/fuzz/$t
	corpus=$B/corpus/$t
	log=$B/logs/$t.log
	mkdir -p "$corpus"
	# cp -n: keep what earlier runs found; the repository is never written.
	[ -d "$top/tests/fuzz/corpus/$t" ] && cp -n "$top/tests/fuzz/corpus/$t"/* "$corpus"/ 2>/dev/null
	dict=""
	[ -f "$top/tests/fuzz/$t.dict" ] && dict="-dict=$top/tests/fuzz/$t.dict"
	start=$(date +%s)
	# shellcheck disable=SC2086
	if ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0} \
	    UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1} \
	    "$bin" -max_total_time="$secs" -rss_limit_mb=2048 -timeout=25 \
	    -print_final_stats=1 -artifact_prefix="$B/artifacts/$t-" $dict \
	    "$corpus" >"$log" 2>&1; then
		clean=$((clean + 1))
		runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
		echo "CLEAN $t ($(( $(date +%s) - start ))s, ${runs:-?} runs, $(ls "$corpus" | wc -l) inputs in corpus)"
	else
		failed="$failed $t"
		echo "FAIL $t ($(( $(date +%s) - start ))s) -- log: $log"
		grep -E 'ERROR|SUMMARY|runtime error|artifact|Test unit written' "$log" | head -n 20 | sed 's/^/    /'
	fi
done
[ -n "$failed" ] && echo "failed:$failed"
echo "$clean clean, $(echo "$failed" | wc -w) failed"
[ -z "$failed" ]

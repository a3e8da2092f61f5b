#!/bin/sh
# tests/integration/test_fuzz_smoke.sh -- builds the libFuzzer targets and runs
# each for 10 s from its seed corpus (`make fuzz-smoke`); fails on any crash,
# sanitizer report, leak or timeout. Fails, naming the packages, when clang
# cannot link -fsanitize=fuzzer: .ci/deps.sh installs clang and libclang-rt-dev,
# so a missing libFuzzer is a broken set-up, never a pass.
set -u
top=${AXLE_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/axle-test-fuzz.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
trap 'exit 1' HUP INT TERM

printf 'int LLVMFuzzerTestOneInput(const unsigned char *d, unsigned long n);\n%s\n' \
    'int LLVMFuzzerTestOneInput(const unsigned char *d, unsigned long n) { (void)d; (void)n; return 0; }' \
    >"$tmp/probe.c"
if ! clang -fsanitize=fuzzer,address,undefined -o "$tmp/probe" "$tmp/probe.c" \
    >"$tmp/probe.log" 2>&1; then
	echo "FAIL clang cannot link -fsanitize=fuzzer (as root: sh .ci/deps.sh, or"
	echo "     apt-get install clang libclang-rt-dev):"
	sed 's/^/    /' "$tmp/probe.log"
	exit 1
fi
# A make of our own: not the jobserver of whatever make runs the suite.
unset MAKEFLAGS MFLAGS MAKELEVEL
cd "$top" && make --no-print-directory -j2 fuzz-smoke

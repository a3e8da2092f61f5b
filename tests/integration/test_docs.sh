#!/bin/sh
# tests/integration/test_docs.sh -- the operator docs keep up with the code: log events, metric families, RPCs, service status, links.
# Usage: sh tests/integration/test_docs.sh (AXLE_TOP as set by tests/run.sh).
# A failure names what to add to which page.
set -u
top=${AXLE_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/axle-test-docs.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
trap 'exit 1' HUP INT TERM
pass=0
fail=0
ok() { pass=$((pass + 1)); echo "ok   $*"; }
bad() { fail=$((fail + 1)); echo "FAIL $*"; }
op=$top/docs/operator.md
proto_md=$top/docs/protocol.md

# Every event name passed to net_log() (the second argument, a string literal).
events=$(cat "$top"/gateway/*/*.c | perl -0ne \
    'while (/\bnet_log\(\s*[^;"]*?,\s*"([a-z0-9_]+)"/g) { print "$1\n" }' | sort -u)
n=$(echo "$events" | grep -c .)
missing=""
for e in $events; do
	grep -q "^| \`$e\` |" "$op" || missing="$missing $e"
done
if [ "$n" -ge 20 ] && [ -z "$missing" ]; then
	ok "operator.md's log table has all $n events of net_log calls"
else
	bad "operator.md section 9 (Logs) lacks a row for events:${missing:- (only $n events found: has net_log changed?)}"
fi

# Every metric family the code writes: "axle_..." string literals and
# "# TYPE axle_..." lines inside longer format strings.
families=$( (cat "$top"/gateway/*/*.c | grep -o '"axle_[a-z0-9_]*' | tr -d '"'
    cat "$top"/gateway/*/*.c | grep -o '# TYPE axle_[a-z0-9_]*' | sed 's/# TYPE //') |
    sort -u)
n=$(echo "$families" | grep -c .)
missing=""
for f in $families; do
	grep -q "^| \`$f\` |" "$op" || missing="$missing $f"
done
if [ "$n" -ge 15 ] && [ -z "$missing" ]; then
	ok "operator.md's metrics table has all $n families"
else
	bad "operator.md section 10 (Metrics) lacks a row for:${missing:- (only $n families found)}"
fi

# Every service and RPC of proto/ is in protocol.md.
missing=""
nrpc=0
for p in "$top"/proto/axle/v1/*.proto; do
	awk '/^service /{ s = $2 } /^[[:space:]]*rpc /{ sub(/\(.*/, "", $2); print s, $2 }' "$p"
done >"$tmp/rpcs"
while read -r svc rpc; do
	nrpc=$((nrpc + 1))
	grep -q "^## Service \`$svc\`" "$proto_md" || missing="$missing service:$svc"
	grep -q "\`$rpc\`\|$svc\.$rpc" "$proto_md" || missing="$missing $svc.$rpc"
done <"$tmp/rpcs"
missing=$(echo "$missing" | tr ' ' '\n' | sort -u | tr '\n' ' ')
if [ "$nrpc" -ge 20 ] && [ -z "$(echo "$missing" | tr -d ' ')" ]; then
	ok "protocol.md describes all $nrpc RPCs of proto/"
else
	bad "protocol.md lacks:$missing (found $nrpc RPCs)"
fi

# The status table matches what node/svc.c registers: "**implemented**" when every
# RPC of a service is served, "**partly implemented**" when some are, neither
# when none is. A method is served when a file defining a gw_svc_* listed in
# node/svc.c names it ("/axle.v1.S/M", or "/axle.v1.S/" and "M" for macro tables).
files=""
for v in $(sed -n 's/^[[:space:]]*&\(gw_svc_[a-z_]*\),.*/\1/p' "$top/gateway/node/svc.c"); do
	files="$files $(grep -l "net_rpc_service $v\b" "$top"/gateway/*/*.c)"
done
served_rpc() {	# service method
	for f in $files; do
		grep -q "\"/axle.v1.$1/$2\"" "$f" && return 0
		grep -q "\"/axle.v1.$1/\"" "$f" && grep -q "\"$2\"" "$f" && return 0
	done
	return 1
}
wrong=""
summary=""
for svc in $(awk '{print $1}' "$tmp/rpcs" | sort -u); do
	total=0 got=0
	for m in $(awk -v s="$svc" '$1 == s {print $2}' "$tmp/rpcs"); do
		total=$((total + 1))
		served_rpc "$svc" "$m" && got=$((got + 1))
	done
	summary="$summary $svc:$got/$total"
	row=$(grep "^| \`$svc\` |" "$proto_md" | head -n 1)
	if [ -z "$row" ]; then
		wrong="$wrong $svc(no status row)"
	elif [ "$got" -eq "$total" ]; then
		echo "$row" | grep -q '\*\*implemented\*\*' ||
			wrong="$wrong $svc(all $total served: say **implemented**)"
	elif [ "$got" -gt 0 ]; then
		echo "$row" | grep -q '\*\*partly implemented\*\*' ||
			wrong="$wrong $svc($got of $total served: say **partly implemented**)"
	elif echo "$row" | grep -q 'implemented\*\*'; then
		wrong="$wrong $svc(none served: do not say implemented)"
	fi
done
if [ -n "$files" ] && [ -z "$wrong" ]; then
	ok "protocol.md's status table matches node/svc.c (served:$summary)"
else
	bad "protocol.md status table disagrees with gateway/node/svc.c (served:$summary):$wrong"
fi

# Relative links between the docs resolve.
missing=""
for md in "$top"/docs/*.md; do
	dir=$(dirname "$md")
	for l in $(grep -o '](\([^)#: ]*\)[)#]' "$md" | sed 's/^](//; s/[)#]$//' | sort -u); do
		[ -n "$l" ] && [ ! -e "$dir/$l" ] && missing="$missing $(basename "$md"):$l"
	done
done
[ -z "$missing" ] && ok "relative links in docs/*.md resolve" ||
	bad "broken links:$missing"

# Every test security.md names as evidence exists: the file, and the case in
# it (`file::case`; a bare `case` after one names a case of the same file).
missing=$(/usr/bin/python3 - "$top" <<'PYEOF'
import os, re, sys
top = sys.argv[1]
files = {}
for d, _, fs in os.walk(os.path.join(top, 'tests')):
    for f in fs:
        files.setdefault(f, os.path.join(d, f))
bad = []
cur = None
for line in open(os.path.join(top, 'docs', 'security.md')):
    if not line.startswith('|'):
        continue
    cur = None
    for tok in re.findall(r'`([^`]+)`', line.split('|')[-2] if line.count('|') > 3 else ''):
        m = re.fullmatch(r'(test_\w+\.(?:py|sh|c))(?:::(\w+))?', tok)
        if m:
            cur = files.get(m.group(1))
            if cur is None:
                bad.append(m.group(1))
                continue
            case = m.group(2)
        elif cur and re.fullmatch(r'\w+', tok):
            case = tok
        else:
            cur = None
            continue
        if case and not re.search(r'\b%s\b' % case, open(cur).read()):
            bad.append('%s::%s' % (os.path.basename(cur), case))
print(' '.join(bad))
PYEOF
)
[ -z "$missing" ] && ok "every test docs/security.md names exists" ||
	bad "docs/security.md names tests that do not exist: $missing"

# --- the docs name only what exists -----------------------------------------

# The design is docs/design.md: no page, comment or proto cites the
# upper-case design file of the project's shared folder (not in this repository),
# and every section cited by name ('design.md "Switch"', '[design.md](design.md)
# ("Addresses", ...)', and design.md's own 'see "Durability"') is a heading of it.
design=$top/docs/design.md
files=$(cd "$top" && git ls-files 2>/dev/null | grep -v '^tests/integration/test_docs.sh$')
[ -n "$files" ] || files=$(cd "$top" && find . -type f ! -path './build*' ! -path './.git/*' |
    sed 's|^\./||' | grep -v '^tests/integration/test_docs.sh$')
shared_design="DESIGN"".md"	# spelt in two parts: this file cites nothing
upper=$(cd "$top" && echo "$files" | tr '\n' '\0' | xargs -0 grep -InF "$shared_design" 2>/dev/null)
[ -z "$upper" ] && ok "nothing cites $shared_design (the design is docs/design.md)" ||
	bad "cite docs/design.md, not $shared_design: $upper"
cited=$(cd "$top" && echo "$files" | tr '\n' '\0' | xargs -0 /usr/bin/python3 -c '
import re, sys
cite = re.compile(r"design\.md(?:\]\(design\.md\))?\)?,?\s*\(?((?:\"[^\"]+\"(?:,\s*)?)+)")
see = re.compile(r"see ((?:\"[^\"]+\"(?:,\s*)?)+)")
for f in sys.argv[1:]:
    try:
        text = open(f, errors="replace").read()
    except (IsADirectoryError, FileNotFoundError):
        continue
    for n, line in enumerate(text.splitlines(), 1):
        hits = cite.findall(line) + (see.findall(line) if f == "docs/design.md" else [])
        for h in hits:
            for name in re.findall(r"\"([^\"]+)\"", h):
                print("%s:%d\t%s" % (f, n, name))
')
ncited=$(echo "$cited" | grep -c .)
missing=$(echo "$cited" | while IFS='	' read -r where name; do
	[ -n "$name" ] && ! grep -qxF "## $name" "$design" && echo "$where:\"$name\""
done | tr '\n' ' ')
if [ ! -f "$design" ]; then
	bad "docs/design.md is missing"
elif [ "$ncited" -ge 10 ] && [ -z "$missing" ]; then
	ok "all $ncited citations of docs/design.md name one of its sections"
else
	bad "citations of docs/design.md naming no section of it (found $ncited):${missing:- too few found: has the citation form changed?}"
fi

# Repository paths in backticks in README.md and docs/*.md exist (globs too).
missing=""
npaths=0
for md in "$top/README.md" "$top"/docs/*.md; do
	for p in $(grep -o '`\(gateway\|registry\|recourse\|proto\|certs\|tests\|docs\|\.ci\)/[A-Za-z0-9_./*-]*`' "$md" |
	    tr -d '`' | sort -u); do
		npaths=$((npaths + 1))
		# shellcheck disable=SC2086 # a glob on purpose
		set -- "$top"/$p
		[ -e "$1" ] || missing="$missing $(basename "$md"):$p"
	done
done
if [ "$npaths" -ge 20 ] && [ -z "$missing" ]; then
	ok "all $npaths repository paths named in README.md and docs/*.md exist"
else
	bad "README.md or docs/*.md name paths that do not exist (found $npaths):$missing"
fi

# Relative links of README.md resolve (docs/*.md's are checked above).
missing=""
for l in $(grep -o '](\([^)#: ]*\)[)#]' "$top/README.md" | sed 's/^](//; s/[)#]$//' | sort -u); do
	[ -n "$l" ] && [ ! -e "$top/$l" ] && missing="$missing $l"
done
[ -z "$missing" ] && ok "relative links in README.md resolve" || bad "README.md broken links:$missing"

# No page or help text says a part is still being built: the status table of
# protocol.md (checked above) is where the status of a service lives.
stale=$(grep -rnIiE 'being (built|wired)|wired in\b|as they land' "$top/README.md" "$top/docs" \
    "$top/gateway" "$top/certs" 2>/dev/null | sed "s|^$top/||")
[ -z "$stale" ] && ok "no doc or help text says a part is still being built" ||
	bad "stale status (say what the code does, or list it under design.md's \"Not in this version\"): $stale"

# The closing line of the test runner is the one README.md describes.
want='N passed, N failed, N skipped'
if grep -qF "\`$want\`" "$top/README.md" &&
    grep -qF 'echo "$pass passed, $fail failed, $skip skipped"' "$top/tests/run.sh" &&
    grep -qF "'%d passed, %d failed, %d skipped'" "$top/tests/integration/axletest.py"; then
	ok "README.md, tests/run.sh and axletest.py agree on the closing line '$want'"
else
	bad "the closing line '$want' differs between README.md, tests/run.sh and axletest.py"
fi

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]

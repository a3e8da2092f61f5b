#!/bin/sh
# tests/integration/test_demo.sh -- runs the README's demo (tests/demo/demo.sh) non-interactively and checks each step's outcome from its DEMO-STEP lines and saved --json outputs, not its wording; then DEMO_KEEP=1: the env files it prints work, and make demo-stop stops it all, a restarted node too.
# Usage: sh tests/integration/test_demo.sh (AXLE_BUILD, AXLE_TOP as set by tests/run.sh).
set -u
top=${AXLE_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
B=${AXLE_BUILD:-$top/build}
PY=/usr/bin/python3
tmp=$(mktemp -d "${TMPDIR:-/tmp}/axle-test-demo.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
trap 'exit 1' HUP INT TERM
pass=0
fail=0
ok() { pass=$((pass + 1)); echo "ok   $*"; }
bad() { fail=$((fail + 1)); echo "FAIL $*"; }
res=$tmp/results

# Bounded: the demo must finish well within 3 minutes (times AXLE_TIME_SCALE under valgrind).
DEMO_RESULTS=$res timeout -k 5 $((170 * ${AXLE_TIME_SCALE:-1})) sh "${DEMO_SCRIPT:-$top/tests/demo/demo.sh}" "$B" </dev/null >"$tmp/out" 2>&1
rc=$?
[ $rc = 0 ] && ok "the demo exits 0" || { bad "the demo exited $rc"; tail -n 40 "$tmp/out" | sed 's/^/       | /'; }

# Every step, in order, reported ok=1 both on stdout and in the results dir.
STEPS="certs start registrars relayed cross_region index_fanout recourse_open recourse_escalate recourse_resolve suspend release stop"
for s in $STEPS; do
	if grep -q "^DEMO-STEP name=$s ok=1 " "$res/steps.txt" 2>/dev/null &&
	    grep -q "^DEMO-STEP name=$s ok=1 " "$tmp/out"; then
		ok "step $s: ok=1"
	else
		bad "step $s: $(grep "name=$s " "$res/steps.txt" 2>/dev/null || echo 'never reported')"
	fi
done
grep -q 'ok=0' "$res/steps.txt" 2>/dev/null && bad "a step reported ok=0"
got=$(sed -n 's/^DEMO-STEP name=\([a-z_]*\) .*/\1/p' "$res/steps.txt" 2>/dev/null | tr '\n' ' ')
[ "$got" = "$STEPS " ] && ok "steps ran in order" || bad "steps: $got"

# check NAME PYTHON-ASSERTION: evaluated with j = the JSON the demo saved as NAME.json.
check() {
	if "$PY" -c 'import base64, json, sys
j = json.load(open(sys.argv[1]))
assert eval(sys.argv[2]), sys.argv[2]' "$res/$1.json" "$2" 2>"$tmp/err"; then
		ok "$1: $3"
	else
		bad "$1: $3"; sed 's/^/       | /' "$tmp/err" | tail -n 3
	fi
}
msgs() { echo "[d for d in j if not d.get('receipt')]"; }
check discover "sum(1 for s in json.dumps(j).split('uk.westyorks.idx')[1:]) >= 2" \
    "the root discovers both index services"
check reg-wy-hub "j['registrar']['status'] == 'ACTIVE'" "wy-hub activated"
check send-x "j['receipt']['kind'] == 'ACCEPTED'" "cross-region send accepted"
check wy-inbox "[[h['region'] for h in d['envelope']['trace']] for d in $(msgs) if d['envelope']['context'] == 'demo-case-1'][0] == ['uk.london', 'uk', 'uk.westyorks']" \
    "the message crossed uk.london -> uk -> uk.westyorks"
check lon-receipts "{'DELIVERED', 'FETCHED', 'ACKNOWLEDGED'} <= {d['receipt']['kind'] for d in j if d.get('receipt') and d['receipt']['node'] == 'uk.westyorks'}" \
    "delivered, fetched and acknowledged receipts came back from uk.westyorks"
for n in idx1 idx2; do
	check "idx-$n" "len([d for d in $(msgs) if d['envelope']['context'] == 'demo-who-knows' and d['envelope']['to'] == 'uk.westyorks.$n.index']) == 1" \
	    "exactly one fanned-out copy for $n"
done
check send-unknown "j['receipt']['case_id'].startswith('uk.london/')" "unknown address opened a case"
check cases-uk "[c for c in j['cases'] if c['id'].startswith('uk.london/')][0]['path'] == ['uk.london', 'uk']" \
    "the case escalated to the root"
check redirect "j['record']['state'] == 'RESOLVED'" "the admin's redirect resolved the case"
check wy-inbox "any(d['envelope']['context'] == 'demo-lost' for d in $(msgs))" \
    "the redirected message was delivered"
check suspend "j['registrar']['status'] == 'SUSPENDED'" "wy-hub suspended"
check lon-held "sum(1 for d in j if (d.get('receipt') or {}).get('kind') == 'HELD') >= 3" \
    "held receipts for the three messages"
check wy-while-suspended "not any(d['envelope']['context'].startswith('demo-held') for d in j)" \
    "nothing delivered while suspended"
check activate "j['registrar']['status'] == 'ACTIVE' and j.get('released') == 3" \
    "reactivation released the three"
check wy-released "[d['envelope']['context'] for d in $(msgs) if d['envelope']['context'].startswith('demo-held')] == ['demo-held-1', 'demo-held-2', 'demo-held-3']" \
    "released messages delivered once each, in order"

# It cleaned up: its nodes are gone and so is its work dir.
left=
for p in $(cat "$res/pids" 2>/dev/null); do kill -0 "$p" 2>/dev/null && left="$left $p"; done
[ -s "$res/pids" ] && [ -z "$left" ] && ok "no demo node left running" ||
	{ bad "demo nodes left running:$left"; for p in $left; do kill -TERM "$p"; done; }
w=$(cat "$res/workdir" 2>/dev/null)
[ -n "$w" ] && [ ! -e "$w" ] && ok "the demo's work dir was removed" || bad "work dir '$w' left behind"
# --- DEMO_KEEP=1: short commands, env files, make demo-stop ---------------------------------
# A quick kept federation (DEMO_UNTIL=start: the three nodes, no traffic), listed in its own
# runs file so that a demo the user kept is not touched.
runs=$tmp/demo-runs
DEMO_KEEP=1 DEMO_UNTIL=start DEMO_RUNS=$runs timeout -k 5 $((60 * ${AXLE_TIME_SCALE:-1})) \
    sh "${DEMO_SCRIPT:-$top/tests/demo/demo.sh}" "$B" </dev/null >"$tmp/keep" 2>&1
rc=$?
kw=$(cat "$runs" 2>/dev/null)
if [ $rc = 0 ] && [ -n "$kw" ] && [ -d "$kw" ]; then
	ok "DEMO_KEEP=1 exits 0 and lists its folder for demo-stop"
else
	bad "DEMO_KEEP=1: exit $rc, runs file '$kw'"; tail -n 20 "$tmp/keep" | sed 's/^/       | /'
fi
grep -q "^   \. $kw/env " "$tmp/keep" && grep -q 'make demo-stop' "$tmp/keep" &&
    ! grep -q -- 'axlectl.*--cert' "$tmp/keep" &&
    ok "it prints short commands: . $kw/env, make demo-stop (no --cert lines)" ||
    { bad "DEMO_KEEP=1 does not print the short commands"; sed 's/^/       | /' "$tmp/keep" | tail -n 12; }
# Every variable the env files set is one axlectl reads, documented in axlectl(1).
vars=$(sed -n 's/^export \(AXLE_[A-Z_]*\)=.*/\1/p' "$kw"/env* 2>/dev/null | sort -u)
undoc=
for v in $vars; do
	grep -q "^\.B $v\$" "$top/docs/man/axlectl.1" && grep -q "\"$v\"" "$top/gateway/ctl/ctl.c" ||
	    undoc="$undoc $v"
done
[ "$(echo "$vars" | grep -c .)" -ge 5 ] && [ -z "$undoc" ] &&
    ok "the env files set $(echo $vars) (read by axlectl, in axlectl(1) ENVIRONMENT)" ||
    bad "env file variables not read by axlectl or not in axlectl(1):$undoc (found: $(echo $vars))"
# Sourced in a clean environment, plain `axlectl` talks to the right node as the right user.
( env -i HOME="$tmp" PATH=/usr/bin:/bin sh -c '. "$1/env" && axlectl info' sh "$kw" ) >"$tmp/info" 2>&1 &&
    grep -q '^region  *uk$' "$tmp/info" && grep -q 'admin' "$tmp/info" &&
    ok ". env; axlectl info: uk's node, as its admin" ||
    { bad ". env; axlectl info failed"; sed 's/^/       | /' "$tmp/info" | head -n 8; }
( env -i HOME="$tmp" PATH=/usr/bin:/bin sh -c '. "$1/env.uk.london.hub" && axlectl info' sh "$kw" ) \
    >"$tmp/info" 2>&1 && grep -q '^region  *uk.london$' "$tmp/info" &&
    grep -q '^caller  *axle://fame-demo/member/uk.london.hub$' "$tmp/info" &&
    ok ". env.uk.london.hub; axlectl info: uk.london's node, as its hub" ||
    { bad ". env.uk.london.hub; axlectl info failed"; sed 's/^/       | /' "$tmp/info" | head -n 8; }
# Restart uk.london with the command the demo printed, then make demo-stop stops all three.
first=$(cat "$kw"/*/axled.pid 2>/dev/null | tr '\n' ' ')
old=$(cat "$kw/uk.london/axled.pid" 2>/dev/null)
restart=$(sed -n 's/^   restart a node: //p' "$tmp/keep" | sed 's|/uk\([/ ;)]\)|/uk.london\1|g')
kill -TERM "$old" 2>/dev/null
n=0; while kill -0 "$old" 2>/dev/null && [ $n -lt 100 ]; do sleep 0.1; n=$((n + 1)); done
: >"$kw/uk.london/axled.log"
( env -i HOME="$tmp" PATH=/usr/bin:/bin sh -c '. "$1/env" && eval "$2"' sh "$kw" "${restart#*; }" ) >/dev/null 2>&1
n=0; until grep -q 'event=listening' "$kw/uk.london/axled.log" 2>/dev/null || [ $n -ge $((100 * ${AXLE_TIME_SCALE:-1})) ]; do
	sleep 0.1; n=$((n + 1))
done
new=$(cat "$kw/uk.london/axled.pid" 2>/dev/null)
if [ -n "$new" ] && [ "$new" != "$old" ] && kill -0 "$new" 2>/dev/null &&
    grep -q 'event=listening' "$kw/uk.london/axled.log"; then
	ok "uk.london restarted with the printed command (pid $old -> $new)"
else
	bad "the printed restart command did not restart uk.london: '$restart'"
fi
if DEMO_RUNS=$runs make -s --no-print-directory -C "$top" demo-stop B="$B" >"$tmp/stop" 2>&1; then
	ok "make demo-stop exits 0: $(cat "$tmp/stop")"
else
	bad "make demo-stop failed"; sed 's/^/       | /' "$tmp/stop"
fi
left=
for p in $first $new; do kill -0 "$p" 2>/dev/null && left="$left $p"; done
[ -n "$first" ] && [ -z "$left" ] && ok "demo-stop stopped every node, the restarted one too" ||
	{ bad "nodes left running after demo-stop:$left"; for p in $left; do kill -KILL "$p"; done; }
[ ! -e "$kw" ] && [ ! -e "$runs" ] && ok "demo-stop removed the folder and its list" ||
	{ bad "demo-stop left $kw or $runs"; rm -rf "$kw"; }

echo "$pass passed, $fail failed"
[ $fail = 0 ]

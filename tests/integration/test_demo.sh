#!/bin/sh
# tests/integration/test_demo.sh -- runs the README's demo (tests/demo/demo.sh) non-interactively and checks each step's outcome from its DEMO-STEP lines and saved --json outputs, not its wording.
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
check reg-wy-hub "j['registrar']['status'] == 'REGISTRAR_STATUS_ACTIVE'" "wy-hub activated"
check send-x "j['receipt']['kind'] == 'RECEIPT_KIND_ACCEPTED'" "cross-region send accepted"
check wy-inbox "[[h['region'] for h in d['envelope']['trace']] for d in $(msgs) if d['envelope']['context'] == 'demo-case-1'][0] == ['uk.london', 'uk', 'uk.westyorks']" \
    "the message crossed uk.london -> uk -> uk.westyorks"
check lon-receipts "{'RECEIPT_KIND_DELIVERED', 'RECEIPT_KIND_FETCHED', 'RECEIPT_KIND_ACKNOWLEDGED'} <= {d['receipt']['kind'] for d in j if d.get('receipt') and d['receipt']['node'] == 'uk.westyorks'}" \
    "delivered, fetched and acknowledged receipts came back from uk.westyorks"
for n in idx1 idx2; do
	check "idx-$n" "len([d for d in $(msgs) if d['envelope']['context'] == 'demo-who-knows' and d['envelope']['to'] == 'uk.westyorks.$n.index']) == 1" \
	    "exactly one fanned-out copy for $n"
done
check send-unknown "j['receipt']['case_id'].startswith('uk.london/')" "unknown address opened a case"
check cases-uk "[c for c in j['cases'] if c['id'].startswith('uk.london/')][0]['path'] == ['uk.london', 'uk']" \
    "the case escalated to the root"
check redirect "j['record']['state'] == 'CASE_STATE_RESOLVED'" "the admin's redirect resolved the case"
check wy-inbox "any(d['envelope']['context'] == 'demo-lost' for d in $(msgs))" \
    "the redirected message was delivered"
check suspend "j['registrar']['status'] == 'REGISTRAR_STATUS_SUSPENDED'" "wy-hub suspended"
check lon-held "sum(1 for d in j if (d.get('receipt') or {}).get('kind') == 'RECEIPT_KIND_HELD') >= 3" \
    "held receipts for the three messages"
check wy-while-suspended "not any(d['envelope']['context'].startswith('demo-held') for d in j)" \
    "nothing delivered while suspended"
check activate "j['registrar']['status'] == 'REGISTRAR_STATUS_ACTIVE' and j.get('released') == 3" \
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
echo "$pass passed, $fail failed"
[ $fail = 0 ]

#!/bin/sh
# tests/demo/demo.sh -- the README's main command: a three-node demo federation
# on loopback (uk, with children uk.london and uk.westyorks), registrars and services,
# hubs exchanging messages, an index fan-out, a recourse case resolved by an admin and a
# registrar suspended then reactivated; each step explained, then stopped and cleaned up.
# Usage: tests/demo/demo.sh BUILD_DIR (or: make demo)
# Env: DEMO_KEEP=1 leaves the federation running, writes env files to source (AXLE_* for
#      axlectl) and prints short commands; `make demo-stop` (tests/demo/demo-stop.sh) stops it;
#      DEMO_UNTIL=start ends after the nodes start (with DEMO_KEEP=1: a quick federation, for
#      tests/integration/test_demo.sh); DEMO_RUNS=FILE where kept demos are listed for
#      demo-stop (default BUILD_DIR/demo-runs);
#      DEMO_RESULTS=DIR keeps each step's outcome (steps.txt, one "DEMO-STEP name=... ok=0|1
#      detail=..." line per step) and axlectl's --json outputs there; DEMO_PORT=N first port.
#      AXLE_WRAP / AXLE_TIME_SCALE as in tests/integration/axletest.py (make valgrind).
set -eu
B=$(cd "${1:-build}" && pwd)
top=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/axle-demo.XXXXXX")
res=${DEMO_RESULTS:-$work/results}
mkdir -p "$res"
res=$(cd "$res" && pwd)
: >"$res/steps.txt"
fed=fame-demo
REGIONS="uk uk.london uk.westyorks"
base=${DEMO_PORT:-$((20000 + $$ % 20000))}
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
pids=

say() { printf '\n== %s\n' "$*"; }
tell() { printf '   %s\n' "$*"; }
port_of() {
	case $1 in uk) echo "$base" ;; uk.london) echo $((base + 1)) ;; *) echo $((base + 2)) ;; esac
}
stop_all() {
	for p in $pids; do kill -TERM "$p" 2>/dev/null || true; done
	for p in $pids; do wait "$p" 2>/dev/null || true; done
	pids=
}
cleanup() { stop_all; rm -rf "$work"; }
[ "${DEMO_KEEP:-0}" = 1 ] || trap cleanup EXIT
trap 'exit 130' INT TERM

# A step's outcome, for people and for tests/integration/test_demo.sh.
ok() { echo "DEMO-STEP name=$1 ok=1 detail=$2" | tee -a "$res/steps.txt"; }
fail() {
	echo "DEMO-STEP name=$1 ok=0 detail=$2" | tee -a "$res/steps.txt"
	for r in $REGIONS; do
		echo "--- last lines of $r's log ---"; tail -n 15 "$work/$r/axled.log" 2>/dev/null || true
	done
	exit 1
}

# ctl REGION WHO ARGS...: axlectl against REGION's node as its admin, its member hub
# (uk.<region>.hub) or another member (the base name of its files under pki/extra).
ctl() {
	r=$1 who=$2; shift 2
	case $who in
	admin | member) c=$work/pki/$r/$who ;;
	*) c=$work/pki/extra/$who ;;
	esac
	"$B/axlectl" --server "127.0.0.1:$(port_of "$r")" --federation "$fed" \
	    --cert "$c.chain.pem" --key "$c.key" --trust "$work/pki/trust" "$@"
}
# ctlj NAME REGION WHO ARGS...: the same with --json, kept as $res/NAME.json.
ctlj() { _cn=$1 _cr=$2 _cw=$3; shift 3; ctl "$_cr" "$_cw" --json "$@" >"$res/$_cn.json"; }
# jq-like: jget FILE PYTHON-EXPR-ON-j
jget() { "$PY" -c 'import json,sys; j=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2"; }

# poll SECONDS CMD...: runs CMD every 0.3 s until it succeeds; 1 if it never did.
poll() {
	_pn=$(($1 * ${AXLE_TIME_SCALE:-1} * 10 / 3)); shift
	while [ "$_pn" -gt 0 ]; do
		if "$@"; then return 0; fi
		sleep 0.3; _pn=$((_pn - 1))
	done
	return 1
}

# fetch_into NAME REGION WHO: one fetch (and ack of what came) appended to $res/NAME.json
# (a JSON array of every delivery seen so far).
fetch_into() {
	_fn=$1 _fr=$2 _fw=$3
	ctl "$_fr" "$_fw" --json fetch --max 100 --wait-ms 300 >"$work/batch.json" || return 1
	[ -f "$res/$_fn.json" ] || echo '[]' >"$res/$_fn.json"
	"$PY" - "$res/$_fn.json" "$work/batch.json" <<'PY'
import json, sys
a = json.load(open(sys.argv[1])); b = json.load(open(sys.argv[2]))
json.dump(a + b, open(sys.argv[1], 'w'), indent=1)
PY
	# axlectl's --json feeds straight back in: ack - takes fetch --json's ids.
	[ "$(cat "$work/batch.json")" = "[]" ] || ctl "$_fr" "$_fw" ack - <"$work/batch.json" >/dev/null
}
# has NAME PY-COND: some delivery d in $res/NAME.json satisfies PY-COND (d, e=d['envelope'],
# rc=d.get('receipt') or {}).
has() {
	"$PY" -c 'import json,sys
for d in json.load(open(sys.argv[1])):
    e = d.get("envelope", {}); rc = d.get("receipt") or {}
    if eval(sys.argv[2]): sys.exit(0)
sys.exit(1)' "$res/$1.json" "$2" 2>/dev/null
}
# wait_for_msg NAME REGION WHO SECONDS PY-COND: fetches until has NAME PY-COND.
wait_for_msg() {
	cond=$5
	_wi=$(($4 * 2 * ${AXLE_TIME_SCALE:-1})) _wn=$1 _wr=$2 _ww=$3
	while [ "$_wi" -gt 0 ]; do
		fetch_into "$_wn" "$_wr" "$_ww" || true
		has "$_wn" "$cond" && return 0
		_wi=$((_wi - 1))
	done
	return 1
}
# show NAME: the deliveries of $res/NAME.json in words.
show() {
	"$PY" -c 'import json,sys
for d in json.load(open(sys.argv[1])):
    e = d["envelope"]; rc = d.get("receipt")
    if rc:
        print("   receipt %-14s for %s from node %s%s" % (rc.get("kind", "?"),
              rc.get("message_id", "")[:12] + "...", rc.get("node", "-"),
              (" (case %s)" % rc["case_id"]) if rc.get("case_id") else ""))
    else:
        print("   message %s... from %s to %s, type %s, via %s" % (
              e["message_id"][:12], e.get("sender"), e.get("to"),
              e.get("message_type"), " -> ".join(h.get("region", "?") for h in e.get("trace", []))))' \
	    "$res/$1.json"
}

# env_file FILE REGION WHO: the AXLE_* settings for axlectl as REGION's admin or member hub.
env_file() {
	{
		echo "# $1 -- source it (. $1): axlectl then talks to $2's node as its $3."
		echo "# Written by tests/demo/demo.sh (DEMO_KEEP=1); make demo-stop stops the demo."
		echo "export AXLE_SERVER=127.0.0.1:$(port_of "$2")"
		echo "export AXLE_FEDERATION=$fed"
		echo "export AXLE_CERT=$work/pki/$2/$3.chain.pem"
		echo "export AXLE_KEY=$work/pki/$2/$3.key"
		echo "export AXLE_TRUST=$work/pki/trust"
		echo "case :\$PATH: in *:$B:*) ;; *) PATH=$B:\$PATH ;; esac"
	} >"$1"
}

# DEMO_KEEP=1: leave it running (and say how to use and stop it), else go on to stop it.
keep_running() {
	[ "${DEMO_KEEP:-0}" = 1 ] || return 0
	for r in $REGIONS; do
		env_file "$work/env.$r" "$r" admin
		env_file "$work/env.$r.hub" "$r" member
	done
	cp "$work/env.uk" "$work/env"
	# make demo-stop finds the demo (every one kept) from here.
	echo "$work" >>"${DEMO_RUNS:-$B/demo-runs}"
	say "The federation is still running. Poke at it with axlectl:"
	tell ". $work/env        # uk's admin (env.<region> for another, env.<region>.hub as its hub)"
	tell "axlectl info; axlectl cases list; axlectl registrar list; axlectl outbox"
	tell ". $work/env.uk.london.hub; axlectl send --to uk.westyorks.hub --from uk.london.hub --type note.v1"
	tell ". $work/env.uk.westyorks.hub; axlectl fetch; axlectl ack --all"
	tell "restart a node: kill \$(cat $work/uk/axled.pid); (cd $work/uk && { axled -c axled.conf 2>>axled.log & echo \$! >axled.pid; })"
	tell "metrics: curl --cacert $work/pki/ca/ca.pem --cert \$AXLE_CERT --key \$AXLE_KEY https://localhost:$base/metrics"
	tell "stop it all (restarted nodes too) and remove $work: make demo-stop"
	exit 0
}

say "1. Issuing a dev federation's certificates ($fed: $REGIONS)"
"$top/certs/axle-dev-federation" "$work/pki" "$fed" $REGIONS >/dev/null
for n in idx1 idx2; do
	"$top/certs/axle-cert-issue" "$work/pki/ca" member "uk.westyorks.$n" \
	    --out "$work/pki/extra" --name "$n" >/dev/null
done
tell "one CA; for each region a node, an admin and a member (hub) certificate;"
tell "two more members for the index services uk.westyorks.idx1 and uk.westyorks.idx2"
[ -f "$work/pki/extra/idx2.chain.pem" ] && ok certs "fed=$fed regions=3 extra_members=2" ||
	fail certs "certificates missing"

say "2. Starting three nodes: uk (the root) with children uk.london and uk.westyorks"
for r in $REGIONS; do
	mkdir -p "$work/$r"
	{
		printf '[node]\nfederation = %s\nregion = %s\nlisten = 127.0.0.1:%s\ndata_dir = data\n' \
		    "$fed" "$r" "$(port_of "$r")"
		[ "$r" = uk ] || printf 'parent = uk\n'
		printf '\n[tls]\ncert = ../pki/%s/node.chain.pem\nkey = ../pki/%s/node.key\n' "$r" "$r"
		printf 'trust_dir = ../pki/trust\n'
		printf '\n[recourse]\ncase_deadline_ms = 2000\nretry_base_ms = 200\n'
		printf 'retry_cap_ms = 2000\nescalate_timeout_ms = 3000\n'
		printf '\n[registry]\nmirror_interval_ms = 200\n'
		# The leaves peer with the root only, so london <-> westyorks relays through uk.
		for p in $REGIONS; do
			[ "$p" = "$r" ] && continue
			[ "$r" != uk ] && [ "$p" != uk ] && continue
			printf '\n[peer %s]\naddress = 127.0.0.1:%s\n' "$p" "$(port_of "$p")"
			[ "$p" = uk ] || printf 'parent = uk\n'
		done
	} >"$work/$r/axled.conf"
	(cd "$work/$r" && ${AXLE_WRAP:-} "$B/axled" -n -c axled.conf >/dev/null) || fail start "bad config for $r"
	(cd "$work/$r" && exec ${AXLE_WRAP:-} "$B/axled" -c axled.conf 2>axled.log) &
	pids="$pids $!"
	echo $! >"$work/$r/axled.pid"
done
echo "$pids" >"$res/pids"
echo "$work" >"$res/workdir"
started=0
for r in $REGIONS; do
	if poll 10 grep -q 'event=listening' "$work/$r/axled.log"; then
		tell "$r listening on 127.0.0.1:$(port_of "$r")"
		started=$((started + 1))
	fi
done
[ $started = 3 ] && ok start "nodes=3 root=uk children=uk.london,uk.westyorks" ||
	fail start "only $started of 3 nodes started"
[ "${DEMO_UNTIL:-}" = start ] && keep_running && { stop_all; exit 0; }

say "3. Registrars: delegated a prefix, activated; index services published in uk.westyorks"
reg() {	# REGION ID PREFIX
	ctl "$1" admin delegate "$3" "$2" --name "$2" --cert "axle://$fed/member/$3" >/dev/null &&
	    ctlj "reg-$2" "$1" admin registrar activate "$2" --reason "demo: onboarded" &&
	    tell "$1: registrar $2 holds $3 ($(jget "$res/reg-$2.json" "j['registrar']['status']" 2>/dev/null || echo '?'))"
}
regs=0
reg uk.london lon-hub uk.london.hub && regs=$((regs + 1))
reg uk.westyorks wy-hub uk.westyorks.hub && regs=$((regs + 1))
for ix in idx1 idx2; do
	reg uk.westyorks "wy-$ix" "uk.westyorks.$ix" && regs=$((regs + 1))
	ctl uk.westyorks admin service publish "wy-$ix" "$ix-index" --kind index \
	    --address "uk.westyorks.$ix.index" --type index.query \
	    --purpose safeguarding-s47 >/dev/null &&
	    tell "uk.westyorks: wy-$ix publishes index service $ix-index at uk.westyorks.$ix.index"
done
reg uk uk-hub uk.hub && regs=$((regs + 1))
# Each node mirrors its peers' registers: wait until the root sees both index services.
seen_idx() {
	ctlj discover uk member discover --prefix uk.westyorks --kind index 2>/dev/null &&
	    [ "$(grep -c 'uk.westyorks.idx[12].index' "$res/discover.json")" -ge 2 ] &&
	    ctl uk member resolve uk.london.hub >/dev/null 2>&1 &&
	    ctl uk member resolve uk.westyorks.hub >/dev/null 2>&1
}
if [ $regs = 5 ] && poll 30 seen_idx; then
	tell "uk discovers both index services through its mirror of uk.westyorks:"
	ctl uk member discover --prefix uk.westyorks --kind index | sed 's/^/   /'
	ok registrars "registrars=$regs index_services=2 mirrored=1"
else
	fail registrars "registrars=$regs, or the mirrors never showed the index services"
fi
# uk.westyorks does not peer with uk.london: uk relays London's feed, as London signed it.
seen_lon() {
	ctlj resolve-lon uk.westyorks member resolve uk.london.hub 2>/dev/null &&
	    [ "$(jget "$res/resolve-lon.json" "j['registrar']['id']")" = lon-hub ]
}
if poll 30 seen_lon; then
	tell "uk.westyorks resolves a London address from London's feed, relayed by uk:"
	ctl uk.westyorks member resolve uk.london.hub | sed 's/^/   /'
	ok relayed "at=uk.westyorks address=uk.london.hub registrar=lon-hub relayed_by=uk"
else
	fail relayed "uk.westyorks never resolved uk.london.hub from its relayed mirror of uk.london"
fi

say "4. A message across regions: uk.london.hub -> uk.westyorks.hub (relayed by uk)"
ctlj send-x uk.london member send --to uk.westyorks.hub --from uk.london.hub \
    --type referral.v1 --context demo-case-1 || fail cross_region "send refused"
mid=$(jget "$res/send-x.json" "j['receipt']['message_id']")
tell "sent message $mid; the node's receipt: $(jget "$res/send-x.json" "j['receipt']['kind']")"
wait_for_msg wy-inbox uk.westyorks member 30 "e.get('context') == 'demo-case-1'" ||
	fail cross_region "the message never reached uk.westyorks.hub"
tell "uk.westyorks.hub fetched (and acknowledged) it:"
show wy-inbox
want="rc.get('kind') == 'ACKNOWLEDGED' and rc.get('node') == 'uk.westyorks'"
wait_for_msg lon-receipts uk.london member 30 "$want" ||
	fail cross_region "no acknowledged receipt came back to london"
tell "receipts back in uk.london.hub's mailbox:"
show lon-receipts
ok cross_region "message=$mid trace=uk.london,uk,uk.westyorks receipts=delivered,fetched,acknowledged"

say "5. An index query fanned out to every index service under uk.westyorks"
ctlj send-idx uk.london member send --to-group index:uk.westyorks --from uk.london.hub \
    --type index.query --purpose safeguarding-s47 --context demo-who-knows ||
    fail index_fanout "group send refused"
tell "one send with --to-group index:uk.westyorks; receipt $(jget "$res/send-idx.json" "j['receipt']['kind']")"
copies=0
for ix in idx1 idx2; do
	if wait_for_msg "idx-$ix" uk.westyorks "$ix" 30 \
	    "e.get('context') == 'demo-who-knows' and e.get('to') == 'uk.westyorks.$ix.index'"; then
		copies=$((copies + 1))
		tell "the $ix index service got its copy:"; show "idx-$ix"
	fi
done
[ $copies = 2 ] && ok index_fanout "copies=2 to=uk.westyorks.idx1.index,uk.westyorks.idx2.index" ||
	fail index_fanout "copies=$copies of 2"

say "6. A message to an unknown address becomes a recourse case"
ctlj send-unknown uk.london member send --to uk.london.socialcare --from uk.london.hub \
    --type referral.v1 --context demo-lost || fail recourse_open "send refused"
case_id=$(jget "$res/send-unknown.json" "j['receipt'].get('case_id', '')")
umid=$(jget "$res/send-unknown.json" "j['receipt']['message_id']")
tell "nobody holds uk.london.socialcare: the node opened case '$case_id' instead of dropping it"
# --all: under a slow build (ASan) the 2 s deadline may already have escalated it.
[ -n "$case_id" ] && ctlj cases-london uk.london admin cases list --all &&
	grep -q "\"$case_id\"" "$res/cases-london.json" || fail recourse_open "no case for $umid"
ctl uk.london admin cases list --all | sed 's/^/   /'
ok recourse_open "case=$case_id message=$umid"

say "7. Nobody in uk.london resolves it within 2 s: the case escalates to the root, uk"
at_root() {
	ctlj cases-uk uk admin cases list --state open 2>/dev/null && grep -q "\"$case_id\"" "$res/cases-uk.json"
}
poll 40 at_root || fail recourse_escalate "case $case_id never reached uk"
ctl uk admin cases list | sed 's/^/   /'
path=$(jget "$res/cases-uk.json" "','.join([c for c in j['cases'] if c['id'] == '$case_id'][0]['path'])")
tell "the case keeps its id on the way up; its path: $path; its history at the root:"
"$PY" -c 'import json,sys
c = [c for c in json.load(open(sys.argv[1]))["cases"] if c["id"] == sys.argv[2]][0]
for h in c["history"]:
    print("     %-28s by %-36s %s" % (h["kind"], h["actor"], h.get("reason", "")))' \
    "$res/cases-uk.json" "$case_id"
[ "$path" = "uk.london,uk" ] && ok recourse_escalate "case=$case_id at=uk path=$path" ||
	fail recourse_escalate "case $case_id path $path"

say "8. uk's admin claims the case and redirects the message to the right address"
ctl uk admin cases claim "$case_id" | sed 's/^/   /' || fail recourse_resolve "claim refused"
ctlj redirect uk admin cases redirect "$case_id" uk.westyorks.hub --reason "demo: meant westyorks" ||
	fail recourse_resolve "redirect refused"
tell "case state now $(jget "$res/redirect.json" "j['record']['state']")"
wait_for_msg wy-inbox uk.westyorks member 30 "e.get('context') == 'demo-lost'" ||
	fail recourse_resolve "the redirected message never reached uk.westyorks.hub"
tell "uk.westyorks.hub received the redirected message"
ok recourse_resolve "case=$case_id state=$(jget "$res/redirect.json" "j['record']['state']") delivered_to=uk.westyorks.hub"

say "9. uk.westyorks suspends registrar wy-hub: traffic for it is held, not delivered"
ctlj suspend uk.westyorks admin registrar suspend wy-hub --reason "demo: audit pending" ||
	fail suspend "suspend refused"
tell "wy-hub is $(jget "$res/suspend.json" "j['registrar']['status']")"
for i in 1 2 3; do
	ctl uk.london member send --to uk.westyorks.hub --from uk.london.hub --type note.v1 \
	    --context "demo-held-$i" >/dev/null || fail suspend "send $i refused"
done
want="rc.get('kind') == 'HELD'"
held_all() {
	fetch_into lon-held uk.london member &&
	    [ "$("$PY" -c 'import json,sys
print(sum(1 for d in json.load(open(sys.argv[1])) if (d.get("receipt") or {}).get("kind") == "HELD"))' \
	    "$res/lon-held.json")" -ge 3 ]
}
poll 30 held_all || fail suspend "no HELD receipts for the three messages"
ctl uk.westyorks admin mailbox | sed 's/^/   /'
fetch_into wy-while-suspended uk.westyorks member
if has wy-while-suspended "e.get('context', '').startswith('demo-held')"; then
	fail suspend "a held message was delivered while suspended"
fi
tell "three messages sent; uk.london.hub got a HELD receipt for each; nothing reached the hub"
ok suspend "held=3 delivered_while_suspended=0"

say "10. wy-hub is reactivated: the held messages are released and delivered in order"
ctlj activate uk.westyorks admin registrar activate wy-hub --reason "demo: audit passed" ||
	fail release "activate refused"
tell "wy-hub is $(jget "$res/activate.json" "j['registrar']['status']"), released $(jget "$res/activate.json" "j.get('released', 0)")"
wait_for_msg wy-released uk.westyorks member 30 "e.get('context') == 'demo-held-3'" ||
	fail release "the held messages never arrived"
got=$("$PY" -c 'import json,sys
print(",".join(d["envelope"]["context"] for d in json.load(open(sys.argv[1]))
               if d["envelope"].get("context", "").startswith("demo-held")))' "$res/wy-released.json")
show wy-released
[ "$got" = "demo-held-1,demo-held-2,demo-held-3" ] && ok release "released=3 order=$got" ||
	fail release "delivered $got"

keep_running
say "11. Stopping the nodes (SIGTERM drains and exits cleanly) and cleaning up"
clean=0
for p in $pids; do kill -TERM "$p" 2>/dev/null || true; done
for p in $pids; do if wait "$p"; then clean=$((clean + 1)); fi; done
pids=
[ $clean = 3 ] && ok stop "clean_exits=3" || fail stop "clean_exits=$clean of 3"
say "Demo done. DEMO_KEEP=1 leaves the federation running; DEMO_RESULTS=DIR keeps the outcomes."

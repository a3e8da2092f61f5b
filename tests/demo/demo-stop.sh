#!/bin/sh
# tests/demo/demo-stop.sh -- `make demo-stop`: stops every demo federation that `DEMO_KEEP=1 make demo`
# left running, restarted nodes included, and removes its folder. A node is the demo's when it is an
# axled whose working directory or command line lies in the demo's folder (the pid files the demo
# writes are only a hint: a node restarted by hand may have none). Each gets SIGTERM (it drains and
# exits), then SIGKILL if it is still there after 10 seconds.
# Usage: tests/demo/demo-stop.sh BUILD_DIR (the demo lists its folder in BUILD_DIR/demo-runs, or in
# DEMO_RUNS if set, one a line).
set -u
B=$(cd "${1:-build}" && pwd)
runs=${DEMO_RUNS:-$B/demo-runs}
[ -s "$runs" ] || { echo "demo-stop: no demo left running (no $runs)"; exit 0; }

# The pids of the axled processes that belong to folder $1.
demo_pids() {
	for d in /proc/[0-9]*; do
		exe=$(readlink "$d/exe" 2>/dev/null) || continue
		case ${exe##*/} in axled | axled\ *) ;; *) continue ;; esac
		cwd=$(readlink "$d/cwd" 2>/dev/null) || cwd=
		cmd=$(tr '\0' ' ' <"$d/cmdline" 2>/dev/null) || cmd=
		case "$cwd/ $cmd" in
		"$1"/*) echo "${d#/proc/}" ;;
		*" $1/"*) echo "${d#/proc/}" ;;
		esac
	done
}

rc=0
while read -r w; do
	case $w in
	*/axle-demo.*) ;;
	*) echo "demo-stop: $runs names '$w', not a demo folder: left alone"; rc=1; continue ;;
	esac
	pids=$(demo_pids "$w" | tr '\n' ' ')
	for p in $pids; do kill -TERM "$p" 2>/dev/null; done
	left=$pids n=0
	while [ -n "$(echo "$left" | tr -d ' ')" ] && [ $n -lt 100 ]; do
		sleep 0.1; n=$((n + 1)); still=
		for p in $left; do kill -0 "$p" 2>/dev/null && still="$still $p"; done
		left=$still
	done
	for p in $left; do kill -KILL "$p" 2>/dev/null; done
	echo "demo-stop: $w: stopped $(echo "$pids" | wc -w) node(s)${left:+ (killed after 10 s:$left)}"
	rm -rf "$w"
done <"$runs"
rm -f "$runs"
exit $rc

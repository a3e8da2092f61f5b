#!/bin/sh
# tests/demo/demo.sh -- the README's main command: a local axle node with
# freshly issued dev certificates, checked over mTLS, then stopped and cleaned
# up. DEMO_KEEP=1 leaves it running and prints how to stop it.
# Usage: tests/demo/demo.sh BUILD_DIR
set -eu
B=$(cd "${1:-build}" && pwd)
top=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/axle-demo.XXXXXX")
fed=fame-demo
region=uk.london
port=${DEMO_PORT:-$((20000 + $$ % 20000))}
pid=

say() { printf '\n== %s\n' "$*"; }
cleanup() {
	[ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true
	rm -rf "$work"
}
[ "${DEMO_KEEP:-0}" = 1 ] || trap cleanup EXIT INT TERM

say "1. Issuing a dev federation's certificates ($fed) with certs/"
"$top/certs/axle-dev-federation" "$work/pki" "$fed" "$region" >/dev/null
echo "   CA, node, admin and member certificates in $work/pki (keys mode 0600)"

say "2. Writing the node's configuration"
cat >"$work/axled.conf" <<CONF
[node]
federation = $fed
region = $region
listen = 127.0.0.1:$port
data_dir = data

[tls]
cert = pki/$region/node.chain.pem
key = pki/$region/node.key
trust_dir = pki/trust
CONF
"$B/axled" -n -c "$work/axled.conf"

say "3. Starting axled for $region on 127.0.0.1:$port"
"$B/axled" -c "$work/axled.conf" 2>"$work/axled.log" &
pid=$!
i=0
until grep -q 'event=listening' "$work/axled.log" 2>/dev/null; do
	i=$((i + 1))
	if [ $i -gt 100 ] || ! kill -0 "$pid" 2>/dev/null; then
		echo "axled did not start:"; cat "$work/axled.log"; exit 1
	fi
	sleep 0.1
done
grep 'event=listening' "$work/axled.log"

admin() { who=$1; shift; "$B/axlectl" --server "127.0.0.1:$port" --federation "$fed" \
	    --cert "$work/pki/$region/$who.chain.pem" --key "$work/pki/$region/$who.key" \
	    --trust "$work/pki/trust" "$@"; }

say "4. Health check over mutually-authenticated TLS (axlectl health, as the admin)"
admin admin health

say "5. Node.Info over gRPC (axlectl info, as the member hub $region.hub)"
admin member info

say "6. A connection without a client certificate is refused"
if curl -sS --http2 --max-time 5 --cacert "$work/pki/ca/ca.pem" \
    "https://localhost:$port/healthz" >/dev/null 2>&1; then
	echo "   UNEXPECTED: the node answered a client without a certificate"; exit 1
fi
echo "   refused, as it must be"

say "7. A few metrics (GET /metrics)"
curl -sS --http2 --max-time 5 --cacert "$work/pki/ca/ca.pem" \
    --cert "$work/pki/$region/admin.chain.pem" --key "$work/pki/$region/admin.key" \
    "https://localhost:$port/metrics" | grep -E '^axle_(info|rpc_total|handshakes_refused_total\{reason="no_cert"\}|store_commits_total)'

if [ "${DEMO_KEEP:-0}" = 1 ]; then
	say "The node is still running (pid $pid). Poke at it with:"
	echo "   $B/axlectl --server 127.0.0.1:$port --federation $fed --cert $work/pki/$region/admin.chain.pem --key $work/pki/$region/admin.key --trust $work/pki/trust info"
	echo "   Stop it with: kill $pid; rm -rf $work"
	exit 0
fi
say "8. Stopping the node (SIGTERM drains and exits cleanly) and cleaning up"
kill -TERM "$pid"; wait "$pid"; rc=$?; pid=
echo "   axled exited with status $rc"
[ $rc -eq 0 ]
say "Demo done. Run it again with DEMO_KEEP=1 to leave the node running."

# tests/bench/benchlib.sh -- helpers shared by the bench scripts (sourced).
# shellcheck shell=sh
free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { i=0; until /usr/bin/python3 -c "import socket,sys; socket.create_connection(('127.0.0.1',$1),0.2)" 2>/dev/null; do i=$((i+1)); [ $i -gt "${2:-50}" ] && { echo "port $1 never opened"; exit 1; }; sleep 0.1; done; }
field() { echo "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"; }
# An Envelope, unframed (message_id at offset 2, sender = to = $2, 1 KiB payload), into $1.
envelope_1k() {
	/usr/bin/python3 - "$1" "$2" <<'PY'
import os, sys
def f(n): return bytes([n << 3 | 2]) if n < 16 else bytes([(n << 3 | 2) & 0x7f | 0x80, (n << 3 | 2) >> 7])
def v(n):
    out = b''
    while True:
        out += bytes([n & 0x7f | (0x80 if n > 0x7f else 0)])
        n >>= 7
        if not n: return out
def fld(n, b): return f(n) + v(len(b)) + b
a = sys.argv[2].encode()
body = (fld(1, os.urandom(16)) + fld(2, a) + fld(3, a) + fld(5, b'bench.v1')
        + fld(30, b'application/octet-stream') + fld(31, os.urandom(1024)))
open(sys.argv[1], 'wb').write(body)
PY
}
# Node config: bench_conf FILE FED REGION PORT DATA PKI_DIR [extra lines...]
bench_conf() {
	f=$1 fd=$2 rg=$3 pt=$4 dd=$5 pk=$6; shift 6
	{
		printf '[node]\nfederation = %s\nregion = %s\nlisten = 127.0.0.1:%s\ndata_dir = %s\n' "$fd" "$rg" "$pt" "$dd"
		printf '[tls]\ncert = %s/%s/node.chain.pem\nkey = %s/%s/node.key\ntrust_dir = %s/trust\n' "$pk" "$rg" "$pk" "$rg" "$pk"
		printf '[log]\nlevel = warn\n'
		for l in "$@"; do printf '%s\n' "$l"; done
	} >"$f"
}

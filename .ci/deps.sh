#!/bin/sh
# .ci/deps.sh -- install the Debian packages axle builds and tests with.
# As root: apt-get update, then apt-get install of whatever is missing.
# Otherwise: print the exact command and fail.
set -u
PKGS="gcc make pkg-config libnghttp2-dev libssl-dev openssl liblmdb-dev lmdb-utils
libprotobuf-c-dev protobuf-c-compiler libcmocka-dev libevent-dev libinih-dev
libjansson-dev libsystemd-dev python3 python3-grpcio python3-grpc-tools python3-pkg-resources python3-h2 curl
nghttp2-proxy nghttp2-server nghttp2-client faketime procps psmisc fiu-utils libfiu0
clang libclang-rt-dev shellcheck man-db groff-base valgrind systemd prometheus
libnss3-tools redis-server redis-tools iproute2
chromium nodejs lintian dpkg-dev python3-cryptography"
missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
		missing="$missing $p"
done
# The browser tests' npm: Debian's package, unless a node.js build that
# bundles npm (e.g. NodeSource's nodejs) is already there.
command -v npm >/dev/null 2>&1 || missing="$missing npm"
[ -z "$missing" ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
	echo "axle: missing Debian packages. Run as root:" >&2
	echo "  apt-get update && apt-get install -y$missing" >&2
	exit 1
fi
echo "axle: installing$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq && apt-get install -y -qq --no-install-recommends $missing >/dev/null || {
	echo "axle: apt-get install failed for:$missing" >&2
	exit 1
}

#!/bin/sh
# packaging/deb/build.sh -- assembles the Debian package of axle from a built
# tree (make deb builds build-deb/ with dpkg-buildflags' hardening, then runs
# this). Usage, from the top of the source tree:
#   sh packaging/deb/build.sh BUILD_DIR   -> BUILD_DIR/axle_<version>_<arch>.deb
# What goes where: docs/operator.md, "From the Debian package".
set -eu
b=$1
here=packaging/deb
for f in axled axlectl; do
	[ -x "$b/$f" ] || { echo "build.sh: $b/$f is missing: build it first (make deb)" >&2; exit 1; }
done
version=$(sed -n 's/^#define AXLE_VERSION "\(.*\)"/\1/p' gateway/net/version.h)
arch=$(dpkg --print-architecture)
root=$b/deb/root
rm -rf "$b/deb"
mkdir -p "$root/DEBIAN"

# Programs, stripped (the build keeps its -g for the tests).
install -d "$root/usr/sbin" "$root/usr/bin"
install -m 0755 "$b/axled" "$root/usr/sbin/axled"
install -m 0755 "$b/axlectl" "$root/usr/bin/axlectl"
strip --strip-unneeded --remove-section=.comment --remove-section=.note \
    "$root/usr/sbin/axled" "$root/usr/bin/axlectl"
# The PKI commands, beside their lib.sh (they find it next to themselves).
install -d "$root/usr/share/axle/certs"
install -m 0755 certs/axle-* "$root/usr/share/axle/certs/"
install -m 0644 certs/lib.sh "$root/usr/share/axle/certs/lib.sh"
# The unit, completion, manual pages, documentation.
install -d "$root/lib/systemd/system" "$root/usr/share/bash-completion/completions"
install -m 0644 docs/axled.service "$root/lib/systemd/system/axled.service"
install -m 0644 gateway/ctl/axlectl.bash "$root/usr/share/bash-completion/completions/axlectl"
for m in axlectl.1 axled.conf.5 axled.8; do
	sec=${m##*.}
	install -d "$root/usr/share/man/man$sec"
	gzip -9n < "docs/man/$m" > "$root/usr/share/man/man$sec/$m.gz"
	chmod 0644 "$root/usr/share/man/man$sec/$m.gz"
done
doc=$root/usr/share/doc/axle
install -d "$doc/examples"
install -m 0644 "$here/copyright" "$doc/copyright"
install -m 0644 docs/axled.conf.example "$doc/examples/axled.conf.example"
install -m 0644 README.md "$doc/README.md"
gzip -9n < docs/CHANGELOG.md > "$doc/NEWS.md.gz"
# A native package's changelog (Debian format), from the version and the last commit's date.
date=$(git log -1 --format=%cD 2>/dev/null || date -R)
printf 'axle (%s) unstable; urgency=medium\n\n  * Built from the axle tree; see NEWS.md.gz.\n\n -- axle developers <axle@axle.invalid>  %s\n' \
    "$version" "$date" | gzip -9n > "$doc/changelog.gz"
install -d "$root/usr/share/lintian/overrides"
install -m 0644 "$here/lintian-overrides" "$root/usr/share/lintian/overrides/axle"
chmod 0644 "$doc/NEWS.md.gz" "$doc/changelog.gz"

# Maintainer scripts and control.
for s in postinst prerm postrm; do
	install -m 0755 "$here/$s" "$root/DEBIAN/$s"
done
# Library dependencies as dpkg-shlibdeps finds them (it wants a debian/control).
mkdir -p "$b/deb/src/debian"
printf 'Source: axle\n\nPackage: axle\nArchitecture: any\n' > "$b/deb/src/debian/control"
abs=$(cd "$root" && pwd)
shlibs=$(cd "$b/deb/src" && dpkg-shlibdeps -O "$abs/usr/sbin/axled" "$abs/usr/bin/axlectl" |
    sed -n 's/^shlibs:Depends=//p')
[ -n "$shlibs" ] || { echo "build.sh: dpkg-shlibdeps found no libraries" >&2; exit 1; }
size=$(du -sk --exclude=DEBIAN "$root" | cut -f1)
sed -e "s/@VERSION@/$version/" -e "s/@ARCH@/$arch/" -e "s/@SIZE@/$size/" \
    -e "s/@SHLIBS@/$shlibs/" "$here/control.in" > "$root/DEBIAN/control"
(cd "$root" && find . -path ./DEBIAN -prune -o -type f -print | sed 's|^\./||' |
    LC_ALL=C sort | xargs md5sum) > "$root/DEBIAN/md5sums"
chmod 0644 "$root/DEBIAN/control" "$root/DEBIAN/md5sums"
out=$b/axle_${version}_${arch}.deb
dpkg-deb --root-owner-group -Zxz --build "$root" "$out" >/dev/null
echo "$out"

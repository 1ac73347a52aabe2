#!/usr/bin/env bash
# build-deb.sh [--bin DIR] [--out DIR] [--release N]
# Builds nodeagent, nodeagent-scheduler and ws .debs from the native-AOT binaries `make publish` leaves in out/bin,
# with dpkg-deb from staged trees: no debhelper, no source package. VERSION is <Version> of Directory.Build.props,
# RELEASE (default 1) the Debian revision: a rebuild of the same program for an upgrade bumps only that.
# MAINTAINER overrides the Maintainer field. PACKAGE_COMPRESSION=fast uses gzip -1 instead of xz (about 20 times
# faster, packages 1.5 times larger), for tests that throw the packages away (package-install-test.sh).
set -euo pipefail

script=build-deb.sh
# shellcheck source=packaging/build-args.sh
source "$(dirname "$0")/build-args.sh"

# dpkg-shlibdeps (dpkg-dev) computes the libc dependency from the binaries; help2man writes the man pages.
"$repo/tests/setup/ensure-packages.sh" build-deb dpkg-dev help2man

source "$here/version.sh"
full_version=$version-$release
arch=$(dpkg --print-architecture)
if [[ ${PACKAGE_COMPRESSION:-} == fast ]]; then compression=(-Zgzip -z1); else compression=(-Zxz); fi
maintainer=${MAINTAINER:-NodeAgent contributors <nodeagent@example.org>}
# One timestamp for every file, the changelog and the man pages: the commit's, so a rebuild is byte-identical.
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git -C "$repo" log -1 --format=%ct 2>/dev/null || date +%s)}
commit=$(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo unknown)

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$here/payload.sh" --format deb --bin "$bin" --dest "$work/root" --version "$version"

# The shared-library dependencies of ELF files, e.g. "libc6 (>= 2.34)". dpkg-shlibdeps wants a debian/control to
# read; a minimal one in a scratch directory is enough.
shlibs() {
  local scratch=$work/shlibs
  mkdir -p "$scratch/debian"
  printf 'Source: nodeagent\n\nPackage: nodeagent\nArchitecture: any\n' >"$scratch/debian/control"
  (cd "$scratch" && dpkg-shlibdeps -O "${@/#/-e}" 2>/dev/null) | sed -n 's/^shlibs:Depends=//p'
}

# control PACKAGE SECTION DEPENDS RECOMMENDS SYNOPSIS (the long description on stdin)
control() {
  local package=$1 section=$2 depends=$3 recommends=$4 synopsis=$5 tree=$work/root/$1
  local size
  size=$(du -s --apparent-size -k --exclude=DEBIAN "$tree" | cut -f1)
  mkdir -p "$tree/DEBIAN"
  {
    echo "Package: $package"
    echo "Source: nodeagent"
    echo "Version: $full_version"
    echo "Architecture: $arch"
    echo "Maintainer: $maintainer"
    echo "Installed-Size: $size"
    echo "Depends: $depends"
    [[ -z $recommends ]] || echo "Recommends: $recommends"
    echo "Section: $section"
    echo "Priority: optional"
    echo "Description: $synopsis"
    sed 's/^$/./; s/^/ /'
  } >"$tree/DEBIAN/control"
}

# The files every Debian package carries: copyright and changelog, then the maintainer scripts, conffiles and
# md5sums; then the .deb, owned by root whatever user builds it.
finish() {
  local package=$1 tree=$work/root/$1
  install -D -m 0644 "$here/deb/copyright" "$tree/usr/share/doc/$package/copyright"
  {
    echo "nodeagent ($full_version) unstable; urgency=medium"
    echo
    echo "  * Built from commit $commit of the NodeAgent repository."
    echo
    echo " -- $maintainer  $(date -R -u -d "@$SOURCE_DATE_EPOCH")"
  } | gzip -9n >"$tree/usr/share/doc/$package/changelog.Debian.gz"
  for script in postinst prerm postrm; do
    if [[ -f $here/deb/$package/$script ]]; then
      install -m 0755 "$here/deb/$package/$script" "$tree/DEBIAN/$script"
    fi
  done
  if [[ -d $tree/etc ]]; then
    (cd "$tree" && find etc -type f | sort | sed 's|^|/|') >"$tree/DEBIAN/conffiles"
  fi
  if [[ -f $here/deb/$package/lintian-overrides ]]; then
    install -D -m 0644 "$here/deb/$package/lintian-overrides" "$tree/usr/share/lintian/overrides/$package"
  fi
  (cd "$tree" && find . -path ./DEBIAN -prune -o -type f -printf '%P\0' | sort -z | xargs -0 md5sum) >"$tree/DEBIAN/md5sums"
  find "$tree" -newermt "@$SOURCE_DATE_EPOCH" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +
  mkdir -p "$out"
  dpkg-deb --root-owner-group "${compression[@]}" --build "$tree" "$out/${package}_${full_version}_${arch}.deb" >/dev/null
  echo "$out/${package}_${full_version}_${arch}.deb"
}

root=$work/root
# libvirt0 and libssl3 are loaded with dlopen (libvirt's C API; OpenSSL for https image URLs and a TLS scheduler),
# so dpkg-shlibdeps cannot see them. The programs the agent runs: ip (iproute2), nft (nftables), qemu-img
# (qemu-utils), genisoimage; systemd runs /bin/kill (procps) for `systemctl reload`. libvirtd and QEMU are only
# recommended: the agent can drive another host's libvirt (--libvirt-uri), and an admin who installs without
# recommends names them (README.md).
control nodeagent admin \
  "$(shlibs "$root/nodeagent/usr/sbin/nodeagent"), libvirt0, libssl3 | libssl3t64, iproute2, nftables, qemu-utils, genisoimage, procps" \
  "libvirt-daemon-system, qemu-system-x86" \
  "host daemon of a NodeAgent cloud: runs workspaces as libvirt domains" <<'EOF'
nodeagent runs on every host of a NodeAgent cloud. It registers the host with
the scheduler, and runs the workspaces (virtual machines) the scheduler places
there as KVM or QEMU domains through libvirt: image cache, qcow2 overlays,
bridges and nftables anti-spoofing rules, usage metering and Prometheus
metrics. Restarting or upgrading it leaves running workspaces alone.

The service is enabled but not started on installation: set the scheduler's
address in /etc/nodeagent/nodeagent.conf, then start nodeagent.service.
EOF
# adduser makes the system user in postinst; /bin/kill (procps) is the unit's ExecReload=.
control nodeagent-scheduler admin \
  "$(shlibs "$root/nodeagent-scheduler/usr/lib/nodeagent-scheduler/nodeagent-scheduler" "$root/nodeagent-scheduler/usr/lib/nodeagent-scheduler/libe_sqlite3.so"), adduser, procps" \
  "libssl3 | libssl3t64" \
  "scheduler of a NodeAgent cloud: places leased workspaces on hosts" <<'EOF'
nodeagent-scheduler is the central service of a NodeAgent cloud. It registers
hosts, keeps leases, quotas and the image catalogue in SQLite, places each
workspace on a host by its measured load, hands out addresses, and ends leases
when they expire. It serves gRPC to agents and to ws, and an HTTP image
repository with its Prometheus metrics. It runs as its own system user with no
privileges.

The service is enabled but not started on installation: review
/etc/nodeagent/scheduler.conf, then start nodeagent-scheduler.service.
EOF
control ws utils \
  "$(shlibs "$root/ws/usr/bin/ws")" \
  "libssl3 | libssl3t64" \
  "client to lease workspaces from a NodeAgent cloud" <<'EOF'
ws is the command-line client of a NodeAgent cloud: lease a workspace (a
virtual machine) for a set time, list, extend, stop, start, save and release
it, manage images, quotas and hosts. It talks gRPC to nodeagent-scheduler;
OpenSSL is needed only for an https:// scheduler address.
EOF

for package in nodeagent nodeagent-scheduler ws; do
  finish "$package"
done

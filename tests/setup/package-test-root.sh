#!/usr/bin/env bash
# package-test-root.sh DEB...: prints two cached directories, a Debian bookworm root and, above it, an overlayfs layer
# with the packages' dependencies installed, which package-install-test.sh stacks as the lower layers of a throw-away
# root. Both are made once and kept under /var/cache/nodeagent/package-test:
#   bookworm/        debootstrap --variant=minbase with systemd, systemd-sysv and dbus (a bootable root, ~1 min);
#   deps-HASH/       the upper layer of an overlay on bookworm/ in which apt installed the first alternative of every
#                    Depends of the given .debs, plus man-db (so `systemd-analyze verify` resolves the units'
#                    man: links); HASH names that list, so a changed dependency makes a new layer, never a stale one.
# Each is built under a temporary name and renamed when complete, so an interrupted run leaves nothing that looks ready.
set -euo pipefail

cache=${PACKAGE_TEST_CACHE:-/var/cache/nodeagent/package-test}
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
(($#)) || { echo "package-test-root.sh: give the .debs whose dependencies the root needs" >&2; exit 2; }

"$(dirname "$0")/ensure-packages.sh" package-test debootstrap systemd-container
mkdir -p "$cache"

base=$cache/bookworm
if [[ ! -d $base ]]; then
  echo "package-test-root: debootstrap bookworm into $base (once)" >&2
  rm -rf "$base.partial"
  debootstrap --variant=minbase --include=systemd,systemd-sysv,dbus bookworm "$base.partial" "$mirror" >"$cache/debootstrap.log" 2>&1 \
    || { tail -20 "$cache/debootstrap.log" >&2; echo "package-test-root: debootstrap failed; log in $cache/debootstrap.log" >&2; exit 1; }
  mv "$base.partial" "$base"
fi

# The first alternative of each dependency, without its version: what apt would pick for `apt-get install ./x.deb`.
# dpkg -i later checks the full fields, versions and all, against what this layer installed.
mapfile -t needs < <(
  for deb in "$@"; do dpkg-deb -f "$deb" Depends; done | tr ',' '\n' | sed 's/|.*//; s/(.*)//; s/[[:space:]]//g' |
    grep -v '^$' | sort -u
)
needs+=(man-db)
key=$(printf '%s\n' "${needs[@]}" | sha256sum | cut -c1-12)
layer=$cache/deps-$key
if [[ ! -d $layer ]]; then
  echo "package-test-root: installing ${needs[*]} into layer $layer (once)" >&2
  work=$cache/deps-$key.partial
  # A mount left by an interrupted run would make rm fail; it is ours (the name says so), so it is unmounted.
  mountpoint -q "$work/root" && umount "$work/root"
  rm -rf "$work"
  mkdir -p "$work/upper" "$work/work" "$work/root"
  mount -t overlay overlay -o "lowerdir=$base,upperdir=$work/upper,workdir=$work/work" "$work/root"
  # Not booted: apt needs no systemd, and maintainer scripts then start no daemon. The host's network is shared.
  status=0
  systemd-nspawn -q -D "$work/root" --register=no --keep-unit --pipe -E DEBIAN_FRONTEND=noninteractive \
    /bin/sh -c "apt-get update -qq && apt-get install -y -qq --no-install-recommends ${needs[*]} && apt-get clean" \
    >"$cache/deps.log" 2>&1 </dev/null || status=$?
  umount "$work/root"
  if ((status != 0)); then
    tail -20 "$cache/deps.log" >&2
    echo "package-test-root: installing the dependencies failed; log in $cache/deps.log" >&2
    exit 1
  fi
  mv "$work/upper" "$layer"
  rm -rf "$work"
  # Layers for other dependency lists are stale now: the packages no longer ask for them.
  find "$cache" -maxdepth 1 -name 'deps-*' ! -name "deps-$key" ! -name '*.partial' -exec rm -rf {} +
fi

echo "$base"
echo "$layer"

#!/usr/bin/env bash
# Builds the NodeAgent test guest from Debian packages: Debian's kernel, a busybox initramfs whose
# /init is tests/guest/init, and a 64 MiB qcow2 base disk whose first sector says who it is.
#
#   tests/guest/build-guest.sh [CACHE_DIR]        (default /var/cache/nodeagent/test-guest)
#
# The image lands in CACHE_DIR/<key>/, <key> being the first 16 hex digits of a sha256 over this
# script, the init script, the exact kernel package (name and version) and the busybox-static
# version, so it is rebuilt only when one of those changes. CACHE_DIR/current points at the newest.
# The image directory's absolute path is the last line of stdout; progress goes to stderr.
#
# Image directory:  vmlinuz  initrd.img  disk.qcow2  cmdline  image.conf  .complete
set -euo pipefail
umask 022

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
self="$here/$(basename "${BASH_SOURCE[0]}")"
init_script="$here/init"
cache_dir=${1:-/var/cache/nodeagent/test-guest}

# Kernel modules the guest loads, in this order; built-in or unshipped ones are skipped.
# The second line reads the NoCloud seed: a CD-ROM on SATA (AHCI), ISO 9660.
modules=(virtio_ring virtio virtio_pci_legacy_dev virtio_pci_modern_dev virtio_pci
         failover net_failover virtio_net virtio_balloon virtio_blk
         scsi_common scsi_mod libata libahci ahci cdrom sr_mod isofs)
cmdline="console=ttyS0 panic=-1 loglevel=4"
base_magic="NODEAGENT-BASE-IMAGE v1"
disk_size=64M

log() { echo "build-guest: $*" >&2; }
die() { echo "build-guest: $*" >&2; exit 1; }

[ -f "$init_script" ] || die "missing $init_script"
[ -x /bin/busybox ] || die "/bin/busybox missing: install busybox-static (tests/setup/start-libvirtd.sh does)"
mkdir -p "$cache_dir"
cache_dir=$(cd "$cache_dir" && pwd -P)

busybox_version=$(dpkg-query -W -f='${Version}' busybox-static 2>/dev/null) \
  || die "busybox-static is not installed (tests/setup/start-libvirtd.sh installs it)"

# --- which kernel: linux-image-amd64's candidate depends on exactly one linux-image-X.Y.Z-N-amd64 (= version).
# apt-cache needs ~0.8 s here (Debian's docker images disable apt's binary cache), so the answer is
# remembered next to the images, keyed by the size and mtime of everything apt decides it from.
apt_signature() {
  { stat -c '%n %s %Y' /var/lib/apt/lists/*Packages* /var/lib/apt/lists/*Release* /etc/apt/sources.list \
      /etc/apt/sources.list.d/* /etc/apt/preferences /etc/apt/preferences.d/* /var/lib/dpkg/status 2>/dev/null \
      || true; } | sha256sum | cut -c1-64
}
resolve_kernel() {
  apt-cache show --no-all-versions linux-image-amd64 2>/dev/null \
    | sed -nE 's/^Depends:.*\b(linux-image-[0-9][^ ,]*-amd64) \(= ([^)]+)\).*/\1 \2/p' | head -n 1
}
resolution_file="$cache_dir/.kernel-resolution"
signature=$(apt_signature)
kernel_pkg="" kernel_ver=""
if [ -f "$resolution_file" ]; then
  read -r saved_sig kernel_pkg kernel_ver <"$resolution_file" || true
  [ "${saved_sig:-}" = "$signature" ] || kernel_pkg="" kernel_ver=""
fi
if [ -z "$kernel_pkg" ] || [ -z "$kernel_ver" ]; then
  read -r kernel_pkg kernel_ver < <(resolve_kernel) || true
  if [ -z "$kernel_pkg" ]; then
    log "linux-image-amd64 unknown to apt: running apt-get update"
    apt-get update -qq >&2 || die "apt-get update failed"
    signature=$(apt_signature)
    read -r kernel_pkg kernel_ver < <(resolve_kernel) || true
  fi
  [ -n "$kernel_pkg" ] && [ -n "$kernel_ver" ] || die "cannot resolve the kernel package behind linux-image-amd64"
  echo "$signature $kernel_pkg $kernel_ver" >"$resolution_file.$$" && mv -f "$resolution_file.$$" "$resolution_file"
fi

key=$( { sha256sum <"$self"; sha256sum <"$init_script"; echo "kernel $kernel_pkg $kernel_ver";
         echo "busybox-static $busybox_version"; } | sha256sum | cut -c1-16)
image="$cache_dir/$key"

set_current() {
  [ "$(readlink "$cache_dir/current" 2>/dev/null)" = "$key" ] && return 0
  ln -sfn "$key" "$cache_dir/.current.$$" && mv -fT "$cache_dir/.current.$$" "$cache_dir/current"
}

if [ -f "$image/.complete" ]; then
  set_current
  echo "$image"
  exit 0
fi

# --- build (one at a time per cache dir; whoever waited re-checks first) -------------------------
exec 9>"$cache_dir/.lock"
flock 9
if [ -f "$image/.complete" ]; then
  set_current
  echo "$image"
  exit 0
fi

# Every build holds the lock, so any build directory still here was left by a killed build.
rm -rf "$cache_dir"/.build-*

started=$SECONDS
log "building $image ($kernel_pkg $kernel_ver, busybox-static $busybox_version)"
work=$(mktemp -d "$cache_dir/.build-$key.XXXXXX")
chmod 0755 "$work"
trap 'rm -rf "$work"' EXIT
out="$work/image"
mkdir -p "$out" "$work/deb" "$work/kernel" "$work/root"

# Kernel package: downloaded and unpacked, never installed (installing builds an initramfs: minutes).
# apt's sandbox user must be able to write the download directory, or apt warns and works as root.
if id _apt >/dev/null 2>&1 && [ "$(id -u)" -eq 0 ]; then chown _apt "$work/deb"; fi
(cd "$work/deb" && apt-get download -q "$kernel_pkg=$kernel_ver" >&2) || die "apt-get download $kernel_pkg=$kernel_ver failed"
dpkg-deb -x "$work/deb/"*.deb "$work/kernel"
kver=${kernel_pkg#linux-image-}
[ -f "$work/kernel/boot/vmlinuz-$kver" ] || die "no boot/vmlinuz-$kver in $kernel_pkg"
cp "$work/kernel/boot/vmlinuz-$kver" "$out/vmlinuz"

# Initramfs: busybox with every applet as a symlink, /init, and the modules (decompressed).
root="$work/root"
mkdir -p "$root"/{bin,dev,proc,sys,tmp,lib/modules}
cp /bin/busybox "$root/bin/busybox"
for applet in $("$root/bin/busybox" --list); do
  [ "$applet" = busybox ] || ln -s busybox "$root/bin/$applet"
done
ln -s bin "$root/sbin"
install -m 0755 "$init_script" "$root/init"
# The kernel's built-in initramfs already has /dev/console; this is for kernels without one.
[ "$(id -u)" -eq 0 ] && mknod -m 0600 "$root/dev/console" c 5 1

moddir="$work/kernel/lib/modules/$kver"
[ -d "$moddir" ] || die "no lib/modules/$kver in $kernel_pkg"
shipped=() builtin=() absent=()
for m in "${modules[@]}"; do
  alt=${m//_/-}
  src=$(find "$moddir/kernel" -type f \( -name "$m.ko" -o -name "$m.ko.xz" -o -name "$m.ko.zst" -o -name "$m.ko.gz" \
        -o -name "$alt.ko" -o -name "$alt.ko.xz" -o -name "$alt.ko.zst" -o -name "$alt.ko.gz" \) | head -n 1)
  if [ -z "$src" ]; then
    if grep -Eq "/($m|$alt)\.ko$" "$moddir/modules.builtin" 2>/dev/null; then builtin+=("$m"); else absent+=("$m"); fi
    continue
  fi
  dst="$root/lib/modules/$m.ko"
  case "$src" in
    *.ko.xz)  xz -dc "$src" >"$dst" ;;
    *.ko.zst) zstd -qdc "$src" >"$dst" ;;
    *.ko.gz)  gzip -dc "$src" >"$dst" ;;
    *)        cp "$src" "$dst" ;;
  esac
  echo "$m" >>"$root/lib/modules/order"
  shipped+=("$m")
done
log "modules: ${#shipped[@]} shipped (${shipped[*]:-none})${builtin:+, built in: ${builtin[*]}}${absent:+, not in kernel: ${absent[*]}}"
(cd "$root" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet) | gzip -9n >"$out/initrd.img"

# Base disk: the first sector names the image, the rest is zero.
raw="$work/disk.raw"
printf '%s\n' "$base_magic" >"$raw"
truncate -s "$disk_size" "$raw"
qemu-img convert -q -f raw -O qcow2 "$raw" "$out/disk.qcow2"
rm -f "$raw"

echo "$cmdline" >"$out/cmdline"
cat >"$out/image.conf" <<EOF
name=nodeagent-test-guest
kernel_package=$kernel_pkg
kernel_version=$kernel_ver
kernel_release=$kver
busybox_version=$busybox_version
built=$(date -u +%Y-%m-%dT%H:%M:%SZ)
EOF
chmod 0755 "$out"
chmod 0644 "$out"/*
touch "$out/.complete"

# Publish atomically. A leftover directory without the stamp cannot come from this script's mv,
# but a hand-made or damaged one is replaced.
if [ -e "$image" ]; then rm -rf "$image"; fi
mv -T "$out" "$image"
set_current
log "built in $((SECONDS - started)) s"
echo "$image"

#!/usr/bin/env bash
# Makes libvirt usable on a Debian 12 machine, idempotently: installs the packages that are missing,
# keeps libvirt's `default` network (192.168.122.0/24 on virbr0) from ever coming up, and starts
# virtlogd + libvirtd — with systemctl when systemd is PID 1, otherwise as plain daemons.
# Safe to run any number of times; a second run changes nothing and prints one line per check.
set -euo pipefail

URI=qemu:///system
say() { echo "start-libvirtd: $*"; }
die() { echo "start-libvirtd: $*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || die "must run as root (sudo $0)"

# --- packages ------------------------------------------------------------------------------------
# genisoimage: the agent builds each workspace's NoCloud seed ISO with it, as it makes disks with qemu-img.
packages=(
  libvirt-daemon-system libvirt-clients libvirt-dev qemu-system-x86 qemu-utils
  dnsmasq-base nftables iptables busybox-static cpio xz-utils genisoimage
)
"$(dirname "$0")/ensure-packages.sh" start-libvirtd "${packages[@]}"

# --- the `default` network must never start (it would put 192.168.122.1 on virbr0 in this netns) ---
if [ -e /etc/libvirt/qemu/networks/autostart/default.xml ] || [ -L /etc/libvirt/qemu/networks/autostart/default.xml ]; then
  rm -f /etc/libvirt/qemu/networks/autostart/default.xml
  say "default network autostart removed"
fi

# --- /dev/kvm: without udev it stays root:root 0600 and QEMU (user libvirt-qemu, group kvm) can't open it ---
if [ -c /dev/kvm ] && getent group kvm >/dev/null; then
  if [ "$(stat -c '%G %a' /dev/kvm)" != "kvm 660" ] && [ "$(stat -c '%a' /dev/kvm)" != "666" ]; then
    chgrp kvm /dev/kvm && chmod 0660 /dev/kvm && say "/dev/kvm set to root:kvm 0660"
  fi
fi

# --- daemons ---------------------------------------------------------------------------------------
alive() { pgrep -x "$1" >/dev/null 2>&1; }

start_plain() { # name
  local name=$1 pidfile=/run/$1.pid
  if alive "$name"; then
    say "$name already running"
    return
  fi
  if [ -f "$pidfile" ]; then
    local pid
    pid=$(cat "$pidfile" 2>/dev/null || true)
    if [ -z "$pid" ] || ! kill -0 "$pid" 2>/dev/null; then rm -f "$pidfile"; fi
  fi
  "$name" -d || die "$name -d failed"
  say "$name started"
}

if [ -d /run/systemd/system ]; then
  if systemctl is-active --quiet libvirtd && systemctl is-active --quiet virtlogd; then
    say "libvirtd already running (systemd)"
  else
    systemctl start virtlogd libvirtd || die "systemctl start virtlogd libvirtd failed"
    say "libvirtd started (systemd)"
  fi
else
  mkdir -p /var/log/libvirt /run/libvirt
  start_plain virtlogd
  start_plain libvirtd
fi

# --- wait until the qemu driver answers (the first connection probes QEMU capabilities: ~4 s) ------
deadline=$((SECONDS + 60))
until timeout 20 virsh -c "$URI" version >/dev/null 2>&1; do
  # A daemon seen "already running" may have been on its way out (stopped a moment ago): start a new one.
  if [ ! -d /run/systemd/system ] && ! alive libvirtd; then
    start_plain libvirtd
  fi
  if ((SECONDS >= deadline)); then
    if [ -s /var/log/libvirt/libvirtd.log ]; then
      echo "--- tail of /var/log/libvirt/libvirtd.log ---" >&2
      tail -n 30 /var/log/libvirt/libvirtd.log >&2
    fi
    die "libvirtd did not answer 'virsh -c $URI version' within 60 s"
  fi
  sleep 0.5
done

# --- if the default network is up anyway (defined elsewhere, autostarted by someone), take it down ---
if timeout 20 virsh -c "$URI" net-list --name 2>/dev/null | grep -qx default; then
  virsh -c "$URI" net-destroy default >/dev/null
  virsh -c "$URI" net-autostart default --disable >/dev/null 2>&1 || true
  say "default network was active: destroyed, autostart disabled"
elif timeout 20 virsh -c "$URI" net-list --all --autostart --name 2>/dev/null | grep -qx default; then
  virsh -c "$URI" net-autostart default --disable >/dev/null
  say "default network autostart disabled"
fi

say "libvirt ready ($URI)"

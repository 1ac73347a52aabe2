#!/usr/bin/env bash
# Adds the test guest to a scheduler's image catalogue, uploading its files into the scheduler's own image
# repository: its kernel and initrd as images of their own, then its disk, booted with them.
#   tests/guest/register-guest.sh WS GUEST-DIR      (the scheduler is $WS_SCHEDULER, as for ws itself)
# Prints nothing but ws's answer for the disk image. Adding the same files again adds new versions whose
# bytes the repository already holds (nothing is uploaded twice).
set -euo pipefail
ws=$1 guest=$2
name=nodeagent-test-guest
"$ws" image add "$name-kernel" --format kernel --file "$guest/vmlinuz" --description "test guest kernel" >/dev/null
"$ws" image add "$name-initrd" --format initrd --file "$guest/initrd.img" --description "test guest busybox initramfs" >/dev/null
"$ws" image add "$name" --format qcow2 --file "$guest/disk.qcow2" --kernel "$name-kernel" --initrd "$name-initrd" \
  --cmdline "$(cat "$guest/cmdline")" --description "NodeAgent's test guest: Debian kernel, busybox init, 64 MiB disk"

#!/usr/bin/env bash
# `make bench-footprint`: sizes of the native-AOT binaries from `make publish`, and the resident memory
# of the scheduler and of an agent on real libvirtd (no workspaces) after 20 s and after 2 min of heartbeats
# at 1 s (the second includes the garbage collector's first collections; the first does not). For scale, also
# the resident memory of a C program that does nothing but connect to qemu:///system through libvirt's C library,
# which the agent does not load for that URI (it speaks libvirt's remote protocol itself).
# Prints a table and writes it into docs/benchmarks.md between its markers.
set -euo pipefail
cd "$(dirname "$0")/../.."
bin=out/bin
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

"$bin/nodeagent-scheduler" --listen http://127.0.0.1:0 --auth none --database "$work/s.db" --image-listen http://127.0.0.1:0 --heartbeat-interval 00:00:01 --heartbeat-ttl 00:00:05 >"$work/s.log" 2>&1 &
pids+=($!); scheduler=$!
for _ in $(seq 100); do grep -q "listening on" "$work/s.log" && break; sleep 0.1; done
address=$(sed -n 's/^nodeagent-scheduler listening on //p' "$work/s.log" | head -1)
"$bin/nodeagent" --scheduler "$address" --state-directory "$work/agent" --host-id footprint >"$work/a.log" 2>&1 &
pids+=($!); agent=$!

# What libvirt's client library and what it loads (GnuTLS, OpenSSL through libssh, GLib, libxml2, ICU...) cost a client.
floor=–
if command -v gcc >/dev/null && [ -e /usr/include/libvirt/libvirt.h ]; then
  printf '#include <libvirt/libvirt.h>\n#include <unistd.h>\nint main(void) { if (!virConnectOpen("qemu:///system")) return 1; pause(); }\n' >"$work/floor.c"
  gcc -O2 -o "$work/floor" "$work/floor.c" -lvirt
  "$work/floor" &
  pids+=($!); floor=$!
fi
sleep 20
rss() { awk '/^VmRSS/ {printf "%.1f MiB", $2 / 1024}' "/proc/$1/status"; }
size() { awk -v b="$(stat -c %s "$1")" 'BEGIN {printf "%.1f MiB", b / 1048576}'; }
cpu() { awk '{printf "%.2f s", ($14 + $15) / 100}' "/proc/$1/stat"; }
agent20=$(rss $agent) agentcpu=$(cpu $agent) scheduler20=$(rss $scheduler) schedulercpu=$(cpu $scheduler)
[ "$floor" = – ] || floor=$(rss $floor)
sleep 100

body=$(cat <<TABLE
| program | binary size | resident memory after 20 s | after 2 min | CPU time used in the first 20 s |
|---|---:|---:|---:|---:|
| nodeagent | $(size $bin/nodeagent) | $agent20 | $(rss $agent) | $agentcpu |
| nodeagent-scheduler | $(size $bin/nodeagent-scheduler) (+ $(size $bin/libe_sqlite3.so) libe_sqlite3.so) | $scheduler20 | $(rss $scheduler) | $schedulercpu |
| ws | $(size $bin/ws) | – | – | – |
| for scale: a C program connected to qemu:///system with libvirt | – | $floor | – | – |

Native-AOT binaries from \`make publish\`. The agent is connected to the real libvirtd (qemu:///system) with
no workspaces and registered with the scheduler, heartbeating every second. CPU time includes start-up.
The last row is what libvirt's C client library and the libraries it loads (GnuTLS, OpenSSL through libssh, GLib,
libxml2, ICU, ...) cost a process. The agent does not pay it for qemu:///system: it speaks libvirt's remote protocol
to libvirtd's socket itself ([lifecycle](lifecycle.md#the-connection-to-libvirt)). Before it did (until 2026-11-22),
the idle agent used 38.3 MiB after 20 s and 38.9 MiB after 2 min.
TABLE
)
echo "$body"
python3 tests/setup/bench-section.py footprint "Footprint of the native-AOT programs" "make bench-footprint" <<<"$body"

#!/usr/bin/env bash
# `make bench-footprint`: sizes of the native-AOT binaries from `make publish`, and the resident memory
# of the scheduler and of an agent on real libvirtd (no workspaces) after 20 s of heartbeats at 1 s.
# Prints a table and writes it into docs/benchmarks.md between its markers.
set -euo pipefail
cd "$(dirname "$0")/../.."
bin=out/bin
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

"$bin/nodeagent-scheduler" --listen http://127.0.0.1:0 --database "$work/s.db" --heartbeat-interval 00:00:01 --heartbeat-ttl 00:00:05 >"$work/s.log" 2>&1 &
pids+=($!); scheduler=$!
for _ in $(seq 100); do grep -q "listening on" "$work/s.log" && break; sleep 0.1; done
address=$(sed -n 's/^nodeagent-scheduler listening on //p' "$work/s.log" | head -1)
"$bin/nodeagent" --scheduler "$address" --state-directory "$work/agent" --host-id footprint >"$work/a.log" 2>&1 &
pids+=($!); agent=$!
sleep 20
rss() { awk '/^VmRSS/ {printf "%.1f MiB", $2 / 1024}' "/proc/$1/status"; }
size() { awk -v b="$(stat -c %s "$1")" 'BEGIN {printf "%.1f MiB", b / 1048576}'; }
cpu() { awk '{printf "%.2f s", ($14 + $15) / 100}' "/proc/$1/stat"; }

body=$(cat <<TABLE
| program | binary size | resident memory after 20 s | CPU time used in those 20 s |
|---|---:|---:|---:|
| nodeagent | $(size $bin/nodeagent) | $(rss $agent) | $(cpu $agent) |
| nodeagent-scheduler | $(size $bin/nodeagent-scheduler) (+ $(size $bin/libe_sqlite3.so) libe_sqlite3.so) | $(rss $scheduler) | $(cpu $scheduler) |
| ws | $(size $bin/ws) | – | – |

Native-AOT binaries from \`make publish\`. The agent is connected to the real libvirtd (qemu:///system) with
no workspaces and registered with the scheduler, heartbeating every second. CPU time includes start-up.
TABLE
)
echo "$body"
python3 - "$body" <<'PY'
import sys, datetime, os
body = sys.argv[1]
path = "docs/benchmarks.md"
begin, end = "<!-- bench:footprint -->", "<!-- /bench:footprint -->"
section = f"""{begin}
## Footprint of the native-AOT programs

Command: `make bench-footprint`  
Measured: {datetime.datetime.utcnow():%Y-%m-%d %H:%M} UTC on {os.cpu_count()} cores

{body}
{end}"""
text = open(path).read()
if begin in text:
    text = text[:text.index(begin)] + section + text[text.index(end) + len(end):]
else:
    text = text.rstrip() + "\n\n" + section + "\n"
open(path, "w").write(text)
PY

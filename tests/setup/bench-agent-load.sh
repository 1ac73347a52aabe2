#!/usr/bin/env bash
# `make bench-agent-load`: resident memory and CPU use of the native-AOT agent (from `make publish`) while it
# holds many workspaces and reports to the scheduler every 10 s, in two scenarios:
#   1. 100 workspaces on libvirt's test driver inside the real libvirtd (test+unix:///default: simulated
#      domains, no QEMU), each leased through the scheduler with `ws lease`;
#   2. 5 real guests (the test guest, QEMU with software emulation) on the real libvirtd (qemu:///system).
# Each scenario has its own scheduler and agent. Once every workspace runs (and, in 2, every guest has booted),
# the agent is measured over a window of $WINDOW seconds (default 120): CPU as utime + stime from
# /proc/PID/stat across the window, resident memory sampled every 5 s. Start-up is not in the window.
# Prints a table and writes it into docs/benchmarks.md between its markers. Everything it creates (leases,
# domains, disks, processes) is removed at the end, also when it fails or is interrupted.
set -euo pipefail
cd "$(dirname "$0")/../.."
bin=$PWD/out/bin
window=${WINDOW:-120}
[ "$window" -ge 60 ] || { echo "bench-agent-load: WINDOW must be at least 60 seconds" >&2; exit 2; }
for p in nodeagent nodeagent-scheduler ws; do
  [ -x "$bin/$p" ] || { echo "bench-agent-load: $bin/$p is missing; run make publish" >&2; exit 2; }
done
say() { echo "bench-agent-load: $*" >&2; }
die() { say "$*"; exit 1; }

guest=$(tests/guest/build-guest.sh | tail -1)
work=$(mktemp -d /tmp/nodeagent-bench-load.XXXXXX)
chmod 755 "$work" # QEMU runs as its own user and must reach the workspaces' disks below here
pids=()

cleanup() {
  local status=$?
  trap - EXIT INT TERM
  # Leases first, while the scheduler and agents still run: that is the path a user takes.
  for list in "$work"/*.leases; do
    [ -s "$list" ] || continue
    export WS_SCHEDULER=$(cat "${list%.leases}.address" 2>/dev/null || true)
    while read -r id; do "$bin/ws" release --no-wait "$id" >/dev/null 2>&1 || true; done <"$list"
  done
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  # Domains outlive their agent (in libvirtd, test driver too): remove any still defined whose disks are in this run's directory.
  for uri in qemu:///system test+unix:///default; do
    for d in $(virsh -c "$uri" list --all --name 2>/dev/null | grep '^nodeagent-' || true); do
      if virsh -c "$uri" dumpxml "$d" 2>/dev/null | grep -q "$work"; then
        virsh -c "$uri" destroy "$d" >/dev/null 2>&1 || true
        virsh -c "$uri" undefine "$d" >/dev/null 2>&1 || true
        say "removed leftover domain $d ($uri)"
      fi
    done
  done
  rm -rf "$work"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# start NAME AGENT-OPTIONS...: a scheduler and an agent for one scenario; sets $agent (its pid) and WS_SCHEDULER.
start() {
  local name=$1; shift
  "$bin/nodeagent-scheduler" --listen http://127.0.0.1:0 --auth none --database "$work/$name.db" \
    --image-listen http://127.0.0.1:0 --image-repository "$work/$name.repository" \
    --heartbeat-interval 00:00:10 --heartbeat-ttl 00:00:30 >"$work/$name.scheduler.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 100); do grep -q "listening on" "$work/$name.scheduler.log" && break; sleep 0.1; done
  export WS_SCHEDULER=$(sed -n 's/^nodeagent-scheduler listening on //p' "$work/$name.scheduler.log" | head -1)
  [ -n "$WS_SCHEDULER" ] || die "the scheduler did not start: $(cat "$work/$name.scheduler.log")"
  echo "$WS_SCHEDULER" >"$work/$name.address"
  tests/guest/register-guest.sh "$bin/ws" "$guest" >/dev/null
  "$bin/nodeagent" --scheduler "$WS_SCHEDULER" --state-directory "$work/$name" \
    --host-id "bench-$name" "$@" >"$work/$name.agent.log" 2>&1 &
  agent=$!
  pids+=($agent)
  for _ in $(seq 300); do grep -q "Registered as host" "$work/$name.agent.log" && break; sleep 0.1; done
  grep -q "Registered as host" "$work/$name.agent.log" || die "the agent did not register: $(tail -20 "$work/$name.agent.log")"
  grep "offering" "$work/$name.agent.log" | sed "s/^/  $name: /" >&2
}

# lease NAME COUNT MEMORY: COUNT workspaces of 1 vCPU, eight `ws lease` at a time, each waiting until it runs.
lease() {
  local name=$1 count=$2 memory=$3 batch=() i
  for i in $(seq "$count"); do
    "$bin/ws" lease --image nodeagent-test-guest --cpus 1 --memory "$memory" --duration 2h \
      --request-id "bench-$name-$i" -o json >"$work/$name.lease.$i" 2>"$work/$name.lease.$i.err" &
    batch+=($!)
    if ((${#batch[@]} == 8 || i == count)); then
      for p in "${batch[@]}"; do wait "$p" || true; done
      batch=()
    fi
  done
  for i in $(seq "$count"); do
    python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["id"])' "$work/$name.lease.$i" >>"$work/$name.leases" 2>/dev/null \
      || die "lease $i of $name failed: $(cat "$work/$name.lease.$i.err")"
  done
  local running
  running=$("$bin/ws" list -o json | grep -c '"LEASE_STATE_RUNNING"' || true)
  ((running == count)) || die "$running of $count leases of $name are running"
}

# measure PID: prints "RSS-at-end RSS-max PSS-at-end CPU-percent threads" over the window.
measure() {
  local pid=$1 max=0 rss c0 c1 t0 t1 end
  c0=$(awk '{print $14 + $15}' "/proc/$pid/stat"); t0=$(date +%s.%N)
  end=$(($(date +%s) + window))
  while (($(date +%s) < end)); do
    [ -d "/proc/$pid" ] || die "the agent (pid $pid) exited during the window: $(tail -5 "$work"/*.agent.log)"
    rss=$(awk '/^VmRSS/ {print $2}' "/proc/$pid/status")
    if ((rss > max)); then max=$rss; fi
    sleep 5
  done
  c1=$(awk '{print $14 + $15}' "/proc/$pid/stat"); t1=$(date +%s.%N)
  rss=$(awk '/^VmRSS/ {print $2}' "/proc/$pid/status")
  if ((rss > max)); then max=$rss; fi
  awk -v rss="$rss" -v max="$max" -v pss="$(awk '/^Pss:/ {print $2}' "/proc/$pid/smaps_rollup")" \
    -v ticks=$((c1 - c0)) -v hz="$(getconf CLK_TCK)" -v t0="$t0" -v t1="$t1" -v threads="$(awk '/^Threads/ {print $2}' "/proc/$pid/status")" \
    'BEGIN {printf "%.1f %.1f %.1f %.2f %d\n", rss / 1024, max / 1024, pss / 1024, ticks / hz / (t1 - t0) * 100, threads}'
}

# release NAME: ends every lease of the scenario, eight at a time, each `ws release` waiting until it ended.
release() {
  local name=$1 batch=() id p
  while read -r id; do
    "$bin/ws" release "$id" >/dev/null 2>>"$work/$name.release.log" &
    batch+=($!)
    if ((${#batch[@]} == 8)); then
      for p in "${batch[@]}"; do wait "$p" || die "ws release failed: $(tail -5 "$work/$name.release.log")"; done
      batch=()
    fi
  done <"$work/$name.leases"
  for p in "${batch[@]}"; do wait "$p" || die "ws release failed: $(tail -5 "$work/$name.release.log")"; done
  : >"$work/$name.leases"
}

# rss PID: resident memory in MiB.
rss() { awk '/^VmRSS/ {printf "%.1f", $2 / 1024}' "/proc/$1/status"; }

# stop: the scenario's agent and scheduler, which are the last two started.
stop() {
  local p
  for p in "${pids[@]: -2}"; do kill "$p"; wait "$p" 2>/dev/null || true; done
  pids=("${pids[@]:0:${#pids[@]}-2}")
}

pgrep -x libvirtd >/dev/null || die "libvirtd is not running; run tests/setup/start-libvirtd.sh (make deps)"

say "1/2: 100 workspaces on libvirt's test driver inside libvirtd"
start testdriver --libvirt-uri test+unix:///default --cpu-overcommit 64
sleep 20
td_idle=$(rss "$agent")
lease testdriver 100 64M
say "  100 running; measuring the agent for $window s"
measure "$agent" >"$work/testdriver.measure"
read -r td_rss td_max td_pss td_cpu td_threads <"$work/testdriver.measure"
release testdriver
stop

say "2/2: 5 real guests on qemu:///system"
start real
sleep 20
real_idle=$(rss "$agent")
lease real 5 256M
for id in $(cat "$work/real.leases"); do
  for _ in $(seq 900); do grep -q NODEAGENT-GUEST-READY "$work/real/workspaces/$id/console.log" 2>/dev/null && break; sleep 0.2; done
  grep -q NODEAGENT-GUEST-READY "$work/real/workspaces/$id/console.log" || die "guest of lease $id did not boot"
done
say "  5 guests booted; measuring the agent for $window s"
measure "$agent" >"$work/real.measure"
read -r real_rss real_max real_pss real_cpu real_threads <"$work/real.measure"
ids=$(cat "$work/real.leases")
release real
for id in $ids; do
  ! virsh -c qemu:///system dominfo "nodeagent-$id" >/dev/null 2>&1 || die "domain nodeagent-$id is still defined after its release"
done
stop

verdict() { awk -v v="$1" -v limit="$2" 'BEGIN {print (v <= limit) ? "met" : "**missed**"}'; }
body=$(cat <<TABLE
| scenario | workspaces | agent resident memory: before leasing → end of window (max) | target ≤ 30 MiB | agent CPU, % of one core | target ≤ 1 % |
|---|---|---:|---|---:|---|
| libvirt test driver in libvirtd (\`test+unix:///default\`) | 100 × 1 vCPU, 64 MiB | $td_idle → $td_rss MiB ($td_max) | $(verdict "$td_max" 30) | $td_cpu % | $(verdict "$td_cpu" 1) |
| real libvirtd + QEMU (\`qemu:///system\`) | 5 × 1 vCPU, 256 MiB, booted | $real_idle → $real_rss MiB ($real_max) | $(verdict "$real_max" 30) | $real_cpu % | $(verdict "$real_cpu" 1) |

The native-AOT agent from \`make publish\`, measured over a ${window} s window that starts once every workspace runs
(scenario 2: once every guest has printed its boot marker): CPU is utime + stime of the agent process across the
window, resident memory (VmRSS) is sampled every 5 s. The agent heartbeats every 10 s (scheduler
\`--heartbeat-interval 00:00:10 --heartbeat-ttl 00:00:30\`) and compares everything with libvirt every 30 s (its default).
Workspaces were leased with \`ws lease\` through the scheduler, eight at a time; scenario 1 needs
\`--cpu-overcommit 64\` on this 2-core host. "Before leasing" is 20 s after the agent registered. In both scenarios
the agent speaks libvirt's remote protocol to libvirtd's socket itself (RemoteHypervisor) and does not load libvirt's
C library; the test driver runs inside libvirtd, as the QEMU driver does, so its 100 simulated domains are
libvirtd's memory, not the agent's. The agent's memory includes OpenSSL (about 3.6 MiB resident), loaded to check
the image's SHA-256 when it is fetched. Proportional set size at the end (shared library pages divided among
the processes that map them, libvirtd included): $td_pss MiB and $real_pss MiB. Agent threads: $td_threads and $real_threads.
TABLE
)
echo "$body"
python3 tests/setup/bench-section.py agent-load "Agent resident memory and CPU with many workspaces" "make bench-agent-load" <<<"$body"

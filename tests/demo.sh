#!/usr/bin/env bash
# `make demo`: one real workspace, end to end, on this machine. Installs what is missing, starts
# libvirtd, builds NodeAgent and the test guest, runs a scheduler (SQLite in a temporary directory) and
# an agent on loopback, then leases a workspace, waits for its guest to boot, lists it, releases it and
# shows that nothing is left. Everything it started is stopped at the end.
set -euo pipefail
cd "$(dirname "$0")/.."

bold=$'\e[1m' dim=$'\e[2m' off=$'\e[0m'
[ -t 1 ] || { bold=; dim=; off=; }
step() { printf '\n%s==> %s%s\n' "$bold" "$*" "$off"; }
run() { printf '%s$ %s%s\n' "$dim" "$*" "$off"; "$@"; }

work=$(mktemp -d /tmp/nodeagent-demo.XXXXXX)
chmod 755 "$work"   # QEMU runs as its own user and must reach the workspace's disk below here
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

step "1. Prerequisites: libvirt, QEMU and friends (installed only if missing); libvirtd"
tests/setup/start-libvirtd.sh

step "2. Build NodeAgent and the test guest (a Debian kernel and a busybox initramfs; cached)"
dotnet build NodeAgent.sln -c Release --nologo -v q
bin() { echo "$1/bin/Release/net9.0/$2"; }
scheduler=$(bin scheduler/NodeAgent.Scheduler nodeagent-scheduler)
agent=$(bin agent/NodeAgent.Agent nodeagent)
ws=$(bin scheduler/NodeAgent.Cli ws)
guest=$(tests/guest/build-guest.sh | tail -1)
echo "test guest: $guest"

step "3. Start the scheduler (SQLite: $work/scheduler.db, images: $work/repository) and one agent, on loopback"
"$scheduler" --listen http://127.0.0.1:0 --database "$work/scheduler.db" --admin-token-file "$work/admin.token" \
  --image-listen http://127.0.0.1:0 --image-repository "$work/repository" >"$work/scheduler.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do grep -q "listening on" "$work/scheduler.log" && break; sleep 0.1; done
export WS_SCHEDULER=$(sed -n 's/^nodeagent-scheduler listening on //p' "$work/scheduler.log" | head -1)
[ -n "$WS_SCHEDULER" ] || { cat "$work/scheduler.log"; exit 1; }
echo "scheduler: $WS_SCHEDULER"
# Every call carries a token. The scheduler wrote the first admin token at its first start; the admin makes the
# agent's token (for its host only) and a user's (for one project).
echo "first admin token: $work/admin.token"
export NODEAGENT_TOKEN=$(cat "$work/admin.token")
mkdir -p "$work/agent"
printf '%s$ ws admin token create --host demo-host --description "demo agent" > %s%s\n' "$dim" "$work/agent/agent.token" "$off"
"$ws" admin token create --host demo-host --description "demo agent" >"$work/agent/agent.token"
printf '%s$ ws admin token create --user demo --project demo-lab --expires-in 1d > %s%s\n' "$dim" "$work/user.token" "$off"
"$ws" admin token create --user demo --project demo-lab --expires-in 1d >"$work/user.token"
"$agent" --scheduler "$WS_SCHEDULER" --state-directory "$work/agent" --host-id demo-host >"$work/agent.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do grep -q "Registered as host" "$work/agent.log" && break; sleep 0.1; done
grep "guests are" "$work/agent.log" || true
run "$ws" hosts list

step "4. Add the test guest to the image catalogue (uploaded into the scheduler's repository)"
printf '%s$ tests/guest/register-guest.sh ws %s%s\n' "$dim" "$guest" "$off"
tests/guest/register-guest.sh "$ws" "$guest"
run "$ws" image list

step "5. As user demo (project demo-lab): lease a workspace and wait until it runs (the host fetches and verifies the image first)"
export NODEAGENT_TOKEN=$(cat "$work/user.token")
run "$ws" whoami
run "$ws" lease --image nodeagent-test-guest --cpus 1 --memory 256M --disk 1G --duration 30m
id=$("$ws" list -o json | sed -n 's/.*"id": "\(w-[a-z0-9]*\)".*/\1/p' | head -1)
console="$work/agent/workspaces/$id/console.log"
printf 'waiting for the guest to boot (its serial console: %s)\n' "$console"
for _ in $(seq 600); do grep -q NODEAGENT-GUEST-READY "$console" 2>/dev/null && break; sleep 0.2; done
grep -a NODEAGENT-GUEST "$console" | tr -d '\r' | sed 's/^/  guest | /'
grep -q NODEAGENT-GUEST-READY "$console" || { echo "the guest did not boot; agent log:"; cat "$work/agent.log"; exit 1; }

step "6. List it, release it, and show that it is gone"
run "$ws" list
run "$ws" release "$id"
run "$ws" list --all
if virsh -c qemu:///system dominfo "nodeagent-$id" >/dev/null 2>&1; then echo "domain nodeagent-$id is still defined" >&2; exit 1; fi
[ ! -e "$work/agent/workspaces/$id" ] || { echo "workspace files of $id are still there" >&2; exit 1; }
echo "no domain nodeagent-$id in libvirt, no files left under $work/agent/workspaces"

step "7. Stop the scheduler and the agent"
echo "done: leased, placed, booted, listed and released workspace $id"

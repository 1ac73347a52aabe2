#!/usr/bin/env bash
# Runs the native-AOT binaries from `make publish` together: the scheduler on a free loopback port with a
# fresh SQLite file and tokens, an agent that registers with its token, ws listing the agent's host, and
# Debian's grpcio client running its interop checks against a second AOT scheduler run with --auth none.
# Counts its checks like the test runner.
set -uo pipefail
cd "$(dirname "$0")/../.."
bin=${BIN:-out/bin}
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done; wait 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

passed=0 failed=0
check() { # name, command...
  local name=$1; shift
  if "$@" >"$work/out" 2>&1; then passed=$((passed + 1)); echo "aot-smoke: ok   $name"
  else failed=$((failed + 1)); echo "aot-smoke: FAIL $name"; sed 's/^/  | /' "$work/out"; fi
}

"$bin/nodeagent-scheduler" --listen http://127.0.0.1:0 --database "$work/scheduler.db" --admin-token-file "$work/admin.token" \
  --image-listen http://127.0.0.1:0 --image-repository "$work/repository" >"$work/scheduler.log" 2>&1 &
pids+=($!)
for _ in $(seq 50); do grep -q "listening on" "$work/scheduler.log" && break; sleep 0.1; done
address=$(sed -n 's/^nodeagent-scheduler listening on //p' "$work/scheduler.log" | head -1)
check "scheduler starts and listens" test -n "$address"

# Tokens (the default --auth token): the first admin token, the agent's, a refusal without one.
check "the scheduler wrote its first admin token (mode 600)" bash -c "[ \"\$(stat -c %a '$work/admin.token')\" = 600 ]"
export NODEAGENT_TOKEN=$(cat "$work/admin.token")
check "ws whoami: admin" bash -c "'$bin/ws' whoami --scheduler '$address' | grep -q '^role *admin'"
no_token() {
  local out
  out=$(NODEAGENT_TOKEN= HOME=$work "$bin/ws" list --scheduler "$address" 2>&1) && return 1
  grep -q "needs a token" <<<"$out"
}
check "a call without a token is refused, saying how to get one" no_token
mkdir -p "$work/agent"
check "ws admin token create --host: the agent's token" bash -c "'$bin/ws' admin token create --host aot-smoke-host --scheduler '$address' >'$work/agent/agent.token'"

chmod 755 "$work"   # QEMU runs as its own user and must reach the workspace disk below here
check "ws uploads the test guest into the catalogue" env WS_SCHEDULER="$address" tests/guest/register-guest.sh "$bin/ws" "$(tests/guest/build-guest.sh | tail -1)"
"$bin/nodeagent" --scheduler "$address" --state-directory "$work/agent" \
  --host-id aot-smoke-host >"$work/agent.log" 2>&1 &
pids+=($!)
registered() { for _ in $(seq 50); do "$bin/ws" hosts list --scheduler "$address" | grep -q "^aot-smoke-host *up" && return 0; sleep 0.1; done; return 1; }
check "agent registers; ws lists it up" registered
check "ws shows the host as JSON" bash -c "'$bin/ws' hosts show aot-smoke-host -o json --scheduler '$address' | grep -q '\"hostId\": \"aot-smoke-host\"'"
unknown() { "$bin/ws" hosts show no-such-host --scheduler "$address"; [ $? -eq 1 ]; }
check "ws exits 1 when the scheduler refuses" unknown
lease_boot_release() {
  local out id
  out=$(WS_SCHEDULER=$address "$bin/ws" lease --image nodeagent-test-guest --memory 256M --duration 10m -o json) || return 1
  id=$(sed -n 's/.*"id": "\(w-[a-z0-9]*\)".*/\1/p' <<<"$out" | head -1)
  for _ in $(seq 300); do grep -q NODEAGENT-GUEST-READY "$work/agent/workspaces/$id/console.log" 2>/dev/null && break; sleep 0.2; done
  grep -q NODEAGENT-GUEST-READY "$work/agent/workspaces/$id/console.log" || { cat "$work/agent.log"; return 1; }
  WS_SCHEDULER=$address "$bin/ws" release "$id" -o json | grep -q LEASE_STATE_ENDED || return 1
  ! virsh -c qemu:///system dominfo "nodeagent-$id" >/dev/null 2>&1
}
check "AOT agent leases, boots and releases a real guest via libvirt" lease_boot_release
# The grpcio client registers its own hosts with no token: it gets a scheduler of its own, run with --auth none.
"$bin/nodeagent-scheduler" --listen http://127.0.0.1:0 --auth none --database "$work/open.db" --image-listen none >"$work/open.log" 2>&1 &
pids+=($!)
for _ in $(seq 50); do grep -q "listening on" "$work/open.log" && break; sleep 0.1; done
open=$(sed -n 's/^nodeagent-scheduler listening on //p' "$work/open.log" | head -1)
check "grpcio interop client against the AOT scheduler" /usr/bin/python3 tests/interop/client.py --target "${open#http://}"

echo "aot-smoke: $passed passed, $failed failed"
[ "$failed" -eq 0 ]

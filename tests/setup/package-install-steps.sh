# package-install-steps.sh: steps 2 to 6 of package-install-test.sh, sourced by it once the release-1 packages are
# installed in the booted container. Uses its helpers (check, in_ct, wait_for, state, running, main_pid) and variables.

# --- 2. configure and start ------------------------------------------------------------------------------------------
# The admin's changes to both conffiles; step 4 checks the upgrade keeps them. The agent uses libvirt's test driver
# (no libvirtd may run here) and offers one network, so it creates a bridge in the container's network namespace.
in_ct sh -c 'printf "libvirt-uri = test:///default\nnetwork = pkgtest=natest0\n" >>/etc/nodeagent/nodeagent.conf'
in_ct sh -c 'printf "# changed by package-install-test: the upgrade must keep this line\n" >>/etc/nodeagent/scheduler.conf'
conf_sums=$(in_ct sha256sum /etc/nodeagent/nodeagent.conf /etc/nodeagent/scheduler.conf)

# Builds from before the systemd integration read no --config file, send no READY=1 or WATCHDOG=1 and die on SIGHUP.
# For them the test adds what the admin of such a build would: a drop-in with Type=simple and the settings as options.
# Such a run says so and leaves the watchdog and reload checks out; a build that speaks the contract is tested with the
# units as shipped.
if in_ct nodeagent --help | grep -q -- '--config' && in_ct nodeagent-scheduler --help | grep -q -- '--config'; then
  contract=yes
  say "the binaries read --config and speak sd_notify: units tested as shipped (Type=notify, WatchdogSec=30s)"
else
  contract=no
  say "NOTE: these binaries predate the systemd integration (no --config): a drop-in sets Type=simple and the agent's options; the watchdog and reload are not checked"
  for unit in nodeagent nodeagent-scheduler; do
    in_ct mkdir -p "/etc/systemd/system/$unit.service.d"
    in_ct sh -c "printf '[Service]\nType=simple\nWatchdogSec=0\n' >/etc/systemd/system/$unit.service.d/50-package-test.conf"
  done
  in_ct sh -c "printf 'ExecStart=\nExecStart=/usr/sbin/nodeagent --libvirt-uri test:///default --network pkgtest=natest0\n' \
    >>/etc/systemd/system/nodeagent.service.d/50-package-test.conf"
  in_ct systemctl daemon-reload
fi

t=$SECONDS
in_ct systemctl start nodeagent-scheduler.service
check "nodeagent-scheduler.service is active (running)" wait_for 30 running nodeagent-scheduler.service
# Every call needs a token (auth = token, the default): the scheduler writes the first admin token at its first start.
admin_token_written() { [[ $(in_ct stat -c '%U %a' /var/lib/nodeagent-scheduler/admin.token 2>/dev/null) == "nodeagent-scheduler 600" ]]; }
check "the scheduler wrote its first admin token: /var/lib/nodeagent-scheduler/admin.token, its own, mode 0600" wait_for 30 admin_token_written
admin_token=$(in_ct cat /var/lib/nodeagent-scheduler/admin.token)
ws_admin() { in_ct env NODEAGENT_TOKEN="$admin_token" ws "$@"; }
in_ct systemctl start nodeagent.service
check "nodeagent.service is active (running)" wait_for 30 running nodeagent.service
check "the agent wrote its host id to /var/lib/nodeagent/host-id" wait_for 30 in_ct test -s /var/lib/nodeagent/host-id
host_id=$(in_ct cat /var/lib/nodeagent/host-id)
# The admin gives the agent its token; the agent reads the file again when it changes and registers on its next try.
in_ct sh -c "umask 077; NODEAGENT_TOKEN='$admin_token' ws admin token create --host '$host_id' --description 'package test' >/var/lib/nodeagent/agent.token"
host_listed() { [[ -n $host_id ]] && ws_admin hosts list | grep -qw -- "$host_id"; }
check "the agent registered with its token: ws hosts list shows host $host_id" wait_for 45 host_listed
ws_admin hosts list | indent
elapsed start "$t"
# Prometheus endpoints, reached in the container's network namespace with the host's curl.
metrics_served() { nsenter -t "$ct_pid" -n curl -sf "http://127.0.0.1:$1/metrics" | grep -q '^nodeagent_'; }
check "agent metrics on 127.0.0.1:9177 (inside the sandbox)" wait_for 20 metrics_served 9177
check "scheduler metrics on 127.0.0.1:7701" wait_for 20 metrics_served 7701
check "the agent created bridge natest0 with ip (CAP_NET_ADMIN in its bounding set)" wait_for 20 in_ct ip link show natest0

# What the sandboxes really are, read from the running processes.
sandbox_agent() {
  local pid status
  pid=$(main_pid nodeagent.service)
  status=$(in_ct cat "/proc/$pid/status")
  grep -qx $'NoNewPrivs:\t1' <<<"$status" || { echo "NoNewPrivs is not 1"; return 1; }
  # CAP_DAC_OVERRIDE (1), CAP_DAC_READ_SEARCH (2), CAP_FOWNER (3), CAP_NET_ADMIN (12): 0x100e.
  grep -qx $'CapBnd:\t000000000000100e' <<<"$status" || { grep CapBnd <<<"$status"; return 1; }
  # Its mount namespace: / is read-only, the state directory writable.
  ! in_ct nsenter -t "$pid" -m touch /usr/package-test 2>/dev/null || { echo "/usr is writable"; return 1; }
  in_ct nsenter -t "$pid" -m sh -c 'touch /var/lib/nodeagent/.package-test && rm /var/lib/nodeagent/.package-test'
}
sandbox_scheduler() {
  local pid status
  pid=$(main_pid nodeagent-scheduler.service)
  status=$(in_ct cat "/proc/$pid/status")
  [[ $(in_ct stat -c %U "/proc/$pid") == nodeagent-scheduler ]] || { echo "not running as nodeagent-scheduler"; return 1; }
  grep -qx $'CapBnd:\t0000000000000000' <<<"$status" || { grep CapBnd <<<"$status"; return 1; }
  [[ $(in_ct stat -c '%U %a' /var/lib/nodeagent-scheduler) == "nodeagent-scheduler 750" ]] || { echo "state directory: $(in_ct stat -c '%U %a' /var/lib/nodeagent-scheduler)"; return 1; }
  in_ct test -s /var/lib/nodeagent-scheduler/scheduler.db
}
check "agent sandbox: NoNewPrivs, bounding set NET_ADMIN DAC_OVERRIDE DAC_READ_SEARCH FOWNER, / read-only, state writable" sandbox_agent
check "scheduler sandbox: its own user, no capabilities, state directory 0750 with scheduler.db" sandbox_scheduler
# The whole table goes to the cache directory, for docs/packaging.md; the score to the output.
mkdir -p "$cache/security"
for unit in nodeagent nodeagent-scheduler; do
  in_ct systemd-analyze security --no-pager "$unit.service" >"$cache/security/$unit.txt" 2>&1
  say "exposure: $(tail -1 "$cache/security/$unit.txt") (table: $cache/security/$unit.txt)"
done

# A workspace on libvirt's test driver: the image upload lands in the scheduler's state directory, and the agent
# runs qemu-img (overlay) and genisoimage (seed) in its sandbox; only the domain itself is simulated.
t=$SECONDS
in_ct qemu-img create -q -f qcow2 /root/pkgtest.qcow2 16M
check "ws image add --file uploads into the scheduler's repository" ws_admin image add pkgtest --file /root/pkgtest.qcow2
lease_json=$(ws_admin -o json lease --image pkgtest --memory 64M --duration 30m --wait-limit 2m 2>"$run/lease.err")
lease_id=$(jq -r '.id // .lease.id // empty' <<<"$lease_json" 2>/dev/null)
lease_running() { ws_admin -o json show "$lease_id" | jq -e '(.state // .lease.state) | ascii_downcase | test("running")'; }
check "ws lease: workspace ${lease_id:-?} running on the test driver" lease_running || indent <<<"$lease_json"
workspace_files() { in_ct sh -c 'ls /var/lib/nodeagent/workspaces/*/' | grep -x seed.iso && in_ct sh -c 'qemu-img info /var/lib/nodeagent/workspaces/*/*.qcow2' | grep -q 'backing file'; }
check "its overlay disk (qemu-img) and seed (genisoimage) are in /var/lib/nodeagent/workspaces" workspace_files
# The first workspace step rebuilds the agent's anti-spoofing table for its networks (nft -f), even for a workspace
# without a NIC.
check "the agent loaded its nftables table (bridge nodeagent) with nft" wait_for 20 in_ct nft list table bridge nodeagent
elapsed workspace "$t"
# A sandbox too tight shows as failed system calls in the logs, even where the daemons carry on.
sandbox_denials() {
  in_ct journalctl --no-pager -o cat -u nodeagent.service -u nodeagent-scheduler.service |
    grep -Ei 'permission denied|read-only file system|operation not permitted|bad system call|EACCES|EROFS|EPERM'
}
check "no permission denied, read-only file system or operation not permitted in either service's journal" is "" sandbox_denials

# --- 3. watchdog, reload and stop -------------------------------------------------------------------------------------
if [[ $contract == yes ]]; then
  # systemd stamps WatchdogTimestamp when it arms the watchdog and at every WATCHDOG=1; pings come every 15 s.
  watchdog_since() { in_ct systemctl show -p WatchdogTimestampMonotonic --value "$1"; }
  declare -A armed=([nodeagent]=$(watchdog_since nodeagent.service) [nodeagent-scheduler]=$(watchdog_since nodeagent-scheduler.service))
  for unit in nodeagent nodeagent-scheduler; do
    pinged() { (($(watchdog_since "$1.service") > armed[$1])); }
    check "$unit pings systemd's watchdog (WatchdogSec=30s)" wait_for 25 pinged "$unit"
  done
  for unit in nodeagent-scheduler nodeagent; do
    reload_keeps_pid() {
      local before after
      before=$(main_pid "$1.service")
      in_ct systemctl reload "$1.service" || return 1
      sleep 2
      after=$(main_pid "$1.service")
      running "$1.service" && [[ $before == "$after" ]] || { echo "MainPID $before -> $after, $(state "$1.service")"; return 1; }
    }
    check "systemctl reload $unit: still active (running), MainPID unchanged" reload_keeps_pid "$unit"
  done
fi

# A stand-in for a guest: on a real host QEMU runs in machine.slice under libvirtd, outside the agent's cgroup. What
# this shows is that stopping the agent signals nothing outside its own cgroup. It cannot show a real QEMU guest
# surviving: the test driver's domains live inside the agent's process and end with it.
in_ct systemd-run --quiet --unit=package-test-guest --slice=machine.slice sleep infinity
guest_pid=$(main_pid package-test-guest.service)
others_before=$(in_ct systemctl list-units --type=service,scope --state=running --plain --no-legend | awk '{print $1}' | grep -vx nodeagent.service | sort)
in_ct systemctl stop nodeagent.service
stop_spares_others() {
  local others_after
  others_after=$(in_ct systemctl list-units --type=service,scope --state=running --plain --no-legend | awk '{print $1}' | sort)
  [[ $others_before == "$others_after" ]] || { diff <(echo "$others_before") <(echo "$others_after"); return 1; }
  [[ $(main_pid package-test-guest.service) == "$guest_pid" ]] || { echo "the stand-in guest was restarted or stopped"; return 1; }
  [[ $(in_ct systemctl show -p KillMode --value nodeagent.service) == mixed ]]
}
check "systemctl stop nodeagent: it is inactive" is inactive in_ct systemctl is-active nodeagent.service
check "  ... and every other running unit (scheduler, stand-in guest in machine.slice) runs on, same PIDs" stop_spares_others
in_ct systemctl start nodeagent.service
check "nodeagent.service starts again and re-registers" wait_for 30 host_listed

source "$repo/tests/setup/package-upgrade-steps.sh"

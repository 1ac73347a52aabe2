#!/usr/bin/env bash
# package-install-test.sh: installs the .debs under a real systemd and checks what an admin relies on. Run as root.
#  0. builds the .debs twice (release 1, and release 2 of the same binaries for the upgrade) and the .rpms from
#     out/bin (`make publish` runs first if it is empty), and lints them (packaging/lint.sh);
#  1. boots a Debian bookworm root (cached by package-test-root.sh; this run writes only to a throw-away overlay
#     layer) with systemd-nspawn, in a network namespace of its own, and installs the .debs with dpkg -i;
#  2. starts both services (installing does not), sees them active (running), the host registered (`ws hosts list`)
#     and a workspace leased on libvirt's test driver, all under the units' sandboxes;
#  3. reloads both (MainPID kept), stops the agent and sees everything outside its cgroup keep running;
#  4. upgrades to release 2 and sees modified conffiles, the scheduler's database and the host id kept;
#  5. purges and sees nothing left but /var/lib/nodeagent, /var/lib/nodeagent-scheduler and the system user;
#  6. checks the .rpms' file lists, scriptlets and dependencies.
# Prints one line per check ("ok: ..." or "FAIL: ...") and ends with "package-install-test: N passed, N failed".
# PACKAGE_TEST_BIN=DIR packages the binaries of DIR instead of out/bin (e.g. another branch's `make publish`).
# The agent drives libvirt's in-process test driver: no libvirtd runs, in the container or outside it.
set -uo pipefail

repo=$(cd "$(dirname "$0")/../.." && pwd)
cache=${PACKAGE_TEST_CACHE:-/var/cache/nodeagent/package-test}
run=$cache/run
machine=nodeagent-pkgtest
started=$SECONDS passed=0 failed=0 nspawn_pid='' ct_pid=''

say() { echo "package-install-test: $*"; }
ok() { passed=$((passed + 1)); say "ok: $*"; }
bad() { failed=$((failed + 1)); say "FAIL: $*"; }
indent() { sed 's/^/    /' | head -60; }
# check DESCRIPTION COMMAND...: one check; the command's output is shown only when it fails.
check() {
  local what=$1 out
  shift
  if out=$("$@" 2>&1); then ok "$what"; else bad "$what"; indent <<<"$out"; fi
}
die() { bad "$*"; exit 1; }
elapsed() { say "time: $1 $((SECONDS - ${2:-started})) s"; }
# Runs a command in the container: all its namespaces, a clean environment.
in_ct() { nsenter -t "$ct_pid" -a env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 "$@"; }
# wait_for SECONDS COMMAND...: retries COMMAND until it succeeds; false when it never did.
wait_for() {
  local deadline=$((SECONDS + $1))
  shift
  until "$@" >/dev/null 2>&1; do
    ((SECONDS < deadline)) || return 1
    sleep 0.5
  done
}
state() { in_ct systemctl show -p ActiveState,SubState --value "$1" | paste -sd' '; }
running() { [[ $(state "$1") == "active running" ]]; }
main_pid() { in_ct systemctl show -p MainPID --value "$1"; }
# is EXPECTED COMMAND...: the command prints exactly EXPECTED.
is() {
  local want=$1 got
  shift
  got=$("$@" 2>&1)
  [[ $got == "$want" ]] || { echo "expected '$want', got '$got'"; return 1; }
}
installed() { [[ $(in_ct dpkg-query -W -f='${Status} ${Version}' "$1") == "install ok installed $2" ]]; }
enabled_not_started() { [[ $(in_ct systemctl is-enabled "$1") == enabled && $(in_ct systemctl is-active "$1") == inactive ]]; }
system_user() { in_ct getent passwd nodeagent-scheduler | grep -E '^nodeagent-scheduler:x:[0-9]{1,3}:[0-9]+:[^:]*:/var/lib/nodeagent-scheduler:/usr/sbin/nologin$'; }
# Here, unlike packaging/lint.sh, man-db is installed, so the units' Documentation=man: links are followed too.
verify_units() {
  local out
  out=$(in_ct systemd-analyze verify nodeagent.service nodeagent-scheduler.service 2>&1) && [[ -z $out ]] || { echo "$out"; return 1; }
}

((EUID == 0)) || { echo "package-install-test: run as root (it mounts an overlay and boots a container)" >&2; exit 2; }
"$repo/tests/setup/ensure-packages.sh" package-test debootstrap systemd-container jq curl rpm dpkg-dev
source "$repo/packaging/version.sh"
mkdir -p "$cache"
# One run at a time: they share the container's name and the run directory.
exec 9>"$cache/lock"
flock -n 9 || { echo "package-install-test: another run holds $cache/lock" >&2; exit 2; }

# A run killed before its clean-up left its container (its pid is in run/nspawn.pid) or its overlay mount: both ours.
if [[ -f $run/nspawn.pid ]] && grep -qa "$run/root" "/proc/$(cat "$run/nspawn.pid")/cmdline" 2>/dev/null; then
  kill "$(cat "$run/nspawn.pid")"; sleep 2
fi
mountpoint -q "$run/root" && umount "$run/root"
rm -rf "$run"
mkdir -p "$run"/{upper,work,root,debs/v1,debs/v2,rpms}

finish() {
  if [[ -n $ct_pid ]] && kill -0 "$ct_pid" 2>/dev/null; then
    # SIGRTMIN+4 asks systemd to power off: the container shuts down as a machine does.
    kill -s RTMIN+4 "$ct_pid" 2>/dev/null
    for _ in $(seq 1 40); do kill -0 "$nspawn_pid" 2>/dev/null || break; sleep 0.5; done
  fi
  [[ -n $nspawn_pid ]] && kill -0 "$nspawn_pid" 2>/dev/null && kill -KILL "$nspawn_pid"
  mountpoint -q "$run/root" && umount "$run/root"
  rm -rf "$run"
  echo
  say "$passed passed, $failed failed in $((SECONDS - started)) s"
}
trap finish EXIT

# --- 0. packages ---------------------------------------------------------------------------------------------------
bin=${PACKAGE_TEST_BIN:-$repo/out/bin}
if [[ -n ${PACKAGE_TEST_BIN:-} && ! -x $bin/nodeagent ]]; then die "PACKAGE_TEST_BIN=$bin has no nodeagent"; fi
if [[ ! -x $bin/nodeagent || ! -x $bin/nodeagent-scheduler || ! -x $bin/ws || ! -f $bin/libe_sqlite3.so ]]; then
  say "out/bin has no native binaries: running make publish"
  make -C "$repo" publish >"$cache/publish.log" 2>&1 || { tail -30 "$cache/publish.log"; die "make publish"; }
  elapsed publish
fi
built=$("$bin/ws" --version)
say "binaries: $built (HEAD is $(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo unknown))"
t=$SECONDS
# gzip instead of xz: these packages are thrown away, and xz would take most of a warm run's time.
export PACKAGE_COMPRESSION=fast
"$repo/packaging/build-deb.sh" --bin "$bin" --out "$run/debs/v1" --release 1 >/dev/null || die "build-deb.sh --release 1"
"$repo/packaging/build-deb.sh" --bin "$bin" --out "$run/debs/v2" --release 2 >/dev/null || die "build-deb.sh --release 2"
"$repo/packaging/build-rpm.sh" --bin "$bin" --out "$run/rpms" --release 1 >/dev/null || die "build-rpm.sh"
elapsed build "$t"
debs=("$run"/debs/v1/*.deb) rpms=("$run"/rpms/*.rpm)
((${#debs[@]} == 3 && ${#rpms[@]} == 3)) || die "expected 3 .debs and 3 .rpms, got: ${debs[*]} ${rpms[*]}"
t=$SECONDS
while read -r line; do
  case $line in lint:*FAILED*) bad "$line" ;; lint:*) ok "$line" ;; *) echo "$line" ;; esac
done < <("$repo/packaging/lint.sh" "${debs[@]}" "${rpms[@]}" 2>&1)
elapsed lint "$t"

# --- 1. boot and install ---------------------------------------------------------------------------------------------
t=$SECONDS
layers=$("$repo/tests/setup/package-test-root.sh" "${debs[@]}") || die "the cached Debian root could not be made"
base=$(sed -n 1p <<<"$layers") deps=$(sed -n 2p <<<"$layers")
elapsed "cached root" "$t"
t=$SECONDS
mount -t overlay overlay -o "lowerdir=$deps:$base,upperdir=$run/upper,workdir=$run/work" "$run/root" || die "overlay mount"
mkdir -p "$run/root/root/debs"
cp -r "$run/debs/v1" "$run/debs/v2" "$run/root/root/debs/"
# debootstrap copied this machine's /etc/hostname; the agent registers under the container's own name instead.
echo "$machine" >"$run/root/etc/hostname"
# --private-network: the container's loopback is its own, so its scheduler (:7700, :7701) and the agent's metrics
# (:9177) meet nothing on the host's ports, and bridges the agent makes stay in the container.
setsid systemd-nspawn -D "$run/root" -b -M "$machine" --register=no --keep-unit --console=pipe --private-network \
  </dev/null >"$cache/console.log" 2>&1 &
nspawn_pid=$!
echo "$nspawn_pid" >"$run/nspawn.pid"
for _ in $(seq 1 100); do ct_pid=$(pgrep -P "$nspawn_pid" -x systemd) && break; sleep 0.1; done
[[ -n $ct_pid ]] || { tail -20 "$cache/console.log"; die "the container's systemd did not start"; }
# Until systemd's bus is up systemctl cannot even ask; then "starting" until boot is done. "degraded" (a unit that
# cannot work in a container failed) is good enough here: the failed units are listed.
booted() { [[ $(in_ct systemctl is-system-running 2>&1) =~ ^(running|degraded)$ ]]; }
wait_for 60 booted || die "container boot: $(in_ct systemctl is-system-running 2>&1)"
in_ct systemctl --failed --plain --no-legend | indent
elapsed boot "$t"

# Every path outside the volatile trees, before installing: purge must leave only what README says it leaves.
snapshot() {
  in_ct find / -xdev \( -path /proc -o -path /sys -o -path /dev -o -path /run -o -path /tmp -o -path /var/tmp \
    -o -path /var/log -o -path /var/cache -o -path /var/lib/apt -o -path /var/lib/dpkg -o -path /root \) -prune -o -print | sort
}
snapshot >"$run/before"

check "dpkg -i installs the three .debs (release 1)" in_ct sh -c 'dpkg -i /root/debs/v1/*.deb </dev/null'
for p in nodeagent nodeagent-scheduler ws; do
  check "$p $version-1 is installed" installed "$p" "$version-1"
done
for unit in nodeagent nodeagent-scheduler; do
  check "$unit.service is enabled but not started by the install" enabled_not_started "$unit"
done
check "the system user nodeagent-scheduler exists, without a login shell" system_user
check "systemd-analyze verify: no output for both units as installed (man: links followed)" verify_units
check "man pages: nodeagent(8), nodeagent-scheduler(8), ws(1)" in_ct man -w nodeagent.8 nodeagent-scheduler.8 ws.1

source "$repo/tests/setup/package-install-steps.sh"

# package-upgrade-steps.sh: steps 4 to 6 of package-install-test.sh (upgrade, purge, the .rpms), sourced by
# package-install-steps.sh with both services running release 1 and conffiles the admin changed.

# --- 4. upgrade ------------------------------------------------------------------------------------------------------
t=$SECONDS
pids_before="$(main_pid nodeagent.service) $(main_pid nodeagent-scheduler.service)"
# In two halves, as dpkg runs an upgrade: unpack (the old prerm, then the new files) and configure (the new postinst).
# stdin is /dev/null: a conffile prompt (which must not come, the packaged conffiles did not change) fails dpkg.
check "dpkg --unpack of release 2 (old prerm, new files)" in_ct sh -c 'dpkg --unpack /root/debs/v2/*.deb </dev/null'
unpack_kept_running() {
  local now
  now="$(main_pid nodeagent.service) $(main_pid nodeagent-scheduler.service)"
  [[ $now == "$pids_before" ]] && running nodeagent.service && running nodeagent-scheduler.service ||
    { echo "MainPIDs $pids_before -> $now; $(state nodeagent.service) / $(state nodeagent-scheduler.service)"; return 1; }
}
check "  ... stopped neither service: same MainPIDs, both active (running)" unpack_kept_running
check "dpkg --configure (new postinst) without a conffile prompt" in_ct sh -c 'dpkg --configure -a </dev/null'
for p in nodeagent nodeagent-scheduler ws; do
  check "$p $version-2 is installed" installed "$p" "$version-2"
done
check "the admin's changes to both conffiles are kept" is "$conf_sums" in_ct sha256sum /etc/nodeagent/nodeagent.conf /etc/nodeagent/scheduler.conf
restarted_running() {
  local pids_after
  running nodeagent.service && running nodeagent-scheduler.service || { echo "$(state nodeagent.service) / $(state nodeagent-scheduler.service)"; return 1; }
  pids_after="$(main_pid nodeagent.service) $(main_pid nodeagent-scheduler.service)"
  [[ $pids_after != "$pids_before" ]] || { echo "MainPIDs unchanged ($pids_after): not restarted"; return 1; }
}
check "both services were restarted after the upgrade (try-restart) and are active (running)" wait_for 30 restarted_running
check "both services are still enabled" is $'enabled\nenabled' in_ct systemctl is-enabled nodeagent nodeagent-scheduler
check "the host id is kept: ws hosts list shows $host_id again" wait_for 30 host_listed
state_kept() {
  ws_admin image list | grep -q pkgtest || { echo "image pkgtest is gone"; return 1; }
  [[ -z $lease_id ]] || ws_admin show "$lease_id" >/dev/null || { echo "lease $lease_id is gone"; return 1; }
}
check "the scheduler's database is kept: image pkgtest and lease ${lease_id:-?} are still listed" state_kept
check "the stand-in guest ran through the upgrade (same PID)" is "$guest_pid" main_pid package-test-guest.service
elapsed upgrade "$t"

# --- 5. purge --------------------------------------------------------------------------------------------------------
# The drop-ins are the admin's own files (made above for old builds), which no package removes.
in_ct rm -rf /etc/systemd/system/nodeagent.service.d /etc/systemd/system/nodeagent-scheduler.service.d
check "dpkg --purge removes the three packages" in_ct dpkg --purge ws nodeagent nodeagent-scheduler
unit_traces() {
  in_ct sh -c 'ls -d /lib/systemd/system/nodeagent* /etc/systemd/system/nodeagent* /etc/systemd/system/*/nodeagent* \
    /var/lib/systemd/deb-systemd-helper-*/nodeagent* /var/lib/systemd/deb-systemd-helper-*/*/nodeagent* 2>/dev/null'
}
check "no unit file, enablement link or deb-systemd-helper state is left" is "" unit_traces
snapshot >"$run/after"
# Paths that exist now and did not before installing, reduced to their top directories.
left=$(comm -13 "$run/before" "$run/after" | grep -Ev '^/var/lib/nodeagent(-scheduler)?/.' | paste -sd' ')
check "purge leaves only /var/lib/nodeagent and /var/lib/nodeagent-scheduler" \
  test "$left" = "/var/lib/nodeagent /var/lib/nodeagent-scheduler"
[[ $left == "/var/lib/nodeagent /var/lib/nodeagent-scheduler" ]] || say "    left: $left"
check "  ... and the system user nodeagent-scheduler, which owns the second" system_user
check "the stand-in guest still runs after the purge" is "$guest_pid" main_pid package-test-guest.service

# --- 6. the .rpms ----------------------------------------------------------------------------------------------------
rpm_of() { printf '%s\n' "${rpms[@]}" | grep "/$1-[0-9]"; }
# has TEXT-PRODUCING-COMMAND... -- LINE...: every LINE is a whole line of the command's output.
has() {
  local out line
  local -a cmd=()
  while [[ $1 != -- ]]; do cmd+=("$1"); shift; done
  shift
  out=$("${cmd[@]}" 2>&1)
  for line in "$@"; do grep -qxF -- "$line" <<<"$out" || { echo "missing: $line"; echo "$out"; return 1; }; done
}
na=$(rpm_of nodeagent) sch=$(rpm_of nodeagent-scheduler) wsr=$(rpm_of ws)
check "rpm nodeagent: files" has rpm -qlp "$na" -- /usr/sbin/nodeagent /usr/lib/systemd/system/nodeagent.service \
  /etc/nodeagent/nodeagent.conf /usr/share/man/man8/nodeagent.8.gz /usr/lib/systemd/system-preset/50-nodeagent.preset
check "rpm nodeagent-scheduler: files" has rpm -qlp "$sch" -- /usr/sbin/nodeagent-scheduler \
  /usr/lib/nodeagent-scheduler/nodeagent-scheduler /usr/lib/nodeagent-scheduler/libe_sqlite3.so \
  /usr/lib/systemd/system/nodeagent-scheduler.service /etc/nodeagent/scheduler.conf \
  /usr/lib/sysusers.d/nodeagent-scheduler.conf /usr/share/man/man8/nodeagent-scheduler.8.gz
check "rpm ws: files" has rpm -qlp "$wsr" -- /usr/bin/ws /usr/share/man/man1/ws.1.gz
# FILEFLAGS "cn": %config(noreplace), so an upgrade keeps an admin's file and writes the new one as .rpmnew.
fileflags() { rpm -qp --qf '[%{FILEFLAGS:fflags} %{FILENAMES}\n]' "$@"; }
check "rpm: both conffiles are %config(noreplace)" has fileflags "$na" "$sch" -- \
  "cn /etc/nodeagent/nodeagent.conf" "cn /etc/nodeagent/scheduler.conf"
check "rpm nodeagent: requires what it runs and loads" has rpm -qp --requires "$na" -- 'libvirt.so.0()(64bit)' \
  'libssl.so.3()(64bit)' iproute nftables qemu-img genisoimage /usr/bin/kill 'libc.so.6(GLIBC_2.34)(64bit)'
# extra_requires RPM [ALLOWED-REGEX]: its requirements beyond the C library (and ALLOWED), one a line.
extra_requires() {
  rpm -qp --requires "$1" | grep -Ev '^(libc\.so\.6|libm\.so\.6|ld-linux-x86-64\.so\.2)\(|^(rtld|rpmlib)\(' | grep -Ev "${2:-^$}"
}
check "rpm ws: requires nothing beyond the C library" is "" extra_requires "$wsr"
check "rpm nodeagent-scheduler: requires nothing beyond the C library, /usr/bin/kill and its scriptlets' tools" \
  is "" extra_requires "$sch" '^(/bin/sh|/usr/bin/kill|shadow-utils|systemd|config\(nodeagent-scheduler\) = .*)$'
check "rpm nodeagent-scheduler: its private SQLite provides nothing to other packages" \
  is "" sh -c "rpm -qp --provides '$sch' | grep -i sqlite"
# Scriptlets: enabled through the preset on a first install only, never started; stopped on erase only ($1 = 0);
# try-restart after an upgrade.
scriptlets_behave() {
  local scripts
  scripts=$(rpm -qp --scripts "$1")
  grep -q 'systemctl --no-reload preset' <<<"$scripts" && grep -q 'if \[ $1 -eq 0 \]' <<<"$scripts" &&
    grep -q 'systemctl --no-reload disable --now' <<<"$scripts" && grep -q 'systemctl try-restart' <<<"$scripts" &&
    ! grep -Eq 'systemctl( --no-reload)? (start|restart|enable --now)' <<<"$scripts" || { echo "$scripts"; return 1; }
}
check "rpm nodeagent scriptlets: preset on install (no start), stop on erase only, try-restart on upgrade" scriptlets_behave "$na"
check "rpm nodeagent-scheduler scriptlets: the same" scriptlets_behave "$sch"
check "rpm nodeagent-scheduler %pre: makes the system user" has rpm -qp --scripts "$sch" -- \
  '  useradd -r -g nodeagent-scheduler -d /var/lib/nodeagent-scheduler -s /sbin/nologin \'

#!/usr/bin/env bash
# payload.sh --format deb|rpm --bin DIR --dest DIR --version VERSION
# Stages the files of the three packages, as they are installed, under DEST/nodeagent, DEST/nodeagent-scheduler and
# DEST/ws. build-deb.sh and build-rpm.sh both package these trees, so the two formats install the same files; they
# differ only where the distributions do (where unit files live, how the scheduler's user is made).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$here")
format='' bin='' dest='' version=''
while (($#)); do
  case $1 in
    --format) format=$2; shift 2 ;;
    --bin) bin=$2; shift 2 ;;
    --dest) dest=$2; shift 2 ;;
    --version) version=$2; shift 2 ;;
    *) echo "payload.sh: unknown argument '$1'; see the comment at the top of $0" >&2; exit 2 ;;
  esac
done
[[ $format == deb || $format == rpm ]] || { echo "payload.sh: --format must be deb or rpm" >&2; exit 2; }
[[ -n $bin && -n $dest && -n $version ]] || { echo "payload.sh: --bin, --dest and --version are required" >&2; exit 2; }
for program in nodeagent nodeagent-scheduler libe_sqlite3.so ws; do
  [[ -f $bin/$program ]] || { echo "payload.sh: $bin/$program is missing; run \`make publish\` first" >&2; exit 1; }
done

# Debian bookworm keeps units in /lib/systemd/system (files must not move between / and /usr until its /usr merge is
# finished); Fedora and RHEL use /usr/lib/systemd/system.
if [[ $format == deb ]]; then unitdir=lib/systemd/system; else unitdir=usr/lib/systemd/system; fi

# The example configuration files come from the programs' own folders once they have them (agent/nodeagent.conf,
# scheduler/scheduler.conf); until then from packaging/conf. Either way they are installed as conffiles.
conf() {
  if [[ -f $repo/$1 ]]; then echo "$repo/$1"; else echo "$here/conf/$(basename "$1")"; fi
}

# Man pages from each program's --help, so they never disagree with it (help2man honours SOURCE_DATE_EPOCH).
man_page() { # PROGRAM SECTION NAME-LINE OUTPUT
  local program=$1 section=$2 name=$3 output=$4
  mkdir -p "$(dirname "$output")"
  help2man --no-info --no-discard-stderr --version-string="$version" --section="$section" --name="$name" \
    --include="$here/man/$(basename "$program").h2m" "$here/man/help-for-man.sh $program" | gzip -9n >"$output"
}

rm -rf "$dest"
mkdir -p "$dest"

# nodeagent: the daemon, run by root, so in /usr/sbin.
p=$dest/nodeagent
install -D -m 0755 "$bin/nodeagent" "$p/usr/sbin/nodeagent"
install -D -m 0644 "$here/systemd/nodeagent.service" "$p/$unitdir/nodeagent.service"
install -D -m 0644 "$(conf agent/nodeagent.conf)" "$p/etc/nodeagent/nodeagent.conf"
man_page "$bin/nodeagent" 8 "NodeAgent host daemon: runs leased workspaces as libvirt domains" "$p/usr/share/man/man8/nodeagent.8.gz"

# nodeagent-scheduler: the binary loads SQLite (libe_sqlite3.so) from its own directory, so both live in a private
# directory; /usr/sbin has a symlink, which the runtime resolves to find the library.
p=$dest/nodeagent-scheduler
install -D -m 0755 "$bin/nodeagent-scheduler" "$p/usr/lib/nodeagent-scheduler/nodeagent-scheduler"
install -D -m 0644 "$bin/libe_sqlite3.so" "$p/usr/lib/nodeagent-scheduler/libe_sqlite3.so"
# SQLitePCLRaw ships it with its symbols; the packages carry none (the AOT binaries are stripped by the publish).
strip --strip-unneeded --remove-section=.comment "$p/usr/lib/nodeagent-scheduler/libe_sqlite3.so"
mkdir -p "$p/usr/sbin"
ln -s ../lib/nodeagent-scheduler/nodeagent-scheduler "$p/usr/sbin/nodeagent-scheduler"
install -D -m 0644 "$here/systemd/nodeagent-scheduler.service" "$p/$unitdir/nodeagent-scheduler.service"
install -D -m 0644 "$(conf scheduler/scheduler.conf)" "$p/etc/nodeagent/scheduler.conf"
man_page "$bin/nodeagent-scheduler" 8 "NodeAgent scheduler: places leased workspaces on hosts" "$p/usr/share/man/man8/nodeagent-scheduler.8.gz"
if [[ $format == rpm ]]; then
  # Fedora and RHEL make system users from sysusers.d; the Debian package uses adduser in its postinst.
  install -D -m 0644 "$here/rpm/nodeagent-scheduler.sysusers" "$p/usr/lib/sysusers.d/nodeagent-scheduler.conf"
fi

# ws: the client people run.
p=$dest/ws
install -D -m 0755 "$bin/ws" "$p/usr/bin/ws"
man_page "$bin/ws" 1 "lease workspaces from a NodeAgent cloud" "$p/usr/share/man/man1/ws.1.gz"

# Stable timestamps: two builds of one commit give the same packages.
if [[ -n ${SOURCE_DATE_EPOCH:-} ]]; then
  find "$dest" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +
fi

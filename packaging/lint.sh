#!/usr/bin/env bash
# lint.sh PACKAGE...: checks built packages and prints one line per check; exits 1 if any finds a problem.
#   .deb: lintian --pedantic with info tags, every finding not overridden is a failure (overrides, each with its
#         reason, are in packaging/deb/*/lintian-overrides and travel inside the packages);
#   .rpm: rpmlint with packaging/rpm/rpmlint.toml (its filters say why each stays);
#   units: systemd-analyze verify of the unit files as the .debs install them, with the binaries they start in place;
#         it exits 0 on many problems and only prints them, so any output at all is a failure.
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$here")
(($#)) || { echo "lint.sh: no packages given; \`make deb rpm\` builds them into out/packages" >&2; exit 2; }
"$repo/tests/setup/ensure-packages.sh" package-lint lintian rpmlint
debs=() rpms=()
for f in "$@"; do
  case $f in
    *.deb) debs+=("$f") ;;
    *.rpm) rpms+=("$f") ;;
    *) echo "lint.sh: '$f' is neither a .deb nor a .rpm" >&2; exit 2 ;;
  esac
done
status=0

if ((${#debs[@]})); then
  # lintian refuses nothing as root but says so on every run; that line is not a finding.
  findings=$(lintian --pedantic --display-info --display-experimental --fail-on none "${debs[@]}" 2>&1 | grep -v '^running with root privileges')
  if [[ -z $findings ]]; then echo "lint: lintian: clean (${#debs[@]} packages)"; else
    echo "lint: lintian: FAILED"; echo "$findings" | sed 's/^/    /'; status=1
  fi

  # A root holding the host's own units (for the targets ours name), /bin/kill for ExecReload=, and the packages'
  # files: systemd-analyze then checks our units as installed, down to the executables they start.
  root=$(mktemp -d)
  trap 'rm -rf "$root"' EXIT
  mkdir -p "$root/lib/systemd" "$root/bin"
  cp -a /lib/systemd/system "$root/lib/systemd/"
  cp /bin/kill "$root/bin/"
  for deb in "${debs[@]}"; do dpkg-deb -x "$deb" "$root"; done
  mapfile -t units < <(find "$root/lib/systemd/system" -name 'nodeagent*.service')
  # Man pages are checked where man-db is installed: in package-install-test.sh's container.
  findings=$(systemd-analyze --root="$root" --man=no verify "${units[@]}" 2>&1)
  verify=$?
  if ((verify == 0)) && [[ -z $findings ]]; then echo "lint: systemd-analyze verify: clean (${#units[@]} units)"; else
    echo "lint: systemd-analyze verify: FAILED (exit $verify)"; echo "$findings" | sed "s|$root||g; s/^/    /"; status=1
  fi
fi

if ((${#rpms[@]})); then
  findings=$(rpmlint -c "$here/rpm/rpmlint.toml" "${rpms[@]}" 2>&1)
  if grep -q ' 0 errors, 0 warnings' <<<"$findings"; then echo "lint: rpmlint: clean (${#rpms[@]} packages)"; else
    echo "lint: rpmlint: FAILED"; echo "$findings" | sed 's/^/    /'; status=1
  fi
fi

exit "$status"

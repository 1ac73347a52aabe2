#!/usr/bin/env bash
# build-rpm.sh [--bin DIR] [--out DIR] [--release N]
# Builds nodeagent, nodeagent-scheduler and ws RPMs with `rpmbuild -bb` from packaging/rpm/nodeagent.spec, packaging
# the same staged files as the .debs (packaging/payload.sh --format rpm). VERSION is <Version> of
# Directory.Build.props, RELEASE (default 1) the RPM release. MAINTAINER sets the changelog's packager, LICENSE the
# License tag (default: the project has none yet, see packaging/rpm/rpmlint.toml), URL the URL tag.
# PACKAGE_COMPRESSION=fast compresses the payload with gzip -1, for tests that throw the packages away.
set -euo pipefail

script=build-rpm.sh
# shellcheck source=packaging/build-args.sh
source "$(dirname "$0")/build-args.sh"

# rpm gives rpmbuild; help2man writes the man pages.
"$repo/tests/setup/ensure-packages.sh" build-rpm rpm help2man

source "$here/version.sh"
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git -C "$repo" log -1 --format=%ct 2>/dev/null || date +%s)}
commit=$(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo unknown)

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$here/payload.sh" --format rpm --bin "$bin" --dest "$work/payload" --version "$version"
cp "$here/deb/copyright" "$work/payload/copyright"

defines=(
  --define "_topdir $work/rpmbuild"
  --define "payload $work/payload"
  --define "pkg_version $version"
  --define "pkg_release $release"
  --define "pkg_license ${LICENSE:-LicenseRef-NodeAgent-Unpublished}"
  --define "packager ${MAINTAINER:-NodeAgent contributors <nodeagent@example.org>}"
  --define "pkg_date $(LC_ALL=C date -u -d "@$SOURCE_DATE_EPOCH" '+%a %b %d %Y')"
  --define "pkg_commit $commit"
  # Timestamps from SOURCE_DATE_EPOCH for the build time and every file, so a rebuild is byte-identical.
  --define "use_source_date_epoch_as_buildtime 1"
  --define "clamp_mtime_to_source_date_epoch 1"
  --define "_buildhost reproducible"
)
[[ -z ${URL:-} ]] || defines+=(--define "pkg_url $URL")
[[ ${PACKAGE_COMPRESSION:-} != fast ]] || defines+=(--define "_binary_payload w1.gzdio")

rpmbuild -bb --quiet --target x86_64 "${defines[@]}" "$here/rpm/nodeagent.spec" >"$work/rpmbuild.log" 2>&1 || {
  cat "$work/rpmbuild.log" >&2
  exit 1
}
mkdir -p "$out"
find "$work/rpmbuild/RPMS" -name '*.rpm' -exec mv {} "$out/" \; -printf "$out/%f\n" | sort

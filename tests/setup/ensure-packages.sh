#!/usr/bin/env bash
# ensure-packages.sh NAME PKG...: installs those Debian packages that are missing, and only those.
# `apt-get update` runs only when something must be installed, so a second run costs a dpkg query.
set -euo pipefail
name=$1; shift
missing=()
for p in "$@"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "$name: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

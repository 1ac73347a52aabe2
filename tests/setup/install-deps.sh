#!/usr/bin/env bash
# Installs what the tests need on a Debian 12 machine, idempotently: only missing packages are fetched.
set -euo pipefail

packages=(
  # A gRPC peer nobody here wrote: Debian's grpcio, and protoc to compile the contract for it.
  python3-grpcio python3-protobuf protobuf-compiler libprotobuf-dev
  curl ca-certificates
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if ((${#missing[@]})); then
  echo "install-deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  echo "install-deps: all ${#packages[@]} packages present"
fi

command -v dotnet >/dev/null || { echo "install-deps: the .NET SDK (10.0) is required: https://dot.net" >&2; exit 1; }

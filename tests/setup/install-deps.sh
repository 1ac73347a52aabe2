#!/usr/bin/env bash
# Installs what the tests need on a Debian 12 machine, idempotently: only missing packages are fetched.
set -euo pipefail

packages=(
  # Networking tests (tests/NodeAgent.Tests/Networking): namespaces, bridges, nftables, and ping between guests.
  iproute2 nftables iputils-ping
  # A gRPC peer nobody here wrote: Debian's grpcio, and protoc to compile the contract for it.
  python3-grpcio python3-protobuf protobuf-compiler libprotobuf-dev
  curl ca-certificates
  # NoCloud seeds: genisoimage builds them (the agent runs it; isoinfo reads them back in tests), and
  # PyYAML, the parser cloud-init reads them with, checks the YAML the agent writes; with requests, cloud-init's
  # own network-config parser runs from its unpacked (never installed) package.
  genisoimage python3-yaml python3-requests
  # ssh-keygen: the SSH key tests check real OpenSSH public keys, not hand-made ones.
  openssh-client
  # The packaging test (tests/setup/package-install-test.sh): building and linting .debs and .rpms, and a Debian root
  # booted with systemd-nspawn to install them in.
  dpkg-dev help2man lintian rpm rpmlint debootstrap systemd-container jq
)

"$(dirname "$0")/ensure-packages.sh" install-deps "${packages[@]}"

# A real Prometheus server and promtool for the metrics tests (tests/NodeAgent.Tests/Metrics), which start their own
# server on a free loopback port. Debian's postinst starts the packaged daemon on :9090 through invoke-rc.d; a
# policy-rc.d that answers 101 ("action forbidden") for the length of the install keeps it from doing so, and no
# test depends on that daemon.
if ! dpkg-query -W -f='${Status}' prometheus 2>/dev/null | grep -q "install ok installed"; then
  policy=/usr/sbin/policy-rc.d
  if [[ -e $policy ]]; then
    "$(dirname "$0")/ensure-packages.sh" install-deps prometheus
  else
    printf '#!/bin/sh\nexit 101\n' >"$policy"; chmod +x "$policy"
    trap 'rm -f "$policy"' EXIT
    "$(dirname "$0")/ensure-packages.sh" install-deps prometheus
    rm -f "$policy"; trap - EXIT
  fi
fi

command -v dotnet >/dev/null || { echo "install-deps: the .NET SDK (10.0) is required: https://dot.net" >&2; exit 1; }

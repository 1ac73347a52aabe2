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
)

"$(dirname "$0")/ensure-packages.sh" install-deps "${packages[@]}"

command -v dotnet >/dev/null || { echo "install-deps: the .NET SDK (10.0) is required: https://dot.net" >&2; exit 1; }

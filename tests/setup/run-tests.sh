#!/usr/bin/env bash
# Runs every test project and ends with one line CI reads: "N passed, N failed, N skipped".
set -uo pipefail
cd "$(dirname "$0")/../.."

log=$(mktemp)
trap 'rm -f "$log"' EXIT
dotnet test NodeAgent.sln --nologo -v q --logger "console;verbosity=normal" "$@" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}

# The console logger ends each test project with "Total tests: N" and indented "Passed: N", "Failed: N",
# "Skipped: N" lines; sum them over all projects.
count() { awk -v key="$1" '$1 == key":" && NF == 2 && $2 ~ /^[0-9]+$/ {s += $2} END {print s + 0}' "$log"; }
passed=$(count Passed) failed=$(count Failed) skipped=$(count Skipped)

echo
echo "tests: $passed passed, $failed failed, $skipped skipped"
if ((status == 0 && passed == 0)); then
  echo "run-tests: no test ran" >&2
  exit 1
fi
exit "$status"

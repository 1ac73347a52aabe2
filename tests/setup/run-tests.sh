#!/usr/bin/env bash
# Runs every test project and ends with one line CI reads: "N passed, N failed, N skipped".
set -uo pipefail
cd "$(dirname "$0")/../.."

log=$(mktemp)
trap 'rm -f "$log"' EXIT
dotnet test NodeAgent.sln --nologo -v q --logger "console;verbosity=normal" "$@" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}

# Once more with every scheduler the tests start on PostgreSQL (tests/setup/start-postgres.sh's server, or
# $NODEAGENT_TEST_POSTGRES): the API, lease, placement and ws tests then run against that store too.
echo "run-tests: the scheduler's and ws's tests again, with the store on PostgreSQL"
NODEAGENT_TEST_STORE=postgresql dotnet test tests/NodeAgent.Tests --nologo -v q --logger "console;verbosity=normal" \
  --filter "FullyQualifiedName~NodeAgent.Tests.Scheduler|FullyQualifiedName~NodeAgent.Tests.Cli|FullyQualifiedName~NodeAgent.Tests.Security" "$@" 2>&1 | tee -a "$log"
again=${PIPESTATUS[0]}
((status == 0)) && status=$again

# The console logger ends each test project with "Total tests: N" and indented "Passed: N", "Failed: N",
# "Skipped: N" lines; sum them over all projects.
count() { awk -v key="$1" '$1 == key":" && NF == 2 && $2 ~ /^[0-9]+$/ {s += $2} END {print s + 0}' "$log"; }
passed=$(count Passed) failed=$(count Failed) skipped=$(count Skipped)

# A failed test's name and the first lines of its message, again at the end, where a CI log's tail shows them.
if ((failed > 0)); then
  echo
  echo "run-tests: the failed tests:"
  awk '/^  Failed / {n = 12} n > 0 {print; n--}' "$log"
fi

echo
echo "tests: $passed passed, $failed failed, $skipped skipped"
if ((status == 0 && passed == 0)); then
  echo "run-tests: no test ran" >&2
  exit 1
fi
exit "$status"

#!/usr/bin/env bash
# Runs the fault test (e2e TestFaultsExactlyOnce) at scale: N messages each way (default 10000)
# through a flaky gateway while the bridge is killed with SIGKILL and restarted KILLS times
# (default 20), and prints the counts the test logs. Needs Synapse (scripts/testdeps.sh synapse);
# set MATRIX_CPIM_TEST_POSTGRES to run against PostgreSQL as well as SQLite.
# Usage: scripts/faulttest.sh [N] [KILLS]
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-10000}
kills=${2:-20}
case $n$kills in *[!0-9]*) echo "usage: $0 [N] [KILLS]" >&2; exit 2 ;; esac
log=$(mktemp /tmp/matrix-cpim-faulttest.XXXXXX)
echo "fault test: $n messages each way, $kills kills; full log in $log"
status=0
MATRIX_CPIM_FAULT_N=$n MATRIX_CPIM_FAULT_KILLS=$kills \
	go test -tags goolm -count=1 -v -timeout 3h -run '^TestFaultsExactlyOnce$' ./e2e/ >"$log" 2>&1 || status=$?
# The counts and the failures, without the bridge and homeserver logs a failing test appends.
grep -E '^\s+fault_test\.go:[0-9]+: |^(--- |=== RUN|ok|FAIL|PASS)' "$log" || true
exit $status

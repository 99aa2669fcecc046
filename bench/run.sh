#!/bin/sh
# bench/run.sh builds matrix-cpim, the baseline connector and cpimbench, and runs every figure of
# the "Bridge throughput and latency" section of BENCHMARKS.md in one invocation: matrix-cpim and
# the baseline against the stand-in homeserver (throughput, latency, memory, CPU profiles), then
# both end to end with a real Dendrite.
#
#   bench/run.sh                  full sizes: about 30 minutes on a 2-core machine
#   bench/run.sh --quick          small sizes, one run: about 6 minutes
#   bench/run.sh --no-dendrite    skip the Dendrite run (and its ~5 minute install)
#   bench/run.sh -- -runs 5 …     anything after -- goes to cpimbench (see cpimbench -h)
#
# Results go to $BENCH_OUT (default bench/results/, not committed): results.md (the tables), results.json (every
# figure of every run), CPU and heap profiles (*.pprof) with their top functions (*.top.txt).
# Dendrite is installed with scripts/testdeps.sh if it is missing.
set -eu
cd "$(dirname "$0")/.."

out=${BENCH_OUT:-bench/results}
quick=
dendrite=-dendrite=true
while [ $# -gt 0 ]; do
	case $1 in
	--quick) quick=-quick ;;
	--no-dendrite) dendrite=-dendrite=false ;;
	--) shift; break ;;
	*) echo "usage: bench/run.sh [--quick] [--no-dendrite] [-- cpimbench flags]" >&2; exit 2 ;;
	esac
	shift
done

bin=$(mktemp -d "${TMPDIR:-/tmp}/cpimbench-bin.XXXXXX")
trap 'rm -rf "$bin"' EXIT
trap 'exit 130' INT TERM
echo "building into $bin" >&2
# cgo for go-sqlite3; goolm is the pure-Go Olm, as in build.sh.
CGO_ENABLED=1 go build -tags goolm -o "$bin/matrix-cpim" ./cmd/matrix-cpim
CGO_ENABLED=1 go build -tags goolm -o "$bin/baseline" ./bench/baseline
go build -o "$bin/cpimbench" ./bench/cmd/cpimbench

if [ "$dendrite" = -dendrite=true ]; then
	gobin=$(go env GOBIN)
	[ -n "$gobin" ] || gobin=$(go env GOPATH | cut -d: -f1)/bin
	if [ ! -x "$gobin/dendrite" ]; then
		echo "installing Dendrite (scripts/testdeps.sh dendrite, about 5 minutes)" >&2
		scripts/testdeps.sh dendrite
	fi
fi

# $quick is empty or one flag: left unquoted on purpose so that empty means no argument.
# shellcheck disable=SC2086
"$bin/cpimbench" -bridge "$bin/matrix-cpim" -baseline "$bin/baseline" -out "$out" $quick "$dendrite" "$@"

for p in "$out"/*.pprof; do
	[ -e "$p" ] || continue
	go tool pprof -top -nodecount=40 "$p" >"${p%.pprof}.top.txt" 2>/dev/null || true
done
echo "results in $out/results.md" >&2

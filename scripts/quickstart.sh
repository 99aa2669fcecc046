#!/usr/bin/env bash
# Sets up and runs matrix-cpim on this Debian machine, with a local Synapse (the homeserver the
# tests use, from a Debian sid chroot), a Matrix user and a demo gateway; see README.md.
# Needs root (debootstrap and chroot) and Go 1.24 or newer. Arguments go to the quick-start
# program (e.g. --password). MATRIX_CPIM_TEST_HS=dendrite runs Dendrite instead of Synapse.
set -euo pipefail
cd "$(dirname "$0")/.."

die() { echo "quickstart: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || die "run as root (sudo scripts/quickstart.sh): Synapse runs in a chroot"
command -v go >/dev/null || die "Go is not installed; install Go 1.24 or newer first"

missing=()
for cmd in debootstrap gcc git; do command -v "$cmd" >/dev/null || missing+=("$cmd"); done
if [ ${#missing[@]} -gt 0 ]; then
	echo "==> Installing ${missing[*]}"
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]/gcc/build-essential}" ca-certificates >/dev/null
fi
if [ "${MATRIX_CPIM_TEST_HS:-synapse}" = dendrite ]; then
	echo "==> Installing Dendrite (first run: a few minutes)"
	scripts/testdeps.sh dendrite
else
	echo "==> Installing Synapse into a chroot (first run: a few minutes)"
	scripts/testdeps.sh synapse
fi
echo "==> Building matrix-cpim and cpimtool"
./build.sh
mkdir -p .quickstart
go build -o .quickstart/quickstart ./internal/quickstart
exec .quickstart/quickstart -dir .quickstart -bin . "$@"

#!/usr/bin/env bash
# testdeps.sh installs the Matrix homeservers that the end-to-end tests
# (internal/tesths) start on loopback.
#
#   scripts/testdeps.sh synapse   Debian sid chroot with matrix-synapse
#                                 (bookworm has no matrix-synapse package)
#   scripts/testdeps.sh dendrite  dendrite binaries into $(go env GOBIN), or
#                                 $(go env GOPATH)/bin when GOBIN is unset
#   scripts/testdeps.sh all       both
#
# The chroot goes to $MATRIX_CPIM_SYNAPSE_ROOT (default
# /var/cache/matrix-cpim/synapse-sid). It is built beside its final place and
# renamed into it only once complete, with a marker file written last, so an
# interrupted build is never mistaken for a finished one and a second run
# returns at once. Needs root (debootstrap, chroot, apt-get).
set -euo pipefail

SYNAPSE_ROOT=${MATRIX_CPIM_SYNAPSE_ROOT:-/var/cache/matrix-cpim/synapse-sid}
# Keep in step with completeMarker in internal/tesths/synapse.go.
SYNAPSE_MARKER=.matrix-cpim-synapse-complete
DENDRITE_VERSION=v0.13.8

log() { printf 'testdeps: %s\n' "$*" >&2; }
die() {
	log "error: $*"
	exit 1
}

# retry runs its arguments up to 4 times, because mirror fetches fail
# transiently and one bad fetch should not fail a CI run.
retry() {
	local n
	for n in 1 2 3 4; do
		if "$@"; then
			return 0
		fi
		log "attempt $n of '$*' failed"
		[ "$n" -lt 4 ] && sleep $((n * 5))
	done
	return 1
}

# quietly runs a command with its output in a file, shown only on failure.
quietly() {
	local out rc=0
	out=$(mktemp)
	"$@" >"$out" 2>&1 || rc=$?
	if [ "$rc" -ne 0 ]; then
		tail -n 40 "$out" >&2
	fi
	rm -f "$out"
	return "$rc"
}

host_apt_updated=
host_install() {
	local missing=() p
	for p in "$@"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
			missing+=("$p")
	done
	[ "${#missing[@]}" -eq 0 ] && return 0
	if [ -z "$host_apt_updated" ]; then
		retry quietly apt-get update
		host_apt_updated=1
	fi
	log "installing host packages: ${missing[*]}"
	retry quietly env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
}

# debian_mirror prints the Debian archive URI that this machine's apt uses,
# so that the chroot fetches from the same (reachable) place.
debian_mirror() {
	local uri
	uri=$(
		{
			grep -hs '^URIs:' /etc/apt/sources.list.d/*.sources | awk '{for (i = 2; i <= NF; i++) print $i}'
			grep -hs '^deb ' /etc/apt/sources.list /etc/apt/sources.list.d/*.list | awk '{print ($2 ~ /^\[/) ? $3 : $2}'
		} | grep -E '/debian/?$' | head -n 1
	)
	echo "${uri:-http://deb.debian.org/debian}"
}

# unmount_under lazily unmounts whatever an interrupted debootstrap left
# mounted (it mounts /proc and /sys in its target while it works) below $1.
unmount_under() {
	local m
	awk -v d="$1/" 'index($2, d) == 1 { print $2 }' /proc/mounts | sort -r |
		while read -r m; do umount -l "$m" || true; done
}

# debootstrap_sid starts from an empty directory on every attempt, since
# debootstrap does not resume a target that a failed run left behind.
debootstrap_sid() {
	unmount_under "$1"
	rm -rf --one-file-system "$1"
	quietly debootstrap --variant=minbase sid "$1" "$2"
}

install_synapse() {
	if [ -f "$SYNAPSE_ROOT/$SYNAPSE_MARKER" ]; then
		log "synapse chroot already complete at $SYNAPSE_ROOT"
		return 0
	fi
	[ "$(id -u)" -eq 0 ] || die "building the synapse chroot needs root"
	mkdir -p "$(dirname "$SYNAPSE_ROOT")"
	# One build at a time; a second caller waits and then finds it done.
	exec 9>"$SYNAPSE_ROOT.lock"
	flock 9
	if [ -f "$SYNAPSE_ROOT/$SYNAPSE_MARKER" ]; then
		log "synapse chroot already complete at $SYNAPSE_ROOT"
		return 0
	fi
	[ ! -e "$SYNAPSE_ROOT" ] || die "$SYNAPSE_ROOT exists but has no $SYNAPSE_MARKER; remove it and run again"
	host_install debootstrap ca-certificates

	local mirror build started
	mirror=$(debian_mirror)
	build="$SYNAPSE_ROOT.partial"
	started=$SECONDS

	log "debootstrap sid into $build from $mirror"
	retry debootstrap_sid "$build" "$mirror" || die "debootstrap failed"

	# No daemon may start inside the chroot during package installation.
	printf '#!/bin/sh\nexit 101\n' >"$build/usr/sbin/policy-rc.d"
	chmod 755 "$build/usr/sbin/policy-rc.d"
	cp /etc/resolv.conf "$build/etc/resolv.conf"
	echo 'matrix-synapse matrix-synapse/server-name string localhost' |
		chroot "$build" debconf-set-selections

	# Check-Valid-Until: the mirror may serve a dated snapshot of sid.
	local apt=(env DEBIAN_FRONTEND=noninteractive apt-get -q -o Acquire::Check-Valid-Until=false)
	log "installing matrix-synapse in the chroot"
	retry quietly chroot "$build" "${apt[@]}" update
	retry quietly chroot "$build" "${apt[@]}" install -y --no-install-recommends matrix-synapse
	chroot "$build" apt-get clean
	chroot "$build" python3 -c 'import synapse.app.homeserver' ||
		die "synapse does not import inside the chroot"

	# shellcheck disable=SC2016 # a dpkg-query format, not a shell expansion
	chroot "$build" dpkg-query -W -f='${Version}\n' matrix-synapse >"$build/$SYNAPSE_MARKER"
	mv "$build" "$SYNAPSE_ROOT"
	log "synapse $(cat "$SYNAPSE_ROOT/$SYNAPSE_MARKER") ready in $SYNAPSE_ROOT ($((SECONDS - started))s)"
}

install_dendrite() {
	command -v go >/dev/null || die "go is not on PATH"
	local bin started
	bin=$(go env GOBIN)
	if [ -z "$bin" ]; then
		bin="$(go env GOPATH | cut -d: -f1)/bin"
	fi
	if [ -x "$bin/dendrite" ] && [ -x "$bin/generate-keys" ] && [ -x "$bin/generate-config" ] &&
		go version -m "$bin/dendrite" | grep -q "mod[[:space:]]*github.com/matrix-org/dendrite[[:space:]]*$DENDRITE_VERSION"; then
		log "dendrite $DENDRITE_VERSION already in $bin"
		return 0
	fi
	# Dendrite's SQLite driver is cgo.
	host_install gcc libc6-dev
	started=$SECONDS
	log "building dendrite $DENDRITE_VERSION into $bin"
	local m=github.com/matrix-org/dendrite/cmd
	retry quietly env CGO_ENABLED=1 go install \
		"$m/dendrite@$DENDRITE_VERSION" "$m/generate-keys@$DENDRITE_VERSION" "$m/generate-config@$DENDRITE_VERSION"
	log "dendrite ready ($((SECONDS - started))s)"
}

case "${1:-}" in
synapse) install_synapse ;;
dendrite) install_dendrite ;;
all)
	install_synapse
	install_dendrite
	;;
*)
	echo "usage: $0 synapse|dendrite|all" >&2
	exit 2
	;;
esac

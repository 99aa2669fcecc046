#!/bin/sh
# Entrypoint of the matrix-cpim container image. Like the mautrix bridges' docker-run.sh, it takes an
# empty data directory through setup one start at a time:
#   1. no config.yaml: writes the example config, with the SQLite database in the data directory and
#      the appservice listening on all interfaces, and exits for the admin to edit it;
#   2. no registration.yaml: generates the appservice registration and exits for the admin to give it
#      to the homeserver;
#   3. otherwise: runs the bridge, passing this script's arguments on (e.g. --ignore-unsupported-server).
# Started as root, it first gives the data directory to UID:GID (default 1337:1337) and carries on as
# that user, so that the bridge never runs as root; started as another user (docker run --user), it
# runs as that user, which must be able to write the data directory.
#
# Environment: UID, GID; BRIDGE_DATA, the data directory (default /data); BRIDGE_BINARY, the bridge
# (default /usr/bin/matrix-cpim).
set -eu

data=${BRIDGE_DATA:-/data}
binary=${BRIDGE_BINARY:-/usr/bin/matrix-cpim}

fail() {
	printf 'matrix-cpim: %s\n' "$*" >&2
	exit 1
}

# The data directory goes unescaped into sed replacements and the SQLite URI, where / . _ - are the
# only punctuation that means nothing.
case $data in
/*) ;;
*) fail "BRIDGE_DATA must be an absolute path, not '$data'" ;;
esac
case $data in
*[!A-Za-z0-9/._-]*) fail "BRIDGE_DATA may hold only letters, digits and / . _ -, not '$data'" ;;
esac
# UID is only an environment variable to dash, the image's /bin/sh; bash would set it to the
# current user.
# shellcheck disable=SC3028
uid=${UID:-1337}
gid=${GID:-$uid}
case $uid in '' | *[!0-9]*) fail "UID must be a number, not '$uid'" ;; esac
case $gid in '' | *[!0-9]*) fail "GID must be a number, not '$gid'" ;; esac
[ -d "$data" ] || fail "$data does not exist: mount a volume there"

if [ "$(id -u)" = 0 ] && [ "$uid" != 0 ]; then
	command -v setpriv >/dev/null || fail "setpriv (util-linux) is needed to drop root privileges"
	# A failed chown is not fatal: on NFS with root_squash, for one, the directory may already be
	# the user's. The write check below, made as that user, decides.
	chown -R "$uid:$gid" "$data" || printf 'matrix-cpim: could not give %s to %s:%s\n' "$data" "$uid" "$gid" >&2
	exec setpriv --reuid="$uid" --regid="$gid" --clear-groups -- /bin/sh "$0" "$@"
fi

# The bridge reads variables that start with its env_config_prefix as config keys and refuses those
# that name none; BRIDGE_ is the prefix its example config suggests.
unset BRIDGE_DATA BRIDGE_BINARY

if ! [ -w "$data" ] || ! [ -x "$data" ]; then
	fail "$data is not writable by uid $(id -u) gid $(id -g): give it to that user, or start the container as root so that this script gives it to UID:GID"
fi
# The data directory may be shared with the homeserver (docker-compose.yml): of what is written
# below, only the registration is for it to read.
umask 077
# The example config's file log writer names a relative path: logs/ in the data directory.
cd "$data"
config=$data/config.yaml
registration=$data/registration.yaml

if ! [ -f "$config" ]; then
	draft=$data/.config.yaml.new
	rm -f "$draft"
	"$binary" -e -c "$draft" >/dev/null
	# Only the lines below are changed, each in its own top-level section; the check after makes sure
	# each was found once, so that a change of the example config cannot go unnoticed.
	sed -i \
		-e '/^database:/,/^[^ #]/{s|^    type: postgres$|    type: sqlite3-fk-wal|;s|^    uri: postgres://.*$|    uri: file:'"$data"'/matrix-cpim.db?_txlock=immediate|;}' \
		-e '/^appservice:/,/^[^ #]/s|^    hostname: 127\.0\.0\.1$|    hostname: 0.0.0.0|' \
		"$draft"
	edited=$(sed -n -e '/^database:/,/^[^ #]/{/^    type: /p;/^    uri: /p;}' -e '/^appservice:/,/^[^ #]/{/^    hostname: /p;}' "$draft")
	if [ "$edited" != "    type: sqlite3-fk-wal
    uri: file:$data/matrix-cpim.db?_txlock=immediate
    hostname: 0.0.0.0" ]; then
		rm -f "$draft"
		fail "the example config no longer has the lines this script edits (database.type, database.uri, appservice.hostname); this is a bug of the image"
	fi
	mv "$draft" "$config"
	cat <<-MSG
		Wrote an example config to $config, with the SQLite database in $data
		and the appservice listening on 0.0.0.0. Edit it: at least homeserver.address and
		homeserver.domain, appservice.address (the URL at which the homeserver reaches this
		container), bridge.permissions and network.gateways. Then start the container again to
		generate the appservice registration.
	MSG
	exit 0
fi

if ! [ -f "$registration" ]; then
	status=0
	"$binary" -g -c "$config" -r "$registration" || status=$?
	if [ "$status" != 0 ]; then
		fail "generating $registration failed (exit status $status); is homeserver.domain set in $config?"
	fi
	# Group-readable, so that a homeserver in the group GID can read it from a shared volume.
	chmod 0640 "$registration"
	cat <<-MSG
		Wrote the appservice registration to $registration. Add it to the homeserver
		(Synapse: app_service_config_files in homeserver.yaml) and restart the homeserver,
		then start this container again to run the bridge.
	MSG
	exit 0
fi

exec "$binary" -c "$config" -r "$registration" "$@"

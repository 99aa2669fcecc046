# The matrix-cpim bridge; docs/docker.md explains how to build and run it.

# The bridge is built by build.sh, exactly as outside Docker. cgo links it against the build image's
# glibc, so the runtime image below is of the same Debian release.
FROM golang:1.26-bookworm AS build
# build.sh stamps the version from git itself; Go's own stamping would fail the build where the
# context's .git is not a usable repository (a worktree's, for one).
ENV GOFLAGS=-buildvcs=false
WORKDIR /src
# The modules first, so that a change of the source alone reuses the downloaded ones.
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN ./build.sh

FROM debian:bookworm-slim
RUN apt-get update \
	&& apt-get install -y --no-install-recommends ca-certificates \
	&& rm -rf /var/lib/apt/lists/*
# The user docker/run.sh gives /data to and runs the bridge as, unless UID and GID say otherwise.
# Not a --system user: useradd warns about a system uid above 999.
RUN groupadd --gid 1337 matrix-cpim \
	&& useradd --uid 1337 --gid 1337 --home-dir /data --no-create-home --shell /usr/sbin/nologin matrix-cpim
COPY --from=build /src/matrix-cpim /src/cpimtool /usr/bin/
COPY docker/run.sh /docker-run.sh
VOLUME /data
# The appservice listener (appservice.port), where the homeserver and the HTTP gateways reach the bridge.
EXPOSE 29360
# Started as root so that run.sh can give /data to the bridge's user; it drops to that user itself.
ENTRYPOINT ["/bin/sh", "/docker-run.sh"]

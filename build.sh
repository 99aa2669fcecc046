#!/bin/sh
# Builds ./matrix-cpim and ./cpimtool. cgo is needed for go-sqlite3; goolm is the pure-Go Olm, so no
# libolm headers are needed.
set -e
cd "$(dirname "$0")"
GO_LDFLAGS="-s -w -X main.Tag=$(git describe --exact-match --tags 2>/dev/null || echo unknown) -X main.Commit=$(git rev-parse HEAD 2>/dev/null || echo unknown) -X 'main.BuildTime=$(date -Iseconds)'"
export CGO_ENABLED=1
go build -tags goolm -ldflags="$GO_LDFLAGS" -o matrix-cpim ./cmd/matrix-cpim "$@"
go build -o cpimtool ./cmd/cpimtool

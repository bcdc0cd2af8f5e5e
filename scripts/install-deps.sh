#!/bin/sh
# Installs the Debian packages actingweb-c needs to build, test and benchmark.
# Idempotent; prints nothing when everything is already present.
set -e
PKGS="build-essential cmake pkg-config libuv1-dev libmicrohttpd-dev libcurl4-openssl-dev libjansson-dev libyajl-dev \
libsqlite3-dev zlib1g-dev libhttp-parser-dev libmimalloc-dev libcmocka-dev python3 wrk openssl ca-certificates"
missing=""
for p in $PKGS; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "install-deps: installing$missing" >&2
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq >&2
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing >&2

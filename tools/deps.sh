#!/bin/sh
# Install the Debian packages pathfm needs to build and test, only those
# missing. As non-root, print the command instead.
set -eu
pkgs="build-essential pkg-config libopenslide-dev libtiff-dev libturbojpeg0-dev
libzmq3-dev libopenblas-dev clang libclang-rt-14-dev jq"
# msgpack-c: Debian 12 calls it libmsgpack-dev, newer releases libmsgpack-c-dev.
if apt-cache show libmsgpack-c-dev >/dev/null 2>&1; then
	pkgs="$pkgs libmsgpack-c-dev"
else
	pkgs="$pkgs libmsgpack-dev"
fi
missing=""
for p in $pkgs; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
		missing="$missing $p"
done
if [ -n "$missing" ]; then
cmd="apt-get install -y --no-install-recommends$missing"
if [ "$(id -u)" != 0 ]; then
	echo "pathfm: missing packages; run as root:" >&2
	echo "  apt-get update && $cmd" >&2
	exit 1
fi
echo "deps: installing$missing" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
$cmd
fi
# Python test references (torch, scipy, scikit-posthocs ...): a venv in
# .venv that sees Debian's packages, pinned versions from PyPI.
if [ -f tools/deps-py.sh ]; then
	sh tools/deps-py.sh
fi

#!/bin/bash
# quickstart.sh: install everything on a fresh Debian machine (as root, or with sudo) and
# run the main job: `pump make -j4 CC="distcc gcc"` of Lua 5.4 (Debian's source) on the
# embedded default (no hosts configured: pump runs a private loopback distccd), then a
# check that the built interpreter works.
set -euo pipefail
cd "$(dirname "$0")/.."
SUDO=; [ "$(id -u)" = 0 ] || SUDO=sudo
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq python3-pip python3-venv gcc make liblzo2-dev dpkg-dev \
  distcc >/dev/null
python3 -m pip install -q .
# Use the installed commands directly (a version manager's shims would add their own
# start-up time to every compile).
PATH="$(python3 -c 'import sysconfig; print(sysconfig.get_path("scripts"))'):$PATH"

work=$(mktemp -d /tmp/distcc-py-quickstart.XXXXXX)
chmod 1777 "$work"

# The project: Debian's lua5.4 source.
if [ -x ../shared/corpus/get.sh ]; then
  ../shared/corpus/get.sh lua5.4 "$work/lua"
else
  (cd "$work" && apt-get source --download-only lua5.4 >/dev/null 2>&1 \
    && dpkg-source --skip-patches -x ./*.dsc lua >/dev/null)
fi

# The main job: a pump build with no hosts configured.  `pump` starts (or reuses) this
# user's include server and private distccd (on a loopback port), runs the build in
# pump mode (headers shipped, preprocessing on the daemon), and prints what ran where.
# (An empty DISTCC_HOSTS also overrides /etc/distcc/hosts, which Debian's distcc package
# ships naming 127.0.0.1.)
export DISTCC_HOSTS=""
export DISTCC_DIR="$work/distcc-dir"
mkdir -p "$DISTCC_DIR"
pump make -s -C "$work/lua" -j4 linux CC="distcc gcc" 2>&1 | tee "$work/build.log"
"$work/lua/src/lua" -e 'print("lua built with distcc-py in pump mode: " .. _VERSION)'
grep -q "remote (pump mode)" "$work/build.log"

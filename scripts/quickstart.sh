#!/bin/bash
# quickstart.sh: install everything on a fresh Debian machine (as root, or with sudo) and
# run the main job: a build of Lua 5.4 (Debian's source) with `make -j4 CC="distcc gcc"`
# through a private distccd on a loopback port, then a check that every compile ran
# remotely and that the built interpreter works.
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
trap '[ -f "$work/distccd.pid" ] && kill "$(cat "$work/distccd.pid")" 2>/dev/null; true' EXIT

# The project: Debian's lua5.4 source.
if [ -x ../shared/corpus/get.sh ]; then
  ../shared/corpus/get.sh lua5.4 "$work/lua"
else
  (cd "$work" && apt-get source --download-only lua5.4 >/dev/null 2>&1 \
    && dpkg-source --skip-patches -x ./*.dsc lua >/dev/null)
fi

# A private daemon on a free loopback port, serving only this machine.
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
mkdir -p "$work/dtmp"; chmod 1777 "$work/dtmp"
TMPDIR="$work/dtmp" distccd --daemon --listen 127.0.0.1 --port "$port" --allow 127.0.0.1 \
  --allow-compiler gcc --pid-file "$work/distccd.pid" --log-file "$work/distccd.log"

export DISTCC_DIR="$work/distcc-dir" DISTCC_HOSTS="127.0.0.1:$port/4,lzo"
mkdir -p "$DISTCC_DIR"
time make -s -C "$work/lua" -j4 linux CC="distcc gcc"

sources=$(find "$work/lua/src" -name '*.o' | wc -l)
remote=$(grep -c COMPILE_OK "$work/distccd.log" || true)
echo "objects built: $sources, compiled remotely by distccd: $remote"
"$work/lua/src/lua" -e 'print("lua built with distcc-py: " .. _VERSION)'
[ "$remote" -eq "$sources" ] || { echo "some compiles did not run remotely" >&2; exit 1; }

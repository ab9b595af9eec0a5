#!/bin/sh
# Install the Debian packages a target needs when they are missing.
#   scripts/system-deps.sh run   → nothing beyond Python for the app itself
#   scripts/system-deps.sh test  → PostgreSQL 15, Chromium (browser tests), poppler-utils
set -eu
case "${1:-run}" in
  run)  PKGS="" ;;
  test) PKGS="postgresql-15 chromium poppler-utils" ;;
  *) echo "usage: $0 run|test" >&2; exit 2 ;;
esac
missing=""
for p in $PKGS; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "Installing Debian packages:$missing"
if [ "$(id -u)" -eq 0 ]; then SUDO=""; elif command -v sudo >/dev/null; then SUDO="sudo"; else
  echo "error: need root (or sudo) to install:$missing" >&2; exit 1; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get install -y --no-install-recommends $missing >/dev/null 2>&1 || {
  $SUDO apt-get update >/dev/null && $SUDO apt-get install -y --no-install-recommends $missing; }

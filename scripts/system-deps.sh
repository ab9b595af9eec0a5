#!/bin/sh
# Install the Debian packages a target needs when they are missing.
#   scripts/system-deps.sh run   → PDF documents: WeasyPrint's libraries (Pango, which brings
#                                  fontconfig and HarfBuzz), HarfBuzz's subsetter (without it
#                                  every PDF costs ~10 s more) and the Chinese fonts
#   scripts/system-deps.sh test  → the above, plus PostgreSQL 15, Chromium (browser tests) and
#                                  poppler-utils (the PDF tests read the PDFs back with pdftotext)
set -eu
RUN_PKGS="fonts-noto-cjk libharfbuzz-subset0 libpango-1.0-0 libpangoft2-1.0-0"
case "${1:-run}" in
  run)  PKGS="$RUN_PKGS" ;;
  test) PKGS="$RUN_PKGS postgresql-15 chromium poppler-utils" ;;
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

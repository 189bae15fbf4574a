#!/usr/bin/env bash
# Install everything gridwatch needs on a Debian machine with Python 3.11: Debian packages (as root),
# a virtual environment in .venv with the project and its test tools, and the real footage used by
# tests and the evaluation. Safe to run again: it only does what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(
  ffmpeg postgresql
  gstreamer1.0-tools gstreamer1.0-rtsp gir1.2-gst-rtsp-server-1.0 python3-gi
  gstreamer1.0-plugins-good gstreamer1.0-plugins-bad gstreamer1.0-plugins-ugly gstreamer1.0-libav
  chromium chromium-driver
  # A CJK font, so headless Chromium draws the console's Chinese (else every character is an empty
  # box in the browser tests' screenshots); WenQuanYi Micro Hei: 1.6 MB, against 57 MB for Noto CJK.
  fonts-wqy-microhei
)
missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing Debian packages: ${missing[*]}"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

PYTHON="${PYTHON:-python3}"
"$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
  || { echo "setup: gridwatch needs Python 3.11 or newer ($PYTHON is older)"; exit 1; }
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install -q --disable-pip-version-check -U pip
.venv/bin/python -m pip install -q --disable-pip-version-check -e ".[dev]"

bash scripts/fetch_footage.sh
echo "setup: done (.venv ready)"

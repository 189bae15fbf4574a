#!/usr/bin/env bash
# Real footage from Debian's opencv-doc package (a fixed outdoor camera over a road crossing), taken
# out of the .deb without installing the 96 MB package. Used by tests and the evaluation set.
set -euo pipefail
cd "$(dirname "$0")/.."
dest=data/footage/vtest.avi
[ -s "$dest" ] && exit 0
mkdir -p data/footage
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && apt-get download opencv-doc >/dev/null 2>&1 || { apt-get update -qq && apt-get download opencv-doc >/dev/null; })
dpkg-deb --fsys-tarfile "$tmp"/opencv-doc_*.deb \
  | tar -x -C "$tmp" ./usr/share/doc/opencv-doc/examples/data/vtest.avi
mv "$tmp/usr/share/doc/opencv-doc/examples/data/vtest.avi" "$dest"
echo "fetch_footage: $dest"

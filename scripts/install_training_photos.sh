#!/usr/bin/env bash
# Install the Debian wallpaper packages whose photographs are the training set, then copy those
# photos into data/photos/{train,val}/ with a manifest. Safe to run again: installed packages and
# identical copies are left alone. Needs root for apt-get (only if a package is missing).
set -euo pipefail
cd "$(dirname "$0")/.."
pkgs=(lomiri-wallpapers-16.04 lomiri-wallpapers-20.04 mate-backgrounds plasma-workspace-wallpapers palapeli-data)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "error: run as root to install: ${missing[*]}" >&2
    exit 1
  fi
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
PY=.venv/bin/python
[ -x "$PY" ] || PY=python3
"$PY" scripts/prepare_photos.py "$@"

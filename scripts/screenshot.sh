#!/usr/bin/env bash
# Screenshots of the real window under a virtual X server: Train (mid-run) and Upscale, light and dark.
# Usage: scripts/screenshot.sh [OUT_DIR] [light|dark ...]   (default /tmp/srgan-shots, both themes)
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-/tmp/srgan-shots}"
shift || true
display=":99"
Xvfb "$display" -screen 0 1600x1000x24 >/dev/null 2>&1 &
xvfb_pid=$!
trap 'kill "$xvfb_pid" 2>/dev/null || true' EXIT
for _ in $(seq 50); do
  xdpyinfo -display "$display" >/dev/null 2>&1 && break || sleep 0.1
done
DISPLAY="$display" QT_QPA_PLATFORM=xcb .venv/bin/python scripts/screenshot_driver.py "$out" "$@"

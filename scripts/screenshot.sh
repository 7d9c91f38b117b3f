#!/usr/bin/env bash
# Screenshots of the real window under a virtual X server: Train (a run in its GAN phase), the Runs list and
# Upscale, in the light and dark themes at 1600x1000 and 1024x700 (see scripts/screenshot_driver.py).
# Usage: scripts/screenshot.sh [OUT_DIR] [--themes light dark] [--sizes 1600x1000 1024x700]
#        (default OUT_DIR /tmp/srgan-shots; PYTHON overrides the interpreter, default .venv/bin/python)
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-/tmp/srgan-shots}"
shift || true
number_file="$(mktemp)"
Xvfb -displayfd 3 -screen 0 1700x1100x24 3>"$number_file" >/dev/null 2>&1 &  # a free display number
xvfb_pid=$!
trap 'kill "$xvfb_pid" 2>/dev/null || true; rm -f "$number_file"' EXIT
for _ in $(seq 100); do
  [ -s "$number_file" ] && break || sleep 0.1
done
display=":$(head -n 1 "$number_file")"
xdpyinfo -display "$display" >/dev/null
DISPLAY="$display" QT_QPA_PLATFORM=xcb "${PYTHON:-.venv/bin/python}" scripts/screenshot_driver.py "$out" "$@"

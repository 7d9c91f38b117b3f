#!/usr/bin/env bash
# Debian packages the app can use, installed when missing (as root), else named in a warning:
#   scripts/system-deps.sh            Qt's libraries for a real window (xcb) and, for screenshots, Xvfb.
#                                     Headless tests (QT_QPA_PLATFORM=offscreen) need none of them.
#   scripts/system-deps.sh --vulkan   the Vulkan loader and Mesa's drivers, software device (llvmpipe)
#                                     included, so ncnn's Vulkan path runs and is tested (`make test`);
#                                     without them those tests skip with the reason.
# A failure here only warns.
set -u
if [ "${1:-}" = "--vulkan" ]; then
  shift
  pkgs=(libvulkan1 mesa-vulkan-drivers "$@")
  purpose="ncnn's Vulkan path and its tests"
else
  pkgs=(libegl1 libgl1 libxkbcommon0 libxkbcommon-x11-0 libfontconfig1 libdbus-1-3 libglib2.0-0
        libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 libxcb-image0 libxcb-render-util0 libxcb-shape0
        libxcb-xinerama0 libxcb-randr0 libxcb-xkb1 "$@")
  purpose="the window"
fi
command -v dpkg-query >/dev/null 2>&1 || exit 0
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "warning: missing system packages (install them for $purpose): ${missing[*]}" >&2
  exit 0
fi
echo "installing system packages: ${missing[*]}"
apt-get update -qq >/dev/null 2>&1 || true
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null 2>&1 \
  || echo "warning: could not install: ${missing[*]}" >&2
exit 0

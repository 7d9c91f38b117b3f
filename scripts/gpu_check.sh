#!/usr/bin/env bash
# The GPU check on a machine with no internet: the wheels in .whl/ (`make gpu-wheels` fills it; pure-Python
# packages such a machine may lack) are installed into a scratch folder first, then scripts/gpu_check.py
# runs with it on the path. Usage: scripts/gpu_check.sh OUT [gpu_check.py options]
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:?usage: scripts/gpu_check.sh OUT [options]}
shift
python=${PYTHON:-python3}
if compgen -G ".whl/*.whl" >/dev/null; then
    site=$(mktemp -d "${TMPDIR:-/tmp}/gpu-check-site.XXXXXX")
    "$python" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target "$site" .whl/*.whl
    export PYTHONPATH="$site${PYTHONPATH:+:$PYTHONPATH}"
fi
export PYTHONUNBUFFERED=1
exec "$python" scripts/gpu_check.py "$out" "$@"

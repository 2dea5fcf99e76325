#!/usr/bin/env bash
# bench/torch_pypi.sh — the current PyTorch from PyPI in a virtual environment of its own
# (~/.cache/faceforge/torch-pypi, or $FF_TORCH_PYPI), for the speed comparisons of
# bench/run_cpu_bench.sh beside Debian's torch 1.13. Installs once (torch with its CUDA wheels is
# ~4 GB; only its CPU side is used here) and prints the interpreter's path. TORCH_VERSION picks
# another release (default: the one docs/results.md measured).
set -euo pipefail
VENV=${FF_TORCH_PYPI:-$HOME/.cache/faceforge/torch-pypi}
VERSION=${TORCH_VERSION:-2.15.0}
if [ -x "$VENV/bin/python" ] && "$VENV/bin/python" -c "import torch, torchvision, sys; sys.exit(torch.__version__.split('+')[0] != '$VERSION')" 2>/dev/null; then
  echo "$VENV/bin/python"
  exit 0
fi
echo "== torch_pypi: installing torch==$VERSION and torchvision into $VENV (once; about 4 GB)" >&2
python3 -m venv "$VENV" >&2
"$VENV/bin/pip" install -q "torch==$VERSION" torchvision numpy >&2
"$VENV/bin/python" -c "import torch; print('== torch_pypi:', torch.__version__, file=__import__('sys').stderr)"
echo "$VENV/bin/python"

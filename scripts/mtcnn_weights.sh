#!/usr/bin/env bash
# scripts/mtcnn_weights.sh [OUT] — facenet-pytorch's trained MTCNN as a faceforge detector file
# (default build/mtcnn.safetensors): downloads the facenet-pytorch 2.6.0 wheel (no dependencies)
# into ~/.cache/faceforge, checks its sha256 (pinned), unpacks it and converts its P-Net, R-Net and
# O-Net weights with tools/convert_mtcnn.py (Debian's /usr/bin/python3 with python3-torch).
# Idempotent: does nothing when OUT exists and is newer than the wheel and the converter.
# The unpacked wheel also serves tools/make_mtcnn_reference.py and tools/facenet_mtcnn_detect.py
# (PYTHONPATH=~/.cache/faceforge/facenet-pytorch-2.6.0).
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-build/mtcnn.safetensors}
CACHE=${FF_CACHE:-$HOME/.cache/faceforge}
WHEEL=facenet_pytorch-2.6.0-py3-none-any.whl
SHA256=ecb82b27beb226d106f2219efe8f829b01b87a8595badd01545679bdb9f19cca
DIR=$CACHE/facenet-pytorch-2.6.0
mkdir -p "$CACHE" "$(dirname "$OUT")"
if [ -f "$OUT" ] && [ "$OUT" -nt "$CACHE/$WHEEL" ] && [ "$OUT" -nt tools/convert_mtcnn.py ]; then
  echo "== mtcnn weights: $OUT is up to date"
  exit 0
fi
if [ ! -f "$CACHE/$WHEEL" ] || ! echo "$SHA256  $CACHE/$WHEEL" | sha256sum -c --status; then
  echo "== mtcnn weights: downloading $WHEEL"
  rm -f "$CACHE/$WHEEL"
  PIP=(python3 -m pip)
  python3 -m pip --version > /dev/null 2>&1 || PIP=(pip3)
  "${PIP[@]}" download --quiet --no-deps --dest "$CACHE" facenet-pytorch==2.6.0
fi
if ! echo "$SHA256  $CACHE/$WHEEL" | sha256sum -c --status; then
  echo "mtcnn_weights.sh: $CACHE/$WHEEL has sha256 $(sha256sum "$CACHE/$WHEEL" | cut -d' ' -f1), expected $SHA256" >&2
  exit 1
fi
rm -rf "$DIR.tmp"
mkdir -p "$DIR.tmp"
/usr/bin/python3 -c 'import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])' "$CACHE/$WHEEL" "$DIR.tmp"
rm -rf "$DIR"
mv "$DIR.tmp" "$DIR"
/usr/bin/python3 tools/convert_mtcnn.py "$DIR/facenet_pytorch/data" "$OUT"

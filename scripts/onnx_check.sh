#!/usr/bin/env bash
# scripts/onnx_check.sh [DEMO_OUT] — ONNX export checked by ONNX Runtime (docs/onnx.md): the
# demo's three networks (DEMO_OUT, default build/py_demo; a `faceforge demo --quick` is made there
# when it is missing) exported with `faceforge export`, each with a reference batch of real faces
# from ../shared/data/celeba_subset, then tools/check_onnx.py (onnx.checker, ONNX Runtime at batch
# 1 and N, every output within 1e-4 of faceforge's). `python3` must have pip: the script installs
# onnxruntime and onnx from PyPI when missing. Expects build/faceforge (scripts/build.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
DEMO=${1:-build/py_demo}
DATA=../shared/data/celeba_subset
OUT=build/onnx_check
if [ ! -d "$DATA" ]; then
  echo "   skipped: needs $DATA (real faces for the reference batches)"
  exit 0
fi
[ -f "$DEMO/faceforge_demo.txt" ] || build/faceforge demo --quick --out "$DEMO" > "$DEMO.log" 2>&1
rm -rf "$OUT"
mkdir -p "$OUT"
pairs=()
for net in embed landmarks detector; do
  build/faceforge export --model "$DEMO/$net/best.safetensors" --out "$OUT/$net.onnx" \
    --reference "$OUT/$net.ref.safetensors" --reference-data "$DATA" --reference-count 8 | sed 's/^/   /'
  pairs+=("$OUT/$net.onnx" "$OUT/$net.ref.safetensors")
done
python3 tools/check_onnx.py "${pairs[@]}" 2>&1 | grep -v "Running pip as the 'root' user" | sed 's/^/   /'
exit "${PIPESTATUS[0]}"

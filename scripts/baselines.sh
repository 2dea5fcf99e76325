#!/usr/bin/env bash
# scripts/baselines.sh [DATA [OUT [THREADS]]] — the classical face detectors beside ours: installs
# dlib and OpenCV (scripts/setup.sh baselines), builds ff_baselines (tools/baseline_detectors.cpp)
# and the faceforge command, runs dlib's HOG detector and OpenCV's Haar cascade over a CelebA-format
# folder (default ../shared/data/celeba_wild_val) on THREADS threads (default 2: one photo per
# core, two cores), writes OUT/dlib_hog.json and OUT/opencv_haar.json (default OUT: results/) and
# scores each with `faceforge eval-detector --detections` into OUT/eval_<name>/.
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${1:-../shared/data/celeba_wild_val}
OUT=${2:-results}
THREADS=${3:-2}
BUILD=${BUILD:-build}
bash scripts/setup.sh baselines
cmake -S . -B "$BUILD" -G Ninja -DFF_CUDA="${FF_CUDA:-AUTO}" ${CMAKE_ARGS:-} | grep -E "faceforge:|Error" || true
cmake --build "$BUILD" -j "${JOBS:-2}" --target ff_baselines faceforge_cli
mkdir -p "$OUT"
for m in dlib_hog opencv_haar; do
  echo "== $m on $DATA ($THREADS threads)"
  "$BUILD/ff_baselines" --data "$DATA" --method "$m" --out "$OUT/$m.json" --threads "$THREADS"
  "$BUILD/faceforge" eval-detector --data "$DATA" --detections "$OUT/$m.json" --out "$OUT/eval_$m"
done

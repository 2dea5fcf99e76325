#!/usr/bin/env bash
# scripts/build.sh [BUILD_DIR] — configure and build faceforge (CUDA backend where nvcc, cuBLAS
# and cuDNN are found; FF_CUDA=OFF in the environment forces CPU only).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
cmake -S . -B "$BUILD" -G Ninja -DFF_CUDA="${FF_CUDA:-AUTO}" ${CMAKE_ARGS:-} | grep -E "faceforge:|Error" || true
cmake --build "$BUILD" -j "$(nproc)"

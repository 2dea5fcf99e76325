#!/usr/bin/env bash
# scripts/build.sh [BUILD_DIR [TARGET...]] — configure and build faceforge: every target, or only
# the ones named (e.g. faceforge_cli, the command). CUDA backend where nvcc, cuBLAS and cuDNN are
# found; FF_CUDA=OFF in the environment forces CPU only; CMAKE_ARGS adds configure flags.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
shift || true
targets=()
for t in "$@"; do targets+=(--target "$t"); done
cmake -S . -B "$BUILD" -G Ninja -DFF_CUDA="${FF_CUDA:-AUTO}" ${CMAKE_ARGS:-} | grep -E "faceforge:|Error" || true
cmake --build "$BUILD" -j "$(nproc)" "${targets[@]}"

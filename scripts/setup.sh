#!/usr/bin/env bash
# scripts/setup.sh [demo|test|bench|baselines] — install the Debian packages one use of faceforge needs (run
# as root or with sudo; a no-op when everything is present). Each set includes the one before it:
#   demo   building the faceforge command (compiler, CMake, OpenBLAS, oneDNN, stb, libjpeg-turbo, zlib, JSON, CLI11,
#          Cairo, ONNX and protobuf for `faceforge export`)
#   test   + GoogleTest, Google Benchmark (the benchmarks are compiled by the tests' build too),
#          and Debian's PyTorch (python3-torch, torchvision, numpy: the tests generate reference data),
#          pip (scripts/mtcnn_weights.sh downloads facenet-pytorch's wheel for its MTCNN weights),
#          clang with its sanitizer/libFuzzer runtimes and OpenMP (scripts/fuzz.sh builds the fuzz targets)
#          pybind11 and Python's headers (the Python module, python/), pytest (tests/python/), and
#          Jupyter's nbconvert, kernel and matplotlib (CI executes docs/notebooks/pipeline.ipynb)
#   bench  + OpenCV's Python module (bench/run_cpu_bench.sh compares our warp with cv2.warpAffine)
#   baselines  demo + dlib and OpenCV for C++ and OpenCV's cascades: the classical face detectors
#          of tools/baseline_detectors.cpp (scripts/baselines.sh)
# CUDA (nvcc, cuBLAS, cuDNN) is not installed here: where it exists under /usr/local/cuda the CUDA
# backend is built too.
set -euo pipefail
WHAT=${1:-test}
DEMO=(build-essential cmake ninja-build pkg-config libopenblas-dev libdnnl-dev libstb-dev libturbojpeg0-dev zlib1g-dev nlohmann-json3-dev libcli11-dev
      libcairo2-dev fonts-dejavu-core libonnx-dev libprotobuf-dev)
TEST=(libgtest-dev libbenchmark-dev python3-torch python3-torchvision python3-numpy python3-pip clang libclang-rt-dev libomp-dev
      pybind11-dev python3-dev python3-pytest jupyter-nbconvert python3-nbformat python3-ipykernel python3-matplotlib)
BENCH=(python3-opencv)
BASELINES=(libdlib-dev libopencv-dev opencv-data)
case "$WHAT" in
  demo) PKGS=("${DEMO[@]}") ;;
  test) PKGS=("${DEMO[@]}" "${TEST[@]}") ;;
  bench) PKGS=("${DEMO[@]}" "${TEST[@]}" "${BENCH[@]}") ;;
  baselines) PKGS=("${DEMO[@]}" "${BASELINES[@]}") ;;
  *) echo "setup.sh: unknown set '$WHAT' (demo, test, bench or baselines)" >&2; exit 2 ;;
esac
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]} == 0)); then
  echo "== setup ($WHAT): every package is present"
  exit 0
fi
SUDO=""
[ "$(id -u)" = 0 ] || SUDO=sudo
echo "== setup ($WHAT): installing ${missing[*]} (with their dependencies)"
echo "   apt-get update ..."
$SUDO apt-get update -qq
# How much comes down, then one line per package set up, so a long install is never silent.
$SUDO apt-get install -s --no-install-recommends "${missing[@]}" 2>/dev/null |
  awk '/^Inst /{n++} END{printf "   %d packages to install\n", n}'
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}" |
  awk '/^Setting up /{n++; printf "   [%d] %s\n", n, $3; fflush()} /^E: /{print; fflush()}'
echo "== setup ($WHAT): done"

#!/usr/bin/env bash
# bench/run_cpu_bench.sh [BUILD_DIR] — our CPU benchmarks and PyTorch CPU on the same shapes and
# thread count, one table; CSV in bench_results/cpu.csv. Then the affine warp against OpenCV's
# cv2.warpAffine (bench/opencv_warp_bench.py), CSV in bench_results/warp.csv; the embedding loader
# against PyTorch's DataLoader (bench/torch_loader_bench.py, loader.csv); the whole networks against
# Debian's and PyPI's torch, interleaved rounds (bench/nets_compare.py, cpu_nets.csv; ROUNDS=3).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
bash scripts/setup.sh bench
bash scripts/build.sh "$BUILD" ff_bench
THREADS=${THREADS:-$(nproc)}
mkdir -p bench_results
OMP_NUM_THREADS=$THREADS OPENBLAS_NUM_THREADS=$THREADS "$BUILD/ff_bench" --benchmark_format=json \
  --benchmark_out=bench_results/cpu_ours.json --benchmark_min_time=0.3 --benchmark_filter=-BM_Net >/dev/null
/usr/bin/python3 bench/torch_cpu_bench.py bench_results/cpu_ours.json --threads "$THREADS" --csv bench_results/cpu.csv
/usr/bin/python3 bench/opencv_warp_bench.py bench_results/cpu_ours.json --threads "$THREADS" --csv bench_results/warp.csv
/usr/bin/python3 bench/torch_loader_bench.py bench_results/cpu_ours.json --csv bench_results/loader.csv
# Whole networks: each case in a process of its own (its peak memory), ours and each torch in turn,
# ROUNDS times, medians — against Debian's torch 1.13 and the current PyPI torch
# (bench/torch_pypi.sh installs it once). Both sides inherit OMP_WAIT_POLICY (default PASSIVE here).
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-PASSIVE}
PYPI=$(bash bench/torch_pypi.sh)
OMP_NUM_THREADS=$THREADS /usr/bin/python3 bench/nets_compare.py --ff "$BUILD/ff_bench" --rounds "${ROUNDS:-3}" \
  --threads "$THREADS" --torch debian=/usr/bin/python3 --torch "pypi=$PYPI" --csv bench_results/cpu_nets.csv

#!/usr/bin/env bash
# bench/run_cpu_bench.sh [BUILD_DIR] — our CPU benchmarks and PyTorch CPU on the same shapes and
# thread count, one table; CSV in bench_results/cpu.csv. Then the affine warp against OpenCV's
# cv2.warpAffine (bench/opencv_warp_bench.py), CSV in bench_results/warp.csv.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
bash scripts/setup.sh bench
bash scripts/build.sh "$BUILD" ff_bench
THREADS=${THREADS:-$(nproc)}
mkdir -p bench_results
OMP_NUM_THREADS=$THREADS OPENBLAS_NUM_THREADS=$THREADS "$BUILD/ff_bench" --benchmark_format=json \
  --benchmark_out=bench_results/cpu_ours.json --benchmark_min_time=0.3 >/dev/null
/usr/bin/python3 bench/torch_cpu_bench.py bench_results/cpu_ours.json --threads "$THREADS" --csv bench_results/cpu.csv
/usr/bin/python3 bench/opencv_warp_bench.py bench_results/cpu_ours.json --threads "$THREADS" --csv bench_results/warp.csv
/usr/bin/python3 bench/torch_nets_bench.py bench_results/cpu_ours.json --threads "$THREADS" --csv bench_results/cpu_nets.csv

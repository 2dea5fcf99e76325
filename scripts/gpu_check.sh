#!/usr/bin/env bash
# scripts/gpu_check.sh — the one prepared GPU check, for a machine with an NVIDIA GPU (written for
# one H200: CUDA 13, 16 cores, no network). Builds the CUDA backend for sm_90, runs every test
# (GPU tests included), runs the GPU benchmarks (ours FP32 and TF32, PyTorch in the same run) and
# prints one table. Everything it prints also lands in $OUT (or gpu_check_out/) for docs/gpu-log.md.
#   bash scripts/gpu_check.sh            # about 4-7 minutes
# It must end within 8 minutes on one H200: every step after the build runs under `timeout` with
# what is left of GPU_CHECK_LIMIT seconds (default 460) since the start, and a step with under 20 s
# left is skipped with a message. The benchmarks' repeats are sized for that (ff_bench_cuda --list).
set -uo pipefail
cd "$(dirname "$0")/.."
START=$(date +%s)
LIMIT=${GPU_CHECK_LIMIT:-460}
# left: seconds of the budget that remain (0 when spent).
left() { local l=$(( LIMIT - ($(date +%s) - START) )); echo $(( l > 0 ? l : 0 )); }
# budgeted CMD...: runs CMD under the remaining budget, or skips it with a message.
budgeted() {
  local l; l=$(left)
  if [ "$l" -lt 20 ]; then echo "SKIPPED (time budget spent): $*"; return 124; fi
  timeout --kill-after=5 "$l" "$@"
  local rc=$?
  [ $rc -eq 124 ] && echo "TIMED OUT (time budget): $*"
  return $rc
}
OUT=${OUT:-gpu_check_out}
mkdir -p "$OUT"
exec > >(tee "$OUT/gpu_check.log") 2>&1
echo "== gpu_check $(date -u +%Y-%m-%dT%H:%M:%SZ) commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || true

# cuDNN may exist only inside the Python wheel nvidia-cudnn-cu13 (site-packages/nvidia/cudnn).
if [ -z "${CUDNN_ROOT:-}" ] && [ ! -e /usr/local/cuda/include/cudnn.h ]; then
  CUDNN_ROOT=$(python3 -c 'import nvidia.cudnn, os; print(os.path.dirname(nvidia.cudnn.__file__) if nvidia.cudnn.__file__ else list(nvidia.cudnn.__path__)[0])' 2>/dev/null || true)
fi
if [ -n "${CUDNN_ROOT:-}" ]; then
  echo "cuDNN: $CUDNN_ROOT"
  export LD_LIBRARY_PATH="$CUDNN_ROOT/lib:${LD_LIBRARY_PATH:-}"
fi
# cuBLAS may also come from a wheel (nvidia/cu13/lib or nvidia/cublas/lib).
for d in $(python3 -c 'import nvidia, os; [print(os.path.join(p, q, "lib")) for p in nvidia.__path__ for q in os.listdir(p)]' 2>/dev/null); do
  [ -d "$d" ] && export LD_LIBRARY_PATH="$d:$LD_LIBRARY_PATH"
done

t0=$(date +%s)
cmake -S . -B build-gpu -G Ninja -DFF_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90 ${CUDNN_ROOT:+-DCUDNN_ROOT=$CUDNN_ROOT} \
  -DCMAKE_BUILD_TYPE=Release > "$OUT/cmake.log" 2>&1 || { tail -30 "$OUT/cmake.log"; exit 1; }
cmake --build build-gpu -j "$(nproc)" > "$OUT/build.log" 2>&1 || { grep -E "error|Error" "$OUT/build.log" | head -40; exit 1; }
echo "build: $(( $(date +%s) - t0 )) s"

echo "== tests"
budgeted ./build-gpu/ff_tests --gtest_brief=1 > "$OUT/tests.log" 2>&1
rc=$?
[ $rc -eq 124 ] && echo "ff_tests did not finish within the time budget"
grep -E "^\[  (PASSED|FAILED|SKIPPED) |tests? from .* ran" "$OUT/tests.log" | head -60
grep -E "^\[  FAILED  \]" "$OUT/tests.log" | head -40
echo "ff_tests exit code: $rc"

echo "== GPU benchmarks (faceforge, CUDA events, L2 flushed)"
budgeted ./build-gpu/ff_bench_cuda --csv "$OUT/ours_fp32.csv"
budgeted ./build-gpu/ff_bench_cuda --tf32 --csv "$OUT/ours_tf32.csv"
echo "== PyTorch baseline, same cases"
budgeted python3 bench/torch_gpu_bench.py --csv "$OUT/torch_fp32.csv"
budgeted python3 bench/torch_gpu_bench.py --tf32 --csv "$OUT/torch_tf32.csv"
# Every benchmark writes its CSV rows as it goes: a run cut short keeps what it measured.
cat "$OUT/ours_fp32.csv" > "$OUT/ours.csv" 2>/dev/null; tail -n +2 "$OUT/ours_tf32.csv" >> "$OUT/ours.csv" 2>/dev/null
cat "$OUT/torch_fp32.csv" > "$OUT/torch.csv" 2>/dev/null; tail -n +2 "$OUT/torch_tf32.csv" >> "$OUT/torch.csv" 2>/dev/null
echo "== summary table"
python3 bench/torch_gpu_bench.py --compare "$OUT/ours.csv" "$OUT/torch.csv" | tee "$OUT/table.txt"
echo "== total $(( $(date +%s) - START )) s (budget ${LIMIT} s)"
exit $rc

#!/usr/bin/env bash
# scripts/gpu_check.sh — the one prepared GPU check, for a bare machine with an NVIDIA GPU (written
# for one H200: CUDA 13 driver, cuBLAS and cuDNN on the system or as Python wheels, 16 cores, no
# network, none of our Debian packages). It configures nothing: it runs the programs that
# scripts/gpu_bundle.sh built on the CPU machine (build-gpu/carry/ff-gpu-bundle.tar.gz, unpacked
# here into build-gpu/bundle/), from the repository root:
#
#   here:   bash scripts/gpu_bundle.sh                       # build, check, pack (~90 MB -> ~30 MB)
#   device: run(command="bash scripts/gpu_check.sh", carry=["build-gpu/carry"], timeout_s=600)
#
# Stages, each under `timeout` (its cap, and never past GPU_CHECK_LIMIT=460 s since the start
# less 15 s kept for the table), so that the table always prints, within the 8 minutes:
#   0. unpack the bundle; find cuBLAS and cuDNN (/usr/local/cuda, the system, else the wheels'
#      nvidia/*/lib) and put ONLY those libraries (and NVRTC) on LD_LIBRARY_PATH, through a folder
#      of links: never the wheels' libcudart (review I2; ours is linked in); print the versions
#      loaded against the headers built with (ff_gpu_libs), nvidia-smi, ldd.
#   a. the GPU tests ($GPU_FILTER) in a process of their own, CUDA_LAUNCH_BLOCKING=1, so a faulting
#      kernel is reported at its launch (review C3); each failed test is then rerun alone, so a
#      test failed by an earlier test's sticky CUDA error shows as such.                 cap 100 s
#   b. the CUDA op cases, then the other GPU kernel tests, under compute-sanitizer memcheck,
#      leaving 180 s for what follows.                                              cap 90 + 50 s
#   d. the benchmarks, ours (ff_bench_cuda) and PyTorch's (bench/torch_gpu_bench.py, python3
#      there), interleaved: ours FP32, torch FP32, ours TF32, torch TF32.     cap 75, 75, 60, 60 s
#   c. the CPU tests (everything else; CI runs them too: here only if 30 s are left).     cap 60 s
#   then the comparison table (bench/torch_gpu_bench.py --compare).
# Files in $OUT (at most 8 come back; these are 7): gpu_check.log (all the console shows, with the
# first failure blocks of each test log), tests_gpu.log, memcheck.log, tests_cpu.log, ours.csv,
# torch.csv, table.txt. Exit status 0 when every stage that ran passed.
#
# Without a GPU (nvidia-smi finds none) the same stages run as far as they can: the GPU tests
# skip with "needs a CUDA device", memcheck is skipped, ff_bench_cuda and the PyTorch script say
# "no CUDA device" and ff_bench_cuda --dry-run runs every benchmark case at tiny sizes on the
# CPU, the CPU tests run, and the table prints without GPU numbers. That is the dry run that
# proved the bundle (docs/gpu-log.md, 2026-12-02), in a Debian bookworm chroot that has none of
# our packages, no GPU and no driver, with cuBLAS/cuDNN laid out as the wheels lay them out:
#   mkdir /work/chroot-gpu && tar -xf /work/chroot/pristine.tar -C /work/chroot-gpu
#   W=/opt/torch/.venv/lib/python3.12/site-packages/nvidia; R=/work/chroot-gpu
#   mkdir -p $R$W/cu13/lib $R$W/cudnn/lib $R/repo $R/proc && mount -t proc proc $R/proc
#   cp -L /usr/local/cuda/lib64/lib{cublas,cublasLt,cudart,nvrtc}.so.13 \
#         /usr/local/cuda/lib64/libnvrtc-builtins.so.13* $R$W/cu13/lib/
#   cp -L /usr/local/cuda/lib64/libcudnn*.so.9 $R$W/cudnn/lib/
#   (git ls-files; git ls-files --others --exclude-standard; echo build-gpu/carry) |
#     tar -cf - -T - | tar -xf - -C $R/repo                   # the tree + the carry, nothing else
#   chroot $R /usr/bin/env -i PATH=/usr/bin:/bin HOME=/root OUT=/tmp/out \
#     bash -c 'cd /repo && bash scripts/gpu_check.sh'
# then the same with a python3 (Debian's python3.11-minimal, libpython3.11-{minimal,stdlib} and
# libexpat1 files copied in, python3 in /usr/local/bin, no torch; PATH=/usr/local/bin:/usr/bin:/bin
# PYTHONPATH=/opt/torch/.venv/lib/python3.12/site-packages), and once with /fake first on PATH
# holding a fake nvidia-smi (lists "GPU 0") and a fake compute-sanitizer (runs the program) to
# walk the GPU branch's control flow, GPU_FILTER='*Cuda*:Convert.*' so that a test fails.
set -uo pipefail
cd "$(dirname "$0")/.."
START=$(date +%s)
LIMIT=${GPU_CHECK_LIMIT:-460}
RESERVE=15
OUT=${OUT:-gpu_check_out}
mkdir -p "$OUT"
exec > >(tee "$OUT/gpu_check.log") 2>&1
TEE_PID=$!
WORK=$(mktemp -d "${TMPDIR:-/tmp}/ff_gpu_check.XXXXXX")
finish() { exec 1>&- 2>&-; wait "$TEE_PID" 2>/dev/null; rm -rf "$WORK"; }
trap finish EXIT
# The GPU tests: every test with Cuda/CUDA/Device in its name, and the tests that check CUDA
# after CPU parts. Verified against `ff_tests --gtest_list_tests` and the skips of a run without
# a device (stage c warns about any test outside this filter that skips for want of a device).
GPU_FILTER=${GPU_FILTER:-'*Cuda*:*CUDA*:*Device*:NormBatchNorm.BadInputsNameTheOp:Warp.RejectsBadArguments'}
MEMCHECK_OPS='Ops/OpCaseTest.CudaVsCpu/*'
MEMCHECK_SLOW='TrainTiny.*:Autograd.DeviceMemoryDoesNotGrowOver100Steps'  # 100 steps under memcheck: too long
FAILED=()   # stages that failed, for the exit status and the last lines
KEEP=0      # seconds a stage must leave for the stages after it (memcheck leaves the benchmarks 180)

left() { local l=$(( LIMIT - ($(date +%s) - START) )); echo $(( l > 0 ? l : 0 )); }
# stage CAP NAME LOG CMD...: runs CMD under timeout min(CAP, time left - RESERVE - KEEP), output into
# LOG ('-': the console); prints the exit status and the seconds it took. Returns CMD's status,
# 124 when stopped by the time box or skipped for want of time.
stage() {
  local cap=$1 name=$2 log=$3; shift 3
  local box=$(( $(left) - RESERVE - KEEP )); [ "$box" -gt "$cap" ] && box=$cap
  if [ "$box" -lt 10 ]; then echo "-- $name: SKIPPED (time budget spent)"; return 124; fi
  local t=$(date +%s) rc
  if [ "$log" = - ]; then timeout --kill-after=5 "$box" "$@"; else timeout --kill-after=5 "$box" "$@" >> "$log" 2>&1; fi
  rc=$?
  echo "-- $name: exit $rc in $(( $(date +%s) - t )) s (time box $box s)$([ $rc = 124 ] || [ $rc = 137 ] && echo ', TIMED OUT')"
  [ $rc = 137 ] && rc=124
  return $rc
}
# gsummary LOG: one line of counts from a GoogleTest log (the per-test result lines) and the
# skip reasons (the message line after "Skipped"; tests/test_util.h's three forms).
gsummary() {
  awk '/^\[ RUN      \]/ { run++; last = $4 }
       /^\[       OK \] .* \([0-9]+ ms\)$/ { ok++; last = "" }
       /^\[  FAILED  \] .* \([0-9]+ ms\)$/ { bad++; last = "" }
       /^\[  SKIPPED \] .* \([0-9]+ ms\)$/ { skip++; last = "" }
       /: Skipped$/ { if ((getline m) > 0) { r = m; sub(/:.*/, "", r); why[r]++ } }
       END { printf "%d ran: %d passed, %d failed, %d skipped", run, ok, bad, skip
             for (r in why) printf "%s%s: %d", (k++ ? "; " : " ("), r, why[r]
             if (k) printf ")"
             if (last != "") printf "; DIED (no result) in %s", last
             printf "\n" }' "$1"
}
# failure_blocks LOG N: the output of the first N failed tests, 40 lines each.
failure_blocks() {
  awk -v n="$2" '/^\[ RUN      \]/ { buf = $0 "\n"; lines = 1; next }
                 /^\[  FAILED  \] .* \([0-9]+ ms\)$/ { if (shown++ < n) printf "%s%s\n", buf, $0; buf = ""; next }
                 { if (lines++ < 40) buf = buf $0 "\n" }' "$1"
}
failed_tests() { sed -n 's/^\[  FAILED  \] \([^ ,]*\).* ([0-9]* ms)$/\1/p' "$1"; }

echo "== gpu_check $(date -u +%Y-%m-%dT%H:%M:%SZ), tree at $(git rev-parse --short HEAD 2>/dev/null || echo '(no git)'), limit ${LIMIT} s"
HAVE_GPU=0
if command -v nvidia-smi > /dev/null && nvidia-smi -L 2>/dev/null | grep -q '^GPU'; then
  HAVE_GPU=1
  nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv,noheader
else
  echo "no GPU: nvidia-smi $(command -v nvidia-smi > /dev/null && echo 'lists none' || echo 'is absent') (a dry run: GPU stages skip)"
fi
echo "$(. /etc/os-release 2>/dev/null; echo "${PRETTY_NAME:-unknown OS}"), $(uname -r), $(nproc) cores, glibc $(ldd --version 2>/dev/null | head -1 | awk '{print $NF}')"
export OMP_WAIT_POLICY=PASSIVE  # spinning OpenMP threads starve OpenBLAS's (scripts/test.sh)

# ---------------------------------------------------------------- 0. the bundle and the libraries
BUNDLE=${FF_GPU_BUNDLE_DIR:-build-gpu/bundle}
TGZ=build-gpu/carry/ff-gpu-bundle.tar.gz
if [ -f "$TGZ" ] && ! cmp -s build-gpu/carry/VERSIONS "$BUNDLE/VERSIONS"; then
  rm -rf "$BUNDLE"
  t=$(date +%s)
  tar -xzf "$TGZ" -C "$(dirname "$BUNDLE")" || { echo "cannot unpack $TGZ"; exit 1; }
  echo "unpacked $TGZ ($(du -sh "$TGZ" | cut -f1)) into $BUNDLE in $(( $(date +%s) - t )) s"
fi
BIN=$BUNDLE/bin
if [ -x "$BIN/ff_tests" ]; then
  echo "bundle: $(tr '\n' ';' < "$BUNDLE/VERSIONS")"
  head=$(git rev-parse --short HEAD 2>/dev/null)
  case "$(head -1 "$BUNDLE/VERSIONS")" in
    "commit $head") ;;
    *) echo "NOTE: bundle built from $(head -1 "$BUNDLE/VERSIONS"), tree at ${head:-(no git here)}: tests, data or scripts may differ" ;;
  esac
else
  # Fallback (needs the Debian packages that a bare GPU machine lacks): build from source here.
  echo "no bundle at $BUNDLE (scripts/gpu_bundle.sh makes it; carry build-gpu/carry): building from source"
  BIN=build-gpu/src
  stage 300 "source build" "$WORK/build.log" bash -c "cmake -S . -B $BIN -G Ninja -DFF_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90 &&
    cmake --build $BIN -j$(nproc) --target ff_tests ff_bench_cuda faceforge_cli" ||
    { grep -E 'Error|error|Could NOT' "$WORK/build.log" | head -30; exit 1; }
fi

# cuBLAS, cuDNN and NVRTC: the first directory that has each, the system's before the wheels'.
FF_CUDA_LIB_DIRS=${FF_CUDA_LIB_DIRS:-}
DIRS=(${FF_CUDA_LIB_DIRS//:/ } /usr/local/cuda/lib64 /usr/local/cuda/targets/x86_64-linux/lib /usr/local/cuda/lib
      /usr/lib/x86_64-linux-gnu)
if command -v python3 > /dev/null; then
  DIRS+=($(python3 -c 'import nvidia, os; print(*[os.path.join(p, q, "lib") for p in nvidia.__path__ for q in sorted(os.listdir(p))])' 2>/dev/null))
fi
DIRS+=(/opt/*/.venv/lib/python3*/site-packages/nvidia/*/lib /usr/local/lib/python3*/dist-packages/nvidia/*/lib
       /usr/lib/python3/dist-packages/nvidia/*/lib)
first_dir() { local d; for d in "${DIRS[@]}"; do [ -e "$d/$1" ] && { echo "$d"; return 0; }; done; return 1; }
LIBS=$WORK/cuda-libs
mkdir -p "$LIBS"
# link_libs WHAT KEY GLOB: links the files matching GLOB of the first directory holding KEY.
link_libs() {
  local d f n=0
  if ! d=$(first_dir "$2"); then echo "$1: NOT FOUND ($2) in: ${DIRS[*]}"; return 1; fi
  for f in "$d"/$3; do [ -e "$f" ] && ln -sf "$f" "$LIBS/$(basename "$f")" && n=$((n + 1)); done
  echo "$1: $d ($n files: $(cd "$d" && ls $3 | tr '\n' ' '))"
}
link_libs cuBLAS libcublas.so.13 'libcublas*.so.13' || FAILED+=("cuBLAS not found")
link_libs cuDNN libcudnn_ops.so.9 'libcudnn*.so.9' || FAILED+=("cuDNN not found")
link_libs NVRTC libnvrtc.so.13 'libnvrtc*.so.13*'  # cuDNN's runtime-compiled engines only
export LD_LIBRARY_PATH=$LIBS${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
if [ -f "$BUNDLE/fonts/DejaVuSans.ttf" ]; then  # the charts' face, whatever fonts this machine has
  printf '<?xml version="1.0"?>\n<fontconfig><dir>%s</dir><cachedir>%s</cachedir></fontconfig>\n' \
    "$PWD/$BUNDLE/fonts" "$WORK/fontconfig" > "$WORK/fonts.conf"
  export FONTCONFIG_FILE=$WORK/fonts.conf
fi
echo "LD_LIBRARY_PATH=$LD_LIBRARY_PATH: $(ls "$LIBS" | tr '\n' ' ')"
if [ -x "$BIN/ff_gpu_libs" ]; then
  "$BIN/ff_gpu_libs" || FAILED+=("libraries (ff_gpu_libs)")
fi
for p in "$BIN"/ff_tests "$BIN"/ff_bench_cuda "$BIN"/faceforge; do
  echo "ldd $p: $(ldd "$p" 2>&1 | awk '/not found/ || /cublas|cudnn|cairo|libcuda/ { printf "%s %s %s; ", $1, $2, $3 }')"
  ldd "$p" 2>&1 | grep -q 'not found' && FAILED+=("ldd $p")
done
[ "$HAVE_GPU" = 1 ] && command -v compute-sanitizer > /dev/null && compute-sanitizer --version | tail -1
echo "setup: $(( $(date +%s) - START )) s"

# ---------------------------------------------------------------- a. GPU tests, own process
echo "== a. GPU tests (--gtest_filter=$GPU_FILTER), CUDA_LAUNCH_BLOCKING=1"
CUDA_LAUNCH_BLOCKING=1 stage 100 "GPU tests" "$OUT/tests_gpu.log" "$BIN/ff_tests" --gtest_filter="$GPU_FILTER" --gtest_color=no
rc=$?
echo "GPU tests: $(gsummary "$OUT/tests_gpu.log")"
if [ $rc != 0 ]; then
  FAILED+=("GPU tests")
  failure_blocks "$OUT/tests_gpu.log" 3
  if [ "$HAVE_GPU" = 1 ]; then
    echo "-- the failed GPU tests again, each alone (passing alone: failed by an earlier test's sticky error)"
    for t in $(failed_tests "$OUT/tests_gpu.log" | head -10); do
      echo "=== alone: $t" >> "$OUT/tests_gpu.log"
      if CUDA_LAUNCH_BLOCKING=1 stage 30 "alone $t" "$OUT/tests_gpu.log" "$BIN/ff_tests" --gtest_filter="$t" --gtest_color=no; then
        echo "   $t PASSES alone: it failed after an earlier test's error (sticky CUDA error?)"
      else
        echo "   $t fails alone too"
      fi
    done
  fi
fi

# ---------------------------------------------------------------- b. memcheck
echo "== b. compute-sanitizer memcheck: $MEMCHECK_OPS, then the other GPU tests but $MEMCHECK_SLOW"
CS=$(command -v compute-sanitizer || ls /usr/local/cuda/bin/compute-sanitizer /usr/local/cuda/compute-sanitizer/compute-sanitizer 2>/dev/null | head -1)
if [ "$HAVE_GPU" != 1 ] || [ -z "$CS" ]; then
  echo "memcheck: SKIPPED ($([ "$HAVE_GPU" != 1 ] && echo 'no GPU' || echo 'no compute-sanitizer'))" | tee "$OUT/memcheck.log"
else
  : > "$OUT/memcheck.log"
  KEEP=180
  for part in "$MEMCHECK_OPS" "$GPU_FILTER:-$MEMCHECK_OPS:$MEMCHECK_SLOW"; do
    echo "=== memcheck --gtest_filter=$part" >> "$OUT/memcheck.log"
    stage $([ "$part" = "$MEMCHECK_OPS" ] && echo 90 || echo 50) "memcheck $part" "$OUT/memcheck.log" \
      "$CS" --tool memcheck --leak-check no --report-api-errors no --print-limit 200 --error-exitcode 86 \
      "$BIN/ff_tests" --gtest_filter="$part" --gtest_color=no
    rc=$?
    [ $rc = 86 ] && FAILED+=("memcheck errors ($part)")
    [ $rc != 0 ] && [ $rc != 86 ] && [ $rc != 124 ] && FAILED+=("memcheck run ($part): exit $rc")
  done
  KEEP=0
  echo "memcheck: $(grep -c '^=========   *Invalid\|^========= Invalid' "$OUT/memcheck.log") invalid accesses; $(grep 'ERROR SUMMARY' "$OUT/memcheck.log" | tr '\n' ' ')"
  grep -m3 'Device not supported\|error 999' "$OUT/memcheck.log" && echo "memcheck: this machine's runtime refuses the sanitizer (gVisor?): its failures say nothing of our kernels"
  grep -m1 -B2 -A12 'Invalid\|Race\|Uninitialized' "$OUT/memcheck.log" | head -40
  echo "memcheck tests: $(gsummary "$OUT/memcheck.log")"
fi

# ---------------------------------------------------------------- d. benchmarks
echo "== d. benchmarks: ours and PyTorch's, FP32 then TF32"
: > "$WORK/ours.csv"; : > "$WORK/torch.csv"
if [ "$HAVE_GPU" = 1 ]; then
  for math in fp32 tf32; do
    flag=$([ $math = tf32 ] && echo --tf32)
    cap=$([ $math = tf32 ] && echo 60 || echo 75)
    stage $cap "ff_bench_cuda $math" - "$BIN/ff_bench_cuda" $flag --csv "$WORK/ours_$math.csv" || FAILED+=("ff_bench_cuda $math")
    if ! command -v python3 > /dev/null; then echo "-- torch_gpu_bench $math: SKIPPED (no python3)"; continue; fi
    PYTHONUNBUFFERED=1 stage $cap "torch_gpu_bench $math" - python3 bench/torch_gpu_bench.py $flag --csv "$WORK/torch_$math.csv" ||
      FAILED+=("torch_gpu_bench $math")
  done
else
  stage 20 "ff_bench_cuda (no GPU: must say so)" - "$BIN/ff_bench_cuda"
  stage 90 "ff_bench_cuda --dry-run (every case, tiny sizes, CPU; numbers meaningless)" - "$BIN/ff_bench_cuda" --dry-run ||
    FAILED+=("ff_bench_cuda --dry-run")
  if command -v python3 > /dev/null; then
    stage 30 "torch_gpu_bench (no GPU: must say so)" - python3 bench/torch_gpu_bench.py --csv "$WORK/torch_fp32.csv"
  else
    echo "-- torch_gpu_bench: SKIPPED (no python3 here)"
  fi
fi
for side in ours torch; do  # one CSV per side, FP32 rows then TF32 rows, one header
  for math in fp32 tf32; do
    f=$WORK/${side}_$math.csv
    [ -s "$f" ] || continue
    if [ -s "$WORK/$side.csv" ]; then tail -n +2 "$f" >> "$WORK/$side.csv"; else cat "$f" > "$WORK/$side.csv"; fi
  done
  cp "$WORK/$side.csv" "$OUT/$side.csv"
done

# ---------------------------------------------------------------- c. CPU tests
echo "== c. CPU tests (--gtest_filter=-$GPU_FILTER)"
CPU_FILTER="-$GPU_FILTER"
if ! /usr/bin/python3 -c 'import torch' 2> /dev/null; then
  CPU_FILTER="$CPU_FILTER:Convert.*:ModelParity.ReferenceSizesEvalMode"
  echo "left out: Convert.*, ModelParity.ReferenceSizesEvalMode (they run Debian's /usr/bin/python3 with torch, absent here; CI runs them)"
fi
: > "$OUT/tests_cpu.log"
if [ $(( $(left) - RESERVE )) -ge 30 ]; then
  # 60 s on the GPU machine's 16 cores; without a GPU (a dry run, the stages before took seconds)
  # whatever is left.
  stage $([ "$HAVE_GPU" = 1 ] && echo 60 || echo 400) "CPU tests" "$OUT/tests_cpu.log" "$BIN/ff_tests" --gtest_filter="$CPU_FILTER" --gtest_color=no || FAILED+=("CPU tests")
  echo "CPU tests: $(gsummary "$OUT/tests_cpu.log")"
  failure_blocks "$OUT/tests_cpu.log" 3
  # Any test outside GPU_FILTER that skips for want of a device belongs in it (and in stage a).
  missed=$(awk '/^\[ RUN      \]/ { t = $4 } /^needs a CUDA device/ { print t }' "$OUT/tests_cpu.log" | sort -u | tr '\n' ' ')
  [ -n "$missed" ] && { echo "WARNING: GPU tests outside GPU_FILTER: $missed"; FAILED+=("GPU_FILTER misses $missed"); }
else
  echo "-- CPU tests: SKIPPED (under 30 s left)" | tee "$OUT/tests_cpu.log"
fi

# ---------------------------------------------------------------- the table
echo "== summary table"
if command -v python3 > /dev/null; then
  timeout 20 python3 bench/torch_gpu_bench.py --compare "$OUT/ours.csv" "$OUT/torch.csv" > "$OUT/table.txt" 2>&1
else
  { echo "(no python3 here: the rows as measured)"; echo "ours:"; cat "$OUT/ours.csv"; echo "torch:"; cat "$OUT/torch.csv"; } > "$OUT/table.txt"
  [ -s "$OUT/ours.csv" ] || [ -s "$OUT/torch.csv" ] || echo "(no rows: no GPU numbers were measured)" >> "$OUT/table.txt"
fi
cat "$OUT/table.txt"
for f in "$OUT"/*; do  # a file over 16 MiB does not come back: keep its head
  [ "$(stat -c %s "$f")" -gt $(( 15 << 20 )) ] && truncate -s 15M "$f" && echo "(truncated $f to 15 MiB)"
done
echo "== $(ls "$OUT" | wc -l) files in $OUT: $(ls "$OUT" | tr '\n' ' ')"
echo "== total $(( $(date +%s) - START )) s (limit ${LIMIT} s); $([ ${#FAILED[@]} = 0 ] && echo 'every stage that ran passed' || { printf 'FAILED:'; printf ' [%s]' "${FAILED[@]}"; })"
[ ${#FAILED[@]} = 0 ]

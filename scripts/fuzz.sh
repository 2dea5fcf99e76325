#!/usr/bin/env bash
# scripts/fuzz.sh [SECONDS] — the fuzz targets of tests/fuzz/ (docs/reliability.md): builds them
# in build-fuzz (clang, ASan + UBSan, libFuzzer; CPU only), replays every input that ever failed
# (tests/fuzz/regressions/TARGET/) and the seed corpus, then fuzzes each target for SECONDS
# (default 60; 0: replay only). New inputs that add coverage gather in build-fuzz/corpus/TARGET
# (seeded from tests/fuzz/corpus/TARGET, which stays as it is); an input that fails is kept in
# build-fuzz/artifacts/TARGET/ and the run fails, with the line that replays it. A fixed failure
# stays in tests/fuzz/regressions/TARGET/ for good (copy the artifact there).
# Needs clang and libclang-rt (scripts/setup.sh test installs them).
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_PER_TARGET=${1:-60}
BUILD=${FF_FUZZ_BUILD:-build-fuzz}
TARGETS=(safetensors model image celeba config)
echo "== fuzz: building $BUILD (clang, ASan + UBSan, libFuzzer)"
t0=$(date +%s)
CC=clang CXX=clang++ cmake -S . -B "$BUILD" -G Ninja -DFF_FUZZ=ON -DFF_CUDA=OFF -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  ${CMAKE_ARGS:-} > "$BUILD.configure.log" 2>&1 || { tail -20 "$BUILD.configure.log"; exit 1; }
mv "$BUILD.configure.log" "$BUILD/configure.log"
if ! cmake --build "$BUILD" -j "$(nproc)" --target ff_fuzz > "$BUILD/build.log" 2>&1; then
  tail -40 "$BUILD/build.log"
  echo "fuzz: the targets did not build (log: $BUILD/build.log)"
  exit 1
fi
echo "   built in $(( $(date +%s) - t0 )) s"
# Bounds of one input: what a file from a user may cost. rss_limit: the process's memory (a
# 100-byte file that makes us allocate gigabytes is a finding); timeout: seconds per input.
# detect_leaks: an ff::Error unwinding through a half-built object is not a leak we can act on
# here (LeakSanitizer runs in the ordinary ASan stage of scripts/test.sh instead).
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0:allocator_may_return_null=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
# OpenMP threads and OpenBLAS's: one (libFuzzer runs one input at a time).
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
# Real CelebA photos and list rows make seeds too, when this checkout has them; CelebA may not be
# redistributed, so they stay out of the repository (tests/fuzz/make_seeds.py --real).
REAL=$BUILD/corpus-real
REAL_DATA=${FF_FUZZ_REAL_DATA:-../shared/data/celeba_subset}
rm -rf "$REAL"
if [ -f "$REAL_DATA/identity_CelebA.txt" ] && [ -d "$REAL_DATA/img_celeba" ]; then
  python3 tests/fuzz/make_seeds.py --real "$REAL_DATA" "$REAL"
  echo "   seeds from $REAL_DATA added to the working corpus"
fi
status=0
for t in "${TARGETS[@]}"; do
  bin=$BUILD/fuzz_$t
  seeds=tests/fuzz/corpus/$t
  regressions=tests/fuzz/regressions/$t
  dict=tests/fuzz/$t.dict
  work=$BUILD/corpus/$t
  artifacts=$BUILD/artifacts/$t
  mkdir -p "$work" "$artifacts"
  seed_dirs=("$seeds")
  [ -d "$REAL/$t" ] && seed_dirs+=("$REAL/$t")
  opts=(-rss_limit_mb=2048 -malloc_limit_mb=1024 -timeout=20 -max_len=400000 -print_final_stats=1
        "-artifact_prefix=$artifacts/")
  [ -f "$dict" ] && opts+=("-dict=$dict")
  # 1. Every regression, one by one (each must now pass), and the seeds.
  replay=()
  [ -d "$regressions" ] && mapfile -t replay < <(find "$regressions" -type f | sort)
  mapfile -t -O "${#replay[@]}" replay < <(find "${seed_dirs[@]}" -type f | sort)
  if ! "$bin" "${opts[@]}" -runs=1 "${replay[@]}" > "$BUILD/replay_$t.txt" 2>&1; then
    grep -E "ERROR|runtime error|broken promise|Running:" "$BUILD/replay_$t.txt" | tail -8
    echo "== fuzz $t: a corpus or regression input FAILS (log: $BUILD/replay_$t.txt)"
    status=1
    continue
  fi
  n_reg=0
  [ -d "$regressions" ] && n_reg=$(find "$regressions" -type f | wc -l)
  n_seed=$(find "${seed_dirs[@]}" -type f | wc -l)
  if [ "$SECONDS_PER_TARGET" = 0 ]; then
    echo "== fuzz $t: $n_reg regressions and $n_seed seeds replayed, all pass"
    continue
  fi
  # 2. Fuzz for the time given, from the seeds and what earlier runs here found.
  t1=$(date +%s)
  set +e
  "$bin" "${opts[@]}" -max_total_time="$SECONDS_PER_TARGET" "$work" "${seed_dirs[@]}" > "$BUILD/fuzz_$t.txt" 2>&1
  rc=$?
  set -e
  runs=$(grep -oE 'stat::number_of_executed_units: [0-9]+' "$BUILD/fuzz_$t.txt" | grep -oE '[0-9]+$' || echo "?")
  # coverage: edges reached by the seeds (INITED) and at the end (DONE)
  cov0=$(grep -oE 'INITED[[:space:]]+cov: [0-9]+' "$BUILD/fuzz_$t.txt" | grep -oE '[0-9]+$' | head -1 || true)
  cov=$(grep -oE 'DONE[[:space:]]+cov: [0-9]+' "$BUILD/fuzz_$t.txt" | grep -oE '[0-9]+$' | tail -1 || true)
  [ -n "$cov" ] && cov="${cov0:-?} -> $cov edges"
  if [ "$rc" != 0 ]; then
    grep -E "ERROR|runtime error|broken promise|SUMMARY|Test unit written" "$BUILD/fuzz_$t.txt" | head -12
    art=$(grep -oE "Test unit written to [^ ]+" "$BUILD/fuzz_$t.txt" | tail -1 | sed 's/Test unit written to //')
    echo "== fuzz $t: FAILED after $(( $(date +%s) - t1 )) s (log: $BUILD/fuzz_$t.txt)"
    [ -n "$art" ] && echo "   replay: $bin $art   (once fixed: cp $art $regressions/)"
    status=1
  else
    echo "== fuzz $t: $n_reg regressions and $n_seed seeds pass; ${runs} inputs in $(( $(date +%s) - t1 )) s${cov:+, coverage $cov}, 0 failures"
  fi
done
exit $status
